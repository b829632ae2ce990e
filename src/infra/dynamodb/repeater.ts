/**
 * Background loops of the expiry path: a task that runs, then runs again after a pause chosen from
 * its result, never overlapping itself, logging (not throwing) what fails, until stopped.
 */
export class Repeater {
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly running = new Set<Promise<unknown>>()
  private stopped = false

  constructor(private readonly onError: (error: unknown, what: string) => void) {}

  get isStopped(): boolean {
    return this.stopped
  }

  repeat<T>(what: string, task: () => Promise<T>, firstMs: number, next: (result: T | undefined) => number): void {
    const run = () => {
      if (this.stopped) return
      let result: T | undefined
      const round = task()
        .then((value) => void (result = value))
        .catch((error: unknown) => this.onError(error, what))
        .finally(() => {
          this.running.delete(round)
          if (!this.stopped) this.schedule(run, next(result))
        })
      this.running.add(round)
    }
    this.schedule(run, firstMs)
  }

  /** Stops scheduling and waits for the rounds under way. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    await Promise.allSettled([...this.running])
  }

  private schedule(run: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      run()
    }, ms)
    this.timers.add(timer)
  }
}
