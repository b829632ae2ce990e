import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
export { freePort } from '../../src/infra/dynamodb/launcher.js'

export const ROOT = path.resolve(import.meta.dirname, '../..')

export interface ServerProcess {
  child: ChildProcess
  output: () => string
  /** The URL the server logged once it listens. */
  url: Promise<string>
  exited: Promise<number | null>
}

/**
 * Runs Hush as its own OS process, exactly as `npm start` does: from the sources through tsx, or
 * (`entry: 'dist'`) from the build `npm run build` made, where CPU is measured.
 */
export function spawnServer(env: Record<string, string | undefined>, entry: 'src' | 'dist' = 'src'): ServerProcess {
  const args = entry === 'dist' ? ['--enable-source-maps', 'dist/main.js'] : ['--import', 'tsx', 'src/main.ts']
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  let resolveUrl: (url: string) => void
  const url = new Promise<string>((resolve) => (resolveUrl = resolve))
  const onData = (chunk: Buffer) => {
    output += chunk.toString()
    const match = /"url":"(http:\/\/[^"]+)\/graphql".*Hush is listening/.exec(output)
    if (match) resolveUrl(match[1]!)
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, output: () => output, url, exited }
}

export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
