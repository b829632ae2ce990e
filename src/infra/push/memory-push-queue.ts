import { randomUUID } from 'node:crypto'
import type { PushJob, PushQueue } from '../../domain/ports.js'

/**
 * The push queue of a single process (no Redis): jobs in memory, lost with the process. A job
 * whose handler fails is tried again a second later, a bounded number of times.
 */
export class InMemoryPushQueue implements PushQueue {
  private readonly later = new Map<string, NodeJS.Timeout>()
  private readonly backlog: PushJob[] = []
  private handler: ((job: PushJob) => Promise<void>) | undefined
  private closed = false

  constructor(private readonly options: { maxDeliveries: number; onError(error: unknown, context: string): void }) {}

  async add(job: PushJob): Promise<void> {
    if (this.handler) this.run(job, 1)
    else this.backlog.push(job)
  }

  async addLater(job: PushJob, at: number, collapseKey?: string): Promise<void> {
    const key = collapseKey ?? `once ${randomUUID()}`
    if (this.closed || this.later.has(key)) return
    const timer = setTimeout(() => {
      this.later.delete(key)
      void this.add(job)
    }, Math.max(0, at - Date.now()))
    timer.unref()
    this.later.set(key, timer)
  }

  /** Jobs waiting: `ready` before a consumer started, `later` for their time. */
  async depth(): Promise<{ ready: number; later: number }> {
    return { ready: this.backlog.length, later: this.later.size }
  }

  consume(handler: (job: PushJob) => Promise<void>): void {
    this.handler = handler
    for (const job of this.backlog.splice(0)) this.run(job, 1)
  }

  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.later.values()) clearTimeout(timer)
    this.later.clear()
  }

  private run(job: PushJob, delivery: number): void {
    if (this.closed) return
    this.handler!(job).catch((error: unknown) => {
      this.options.onError(error, 'push job failed')
      if (delivery < this.options.maxDeliveries) setTimeout(() => this.run(job, delivery + 1), 1_000).unref()
    })
  }
}
