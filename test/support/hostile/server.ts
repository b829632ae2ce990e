import { spawn } from 'node:child_process'
import WebSocket from 'ws'
import { ROOT, type ServerProcess } from '../process.js'

export interface InspectableServer extends Omit<ServerProcess, 'url'> {
  /** Runs a full, memory-reducing garbage collection in the server, as a quiet moment would. */
  collectGarbage(): Promise<void>
  /** The server's V8 heap in use (process.memoryUsage().heapUsed), in bytes. */
  heapUsed(): Promise<number>
}

/**
 * Runs `src/main.ts` as its own OS process, as test/support/process.ts's spawnServer does, with
 * its inspector on a loopback port, so that a test can ask it for a full garbage collection
 * before reading its RSS and heap: what stays is then what the server keeps, not garbage V8 has
 * not yet collected. Nothing is attached in between.
 */
export function spawnInspectableServer(env: Record<string, string | undefined>): InspectableServer {
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  let resolveInspector: (url: string) => void
  const inspector = new Promise<string>((resolve) => (resolveInspector = resolve))
  const onData = (chunk: Buffer) => {
    output += chunk.toString()
    const match = /Debugger listening on (ws:\/\/\S+)/.exec(output)
    if (match) resolveInspector(match[1]!)
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

  /** Sends one inspector command in a session of its own and resolves with its result. */
  async function command(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const ws = new WebSocket(await inspector)
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', resolve)
        ws.once('error', reject)
      })
      return await new Promise<unknown>((resolve, reject) => {
        ws.on('message', (data) => {
          const message = JSON.parse((data as Buffer).toString()) as { id?: number; result?: unknown; error?: unknown }
          if (message.id !== 1) return
          if (message.error) reject(new Error(`${method}: ${JSON.stringify(message.error)}`))
          else resolve(message.result)
        })
        ws.send(JSON.stringify({ id: 1, method, params }))
      })
    } finally {
      ws.close()
    }
  }

  return {
    child,
    output: () => output,
    exited,
    collectGarbage: async () => void (await command('HeapProfiler.collectGarbage')),
    heapUsed: async () => {
      const result = (await command('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true })) as { result: { value: number } }
      return result.result.value
    },
  }
}
