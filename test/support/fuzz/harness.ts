import { describeHttp, httpProblems, sendHttp, type HttpAnswer, type HttpCase, type SentOperation } from './http.js'
import { normalize, preview, Violations } from './oracle.js'
import type { FuzzServer } from './server.js'
import { describeScript, runSession, sessionProblems, type SessionRecord, type SocketScript } from './socket.js'

/** Bytes of a request's head: its request line and headers. */
const headBytes = (c: HttpCase) => c.path.length + Object.entries(c.headers).reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0)

/** One case the harness ran, kept a while so that late log lines find the case that caused them. */
interface CaseRecord {
  started: number
  input: string
  violations: Violations
}

const HISTORY = 200

/**
 * Runs cases against the fuzz server and checks every answer, frame and close as it comes; reads
 * the server's log after each case and charges each error line to the case that was running when
 * the server wrote it (by the line's own time: the log pipe may deliver it a case later).
 */
export class Harness {
  /** closedEarly: requests the server refused before reading all of them (a head past 16 KiB, an unwanted body), seen by the client as a reset. */
  readonly totals = { http: 0, sessions: 0, frames: 0, skipped: 0, closedEarly: 0 }
  private readonly history: CaseRecord[] = []
  private sinceHealth = 0

  constructor(
    readonly server: FuzzServer,
    readonly tokens: string[],
    private readonly healthEvery = 50,
  ) {}

  /** Sends one HTTP case and records every problem with its answer; returns the answer. */
  async http(c: HttpCase & { sent?: SentOperation }, violations: Violations, label: string): Promise<HttpAnswer | undefined> {
    const input = describeHttp(c)
    const record = this.begin(input, violations, label)
    const route = `${label} (${c.method}${c.headers.origin !== undefined ? ', Origin' : ''})`
    let answer: HttpAnswer | undefined
    try {
      answer = await sendHttp(this.server.url, c)
      for (const problem of httpProblems(c, answer, c.sent)) violations.add(`${route}: ${problem}`, input, `${answer.status} ${answer.contentType} ${preview(answer.body, 600)}`)
    } catch (error) {
      if ((error as { skipped?: boolean }).skipped) this.totals.skipped++
      // Node refuses a request head past its 16 KiB limit (431) and closes the connection while
      // the client may still be writing it, which the client sees as a reset.
      else if (headBytes(c) > 16 * 1024 && /ECONNRESET|EPIPE|socket hang up/.test((error as Error).message)) this.totals.closedEarly++
      // The server answered before it read the whole body (one it does not want) and closed.
      else if ((error as { closedEarly?: boolean }).closedEarly && /ECONNRESET|EPIPE|socket hang up/.test((error as Error).message)) this.totals.closedEarly++
      else violations.add(`${route}: no answer (${normalize((error as Error).message)})`, input, (error as Error).message)
    }
    this.totals.http++
    await this.end(record)
    return answer
  }

  /** Runs one socket script and records every problem with what the server did; returns that. */
  async session(script: SocketScript, violations: Violations, label: string): Promise<SessionRecord> {
    const input = describeScript(script)
    const record = this.begin(input, violations, label)
    const result = await runSession(this.server.url, script, this.tokens)
    const kind = `${label} (${script.authenticated ? 'authenticated' : 'no init first'})`
    for (const problem of sessionProblems(script, result)) {
      violations.add(`${kind}: ${problem}`, input, `frames ${preview(result.frames.map((f) => f.text), 800)}; close ${JSON.stringify(result.close)}`)
    }
    this.totals.sessions++
    this.totals.frames += script.frames.length
    await this.end(record)
    return result
  }

  /** Runs something that is neither an HTTP case nor a session (raw bytes), charging log lines to it. */
  async other<T>(input: string, violations: Violations, label: string, run: () => Promise<T>): Promise<T> {
    const record = this.begin(input, violations, label)
    try {
      return await run()
    } finally {
      await this.end(record)
    }
  }

  /** Waits for the log to catch up, then reads it: at the end of a batch of cases. */
  async settle(ms = 300): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms))
    this.readLog()
  }

  private begin(input: string, violations: Violations, label: string): CaseRecord {
    this.server.during = `${label}: ${input.slice(0, 300)}`
    const record = { started: Date.now(), input, violations }
    this.history.push(record)
    if (this.history.length > HISTORY) this.history.shift()
    return record
  }

  private async end(record: CaseRecord): Promise<void> {
    this.readLog()
    if (this.server.exited !== undefined) {
      throw new Error(`the server process exited (${this.server.exited}) after: ${record.input}\n${this.server.process.output().slice(-3_000)}`)
    }
    if (++this.sinceHealth >= this.healthEvery) {
      this.sinceHealth = 0
      if (!(await this.server.healthy())) {
        record.violations.add('/healthz did not answer 200 within 5 s', record.input, `exit ${this.server.exited}`)
        throw new Error(`the server stopped answering /healthz after: ${record.input}`)
      }
    }
  }

  private readLog(): void {
    const before = this.server.errorLines.length
    this.server.drainLog()
    for (const line of this.server.errorLines.slice(before)) {
      const parsed = JSON.parse(line.raw) as { time?: number; err?: { type?: string; message?: string } }
      const time = parsed.time ?? Date.now()
      let owner: CaseRecord | undefined
      for (let i = this.history.length - 1; i >= 0; i--) {
        if (this.history[i]!.started <= time) {
          owner = this.history[i]
          break
        }
      }
      const kind = `server logged "${line.msg}" (${parsed.err?.type ?? ''}: ${normalize(parsed.err?.message ?? '')})`
      if (owner) owner.violations.add(kind, owner.input, preview(line.raw, 1_500))
    }
  }
}
