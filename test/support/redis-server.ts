import { spawn, type ChildProcess } from 'node:child_process'

/**
 * A redis-server of a test's (or bench's) own on 127.0.0.1:`port`, nothing kept on disk: for
 * suites that stop, freeze or count it, which the shared Redis must not feel. Resolves once it
 * accepts connections.
 */
export function startRedisServer(port: number, extraArgs: string[] = []): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs]
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve(child)
    })
  })
}
