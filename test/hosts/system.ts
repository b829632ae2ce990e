import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

/** Runs a command to completion; throws with its output when it fails. */
export function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`)
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr.trim() || result.stdout.trim()}`)
  return result.stdout
}

/** Runs a command and reports whether it succeeded (for clean-ups of what may not exist). */
export function attempt(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0
}

/** What the multi-host suite needs; it fails with every missing piece named, and never skips. */
export function requirePrerequisites(): void {
  const problems: string[] = []
  if (process.getuid?.() !== 0) problems.push('it must run as root (network namespaces, veth, a bridge, iptables)')
  const tools: Array<[string, string[], string]> = [
    ['ip', ['-V'], 'iproute2'],
    ['iptables', ['--version'], 'iptables'],
    ['haproxy', ['-v'], 'haproxy'],
    ['redis-server', ['--version'], 'redis-server'],
    ['java', ['-version'], 'openjdk-17-jre-headless'],
  ]
  for (const [tool, args, pkg] of tools) {
    if (!attempt(tool, args)) problems.push(`${tool} is missing (Debian package ${pkg})`)
  }
  if (problems.length > 0) {
    throw new Error(`The multi-host suite cannot run: ${problems.join('; ')}. Run it as root with: apt-get install -y haproxy iptables iproute2 redis-server openjdk-17-jre-headless`)
  }
}

/** A TCP port free on `address` (the bridge address is the suite's own, so nothing else binds it). */
export function freePortOn(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, address, () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` every `everyMs` until it returns a value other than undefined, or throws after `ms`. */
export async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined> | T | undefined, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/**
 * A child process of the suite with its output kept (the tail), for failure messages. Every child
 * is recorded in a state file by pid and command, so that a run killed before its clean-up had
 * run has its leftovers ended by the next run's setup (only those pids, and only while they still
 * run the recorded command).
 */
export class Child {
  private tail = ''
  readonly exited: Promise<number | null>

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString()).slice(-200_000)
    }
    process.stdout?.on('data', keep)
    process.stderr?.on('data', keep)
    this.exited = new Promise((resolve) => process.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))))
    if (process.pid !== undefined) remember(process.pid, process.spawnargs.join(' '))
  }

  static spawn(name: string, command: string, args: string[], env: Record<string, string | undefined> = {}): Child {
    const child = spawn(command, args, { env: { PATH: globalThis.process.env.PATH, HOME: globalThis.process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    return new Child(name, child)
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null
  }

  output(): string {
    return this.tail
  }

  /** Waits until the output matches, failing early (with the output) if the process exits. */
  async waitForOutput(pattern: RegExp, ms: number): Promise<RegExpExecArray> {
    return waitFor(`${this.name} to print ${pattern}`, ms, () => {
      const match = pattern.exec(this.tail)
      if (match) return match
      if (!this.running) throw new Error(`${this.name} exited (${this.process.exitCode ?? this.process.signalCode}) before printing ${pattern}:\n${this.tail.slice(-4000)}`)
      return undefined
    }, 50)
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = 5_000): Promise<void> {
    if (!this.running) return
    this.process.kill(signal)
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
    forget(this.process.pid)
  }
}

const STATE_FILE = path.join(os.tmpdir(), 'hush-hosts-children.json')

function readState(): Array<{ pid: number; command: string }> {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as Array<{ pid: number; command: string }>
  } catch {
    return []
  }
}

function remember(pid: number, command: string): void {
  writeFileSync(STATE_FILE, JSON.stringify([...readState().filter((entry) => entry.pid !== pid), { pid, command }]))
}

function forget(pid: number | undefined): void {
  writeFileSync(STATE_FILE, JSON.stringify(readState().filter((entry) => entry.pid !== pid)))
}

/** Ends the children a previous, interrupted run recorded and left running. */
export function endLeftoverChildren(): void {
  for (const { pid, command } of readState()) {
    const cmdline = `/proc/${pid}/cmdline`
    if (!existsSync(cmdline)) continue
    const running = readFileSync(cmdline, 'utf8').split('\0').filter(Boolean).join(' ')
    if (running === command) {
      try {
        globalThis.process.kill(pid, 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }
  }
  writeFileSync(STATE_FILE, '[]')
}
