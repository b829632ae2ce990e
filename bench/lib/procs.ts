/** Child processes of a benchmark run: servers (with bench/probe.ts preloaded) and load generators. */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import type { Job } from '../loadgen.js'
import { freePort } from '../../src/infra/dynamodb/launcher.js'
import { sleep } from './stats.js'
import { within } from '../../test/support/process.js'
import { startRedisServer } from '../../test/support/redis-server.js'

export const ROOT = path.resolve(import.meta.dirname, '../..')

/**
 * Servers and load generators run as compiled JavaScript, as in production (`npm start`), never
 * through tsx: its esbuild transform keeps function names by defining `name` on every closure,
 * which gives each one a property store (about 256 bytes) and costs a call per closure made.
 */
const BUILD_DIR = 'bench/.build'

/** Compiles src/ and bench/ into bench/.build (incremental: seconds when little changed). */
export function buildForBench(): void {
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc')
  const result = spawnSync(process.execPath, [tsc, '-p', 'bench/tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`tsc -p bench/tsconfig.build.json failed:\n${result.stdout}${result.stderr}`)
}

/** Where a script of this repository (relative to ROOT) is in the compiled tree. */
const built = (script: string) => `${BUILD_DIR}/${script.replace(/\.ts$/, '.js')}`

/**
 * Runs a standalone bench script's `main` and exits with its outcome: the DynamoDB clients'
 * keep-alive sockets and the children's handles would otherwise keep the process alive after it.
 */
export function runToExit(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    },
  )
}

/** Every child this run started, so that an interrupted run still ends them (by pid, one by one). */
const children = new Set<ChildProcess>()

export function killAllChildren(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

export interface ProbeReply {
  mem: NodeJS.MemoryUsage
  cpu: NodeJS.CpuUsage
  /** ('cpu' probes) the server's stalls since the previous 'cpu' probe */
  stalls?: ServerStalls
  gcExposed: boolean
}

export interface ServerStalls {
  /** longest event-loop delay */
  loopMaxMs: number
  /** longest garbage-collection pause, and all of them */
  gcMaxMs: number
  gcMs: number
  gcCount: number
}

export interface ServerProc {
  name: string
  port: number
  /** http://127.0.0.1:port */
  base: string
  child: ChildProcess
  output(): string
  probe(type: 'mem' | 'cpu' | 'prof-start' | 'prof-stop' | 'heap', file?: string): Promise<ProbeReply>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>
}

export interface StartOptions {
  name: string
  /** script relative to ROOT */
  script: string
  env: Record<string, string | undefined>
  startTimeoutMs?: number
}

export async function startServer(options: StartOptions): Promise<ServerProc> {
  const port = await freePort()
  const execArgv = [
    '--expose-gc',
    '--max-old-space-size=6144',
    // The young generation at its usual 64-bit maximum from the start, in every server alike: V8
    // grows it (by up to 32 MB) as allocation picks up, and whether that happened before or after
    // the empty-server baseline would otherwise swing "memory per connection" from run to run.
    '--min-semi-space-size=16',
    '--max-semi-space-size=16',
    '--import',
    `./${BUILD_DIR}/bench/probe.js`,
    built(options.script),
  ]
  const child = spawn(process.execPath, execArgv, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_NO_WARNINGS: '1',
      ...options.env,
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  children.add(child)
  let output = ''
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_000)
  }
  child.stdout!.on('data', collect)
  child.stderr!.on('data', collect)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  void exited.then(() => children.delete(child))

  let probeSeq = 0
  const pending = new Map<number, (reply: ProbeReply) => void>()
  child.on('message', (message) => {
    // bench/probe.ts answers a probe with { type: 'probe', id, ...reply }
    const answer = message as (ProbeReply & { type?: unknown; id: number }) | null
    if (answer?.type === 'probe') pending.get(answer.id)?.(answer)
  })

  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000)
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${options.name} exited with ${child.exitCode} while starting:\n${output}`)
    try {
      const response = await fetch(`${base}/healthz`)
      if (response.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${options.name} did not answer /healthz within the start timeout:\n${output}`)
    }
    await sleep(150)
  }

  return {
    name: options.name,
    port,
    base,
    child,
    output: () => output,
    probe(type, file) {
      const id = ++probeSeq
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`${options.name}: no probe answer`))
        }, 60_000)
        pending.set(id, (reply) => {
          clearTimeout(timer)
          pending.delete(id)
          resolve(reply)
        })
        child.send({ type, id, file })
      })
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    },
  }
}

export interface LoadGen {
  run<T>(job: Job, timeoutMs?: number): Promise<T>
  stop(): Promise<void>
  pid: number
}

export function startLoadGen(): LoadGen {
  const child = fork(path.join(ROOT, built('bench/loadgen.ts')), [], {
    cwd: ROOT,
    execArgv: ['--max-old-space-size=6144'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  children.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  void exited.then(() => children.delete(child))
  let seq = 0
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  child.on('message', (message) => {
    // bench/loadgen.ts answers a job with { id, result } or { id, error }
    const answer = message as { id: number; result?: unknown; error?: string }
    const waiter = pending.get(answer.id)
    if (!waiter) return
    pending.delete(answer.id)
    if (answer.error) waiter.reject(new Error(`loadgen: ${answer.error}`))
    else waiter.resolve(answer.result)
  })
  child.once('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`loadgen exited with ${code}`))
    pending.clear()
  })
  return {
    pid: child.pid!,
    run<T>(job: Job, timeoutMs = 300_000): Promise<T> {
      const id = ++seq
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`loadgen job ${job.type} timed out after ${timeoutMs} ms`))
        }, timeoutMs)
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer)
            resolve(v as T)
          },
          reject: (e) => {
            clearTimeout(timer)
            reject(e)
          },
        })
        child.send({ id, job })
      })
    },
    async stop() {
      if (child.exitCode !== null) return
      try {
        child.send({ id: ++seq, job: { type: 'exit' } })
      } catch {
        // channel already closed
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** A redis-server of the caller's own on a free port (INFO and PUBSUB then tell about this run alone). */
export async function startOwnRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort()
  const child = await within(startRedisServer(port), 10_000, 'redis-server to start')
  return { url: `redis://127.0.0.1:${port}`, stop: () => void child.kill('SIGKILL') }
}

/** Resolves once the server at `url` answers /readyz with 200. */
export async function whenReady(url: string): Promise<void> {
  while (!(await fetch(`${url}/readyz`).then((res) => res.ok, () => false))) await sleep(200)
}
