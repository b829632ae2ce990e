/**
 * Counts operations running (queries and mutations on every path), so that a drain waits for the
 * writes in flight before the process exits.
 */
export class InFlight {
  private running = 0
  private readonly idle = new Set<() => void>()

  get count(): number {
    return this.running
  }

  start(): void {
    this.running++
  }

  end(): void {
    if (--this.running === 0) for (const resolve of this.idle) resolve()
  }

  /** Resolves once nothing runs. */
  drained(): Promise<void> {
    if (this.running === 0) return Promise.resolve()
    return new Promise((resolve) => this.idle.add(resolve))
  }
}
