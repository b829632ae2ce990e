import type { Cancel, Clock } from '../../../src/domain/ports.js'

interface Timer {
  at: number
  task: () => void
  every: number | undefined
  cancelled: boolean
}

/**
 * A clock that moves only when told: `advance` runs every timer that falls due, in order, letting
 * the promises each one starts settle before the next, so a domain rule with waits runs in
 * microseconds.
 */
export class FakeClock implements Clock {
  private time: number
  private readonly timers: Timer[] = []

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start
  }

  now(): number {
    return this.time
  }

  after(ms: number, task: () => void): Cancel {
    const timer = { at: this.time + Math.max(0, ms), task, every: undefined, cancelled: false }
    // "At once" needs no advance: it runs on the next turn, as a real timer of 0 would.
    if (ms <= 0) {
      setImmediate(() => timer.cancelled || task())
      return () => void (timer.cancelled = true)
    }
    return this.add(timer)
  }

  every(ms: number, task: () => void): Cancel {
    return this.add({ at: this.time + ms, task, every: ms, cancelled: false })
  }

  /** Moves time forward by `ms`, running what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms
    for (;;) {
      await settle()
      const next = this.timers.filter((timer) => !timer.cancelled && timer.at <= until).sort((x, y) => x.at - y.at)[0]
      if (!next) break
      this.time = next.at
      if (next.every === undefined) next.cancelled = true
      else next.at += next.every
      next.task()
    }
    this.time = until
    await settle()
  }

  private add(timer: Timer): Cancel {
    this.timers.push(timer)
    return () => void (timer.cancelled = true)
  }
}

/** Lets pending promise reactions (and an in-process bus's setImmediate deliveries) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}
