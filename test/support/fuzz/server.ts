import { readFileSync } from 'node:fs'
import { freePort, spawnServer, within, type ServerProcess } from '../process.js'

/**
 * The Hush server under fuzz: `src/main.ts` as its own process (as `npm start` runs it), its log
 * read line by line, its resident memory read from /proc.
 */

export interface LogLine {
  level: number
  msg: string
  raw: string
}

/** Known noise on stderr: the AWS SDK's notice about Node 20. */
const KNOWN_STDERR = /NodeVersionSupportWarning|trace-warnings/

export class FuzzServer {
  /** Lines at error level or above (pino: 50 error, 60 fatal), with the case that was running. */
  readonly errorLines: Array<LogLine & { during: string }> = []
  /** Warnings, for the report. */
  readonly warnLines: Array<LogLine & { during: string }> = []
  /** stderr lines that are not JSON and not known noise (a Node warning, a stack trace). */
  readonly strayLines: Array<{ line: string; during: string }> = []
  /** What is running now, to attribute log lines to it. */
  during = 'start'
  private consumed = 0
  private exitCode: number | null | undefined = undefined

  private constructor(
    readonly process: ServerProcess,
    readonly url: string,
  ) {
    void process.exited.then((code) => (this.exitCode = code))
  }

  /**
   * Starts the server on a free port and waits for /healthz: at LOG_LEVEL=warn it does not log
   * that it listens.
   */
  static async start(env: Record<string, string | undefined>): Promise<FuzzServer> {
    const port = await freePort()
    const child = spawnServer({ ...env, PORT: String(port) })
    const server = new FuzzServer(child, `http://${env.HOST ?? '127.0.0.1'}:${port}`)
    const deadline = Date.now() + 60_000
    while (!(await server.healthy(1_000))) {
      if (server.exited !== undefined || Date.now() > deadline) {
        await server.stop()
        throw new Error(`the fuzz server did not start (exit ${server.exited}):\n${child.output().slice(-3_000)}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return server
  }

  get pid(): number {
    return this.process.child.pid!
  }

  /** Undefined while the process runs; its exit code (or null for a signal) once it ended. */
  get exited(): number | null | undefined {
    return this.exitCode
  }

  /** Reads the log lines written since the last call. */
  drainLog(): void {
    const output = this.process.output()
    const end = output.lastIndexOf('\n') + 1
    if (end <= this.consumed) return
    const lines = output.slice(this.consumed, end).split('\n')
    this.consumed = end
    for (const raw of lines) {
      if (raw.trim() === '') continue
      if (!raw.startsWith('{')) {
        if (/^\s+at |Warning:|Error:|Uncaught|FATAL/.test(raw) && !KNOWN_STDERR.test(raw)) this.strayLines.push({ line: raw, during: this.during })
        continue
      }
      let parsed: { level?: unknown; msg?: unknown }
      try {
        parsed = JSON.parse(raw) as { level?: unknown; msg?: unknown }
      } catch {
        this.strayLines.push({ line: raw, during: this.during })
        continue
      }
      const level = typeof parsed.level === 'number' ? parsed.level : 0
      const line = { level, msg: typeof parsed.msg === 'string' ? parsed.msg : '', raw, during: this.during }
      if (level >= 50) this.errorLines.push(line)
      else if (level >= 40) this.warnLines.push(line)
    }
  }

  /** Resident memory of the server process, in bytes. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    if (!match) throw new Error(`no VmRSS in /proc/${this.pid}/status`)
    return Number(match[1]) * 1024
  }

  /** True when /healthz answers 200 within `ms`. */
  async healthy(ms = 5_000): Promise<boolean> {
    if (this.exitCode !== undefined) return false
    try {
      const response = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(ms) })
      await response.text()
      return response.status === 200
    } catch {
      return false
    }
  }

  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return
    this.process.child.kill('SIGTERM')
    await within(this.process.exited, 20_000, 'fuzz server exit').catch(() => this.process.child.kill('SIGKILL'))
  }
}
