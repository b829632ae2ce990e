import type { Cancel, Clock } from '../../../src/domain/ports.js'

interface Timer {
  at: number
  /** Order of scheduling: timers due at the same instant run first come, first served. */
  seq: number
  task: () => void
  every: number | undefined
  /** Place in the heap, or -1 once the timer is out of it (ran once, or cancelled). */
  index: number
}

/** Pending timers, earliest (then first scheduled) on top: O(log n) to add, take the next or remove one. */
class TimerHeap {
  private readonly timers: Timer[] = []

  get size(): number {
    return this.timers.length
  }

  peek(): Timer | undefined {
    return this.timers[0]
  }

  push(timer: Timer): void {
    timer.index = this.timers.length
    this.timers.push(timer)
    this.up(timer.index)
  }

  /** Takes `timer` out wherever it is; a timer already out is left alone. */
  remove(timer: Timer): void {
    const { index } = timer
    if (index < 0) return
    timer.index = -1
    const last = this.timers.pop()!
    if (last === timer) return
    this.timers[index] = last
    last.index = index
    this.up(index)
    this.down(last.index)
  }

  /** Puts back in order a timer still in the heap whose time moved later. */
  later(timer: Timer): void {
    this.down(timer.index)
  }

  private before(x: Timer, y: Timer): boolean {
    return x.at < y.at || (x.at === y.at && x.seq < y.seq)
  }

  private up(index: number): void {
    const timer = this.timers[index]!
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = this.timers[parentIndex]!
      if (!this.before(timer, parent)) break
      this.place(parent, index)
      index = parentIndex
    }
    this.place(timer, index)
  }

  private down(index: number): void {
    const timer = this.timers[index]!
    const { length } = this.timers
    for (;;) {
      let child = 2 * index + 1
      if (child >= length) break
      const right = this.timers[child + 1]
      if (right && this.before(right, this.timers[child]!)) child++
      if (!this.before(this.timers[child]!, timer)) break
      this.place(this.timers[child]!, index)
      index = child
    }
    this.place(timer, index)
  }

  private place(timer: Timer, index: number): void {
    this.timers[index] = timer
    timer.index = index
  }
}

/** Firings between real event-loop turns in a long advance, so the worker still answers its runner. */
const FIRINGS_PER_YIELD = 5_000

/**
 * A clock that moves only when told: `advance` runs every timer that falls due, in order, letting
 * the work each one starts settle (see {@link settle}) before the next, so a domain rule with waits
 * runs in microseconds.
 *
 * Pending timers sit in a heap (a cancelled one leaves it at once), and `advance` jumps from one due
 * timer to the next. What a long advance costs is the firings themselves: 25 simulated hours of the
 * domain's periodic timers (typing's 250 ms sweep, the 1 s expiry check, presence and online
 * heartbeats and sweeps) are about 530,000 of them, so the wait after each must cost next to
 * nothing when the timer started nothing, as an idle sweep does.
 */
export class FakeClock implements Clock {
  private time: number
  private readonly timers = new TimerHeap()
  private scheduled = 0

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start
  }

  now(): number {
    return this.time
  }

  /** Timers waiting to fire (cancelled and finished ones are gone). */
  get pending(): number {
    return this.timers.size
  }

  after(ms: number, task: () => void): Cancel {
    // "At once" needs no advance: it runs on the next turn, as a real timer of 0 would.
    if (!(ms > 0)) {
      let cancelled = false
      setImmediate(() => cancelled || task())
      return () => void (cancelled = true)
    }
    return this.add(ms, task, undefined)
  }

  every(ms: number, task: () => void): Cancel {
    // As setInterval does: a period under 1 ms is 1 ms (0 would fire forever without time moving).
    const period = ms >= 1 ? ms : 1
    return this.add(period, task, period)
  }

  /** Moves time forward by `ms`, running what falls due on the way. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`A clock only moves forward: advance(${ms})`)
    const until = this.time + ms
    await settle()
    let fired = 0
    for (let next = this.timers.peek(); next !== undefined && next.at <= until; next = this.timers.peek()) {
      this.time = next.at
      if (next.every === undefined) this.timers.remove(next)
      else {
        // Rescheduled before it runs, so a task may cancel its own interval.
        next.at += next.every
        next.seq = this.scheduled++
        this.timers.later(next)
      }
      next.task()
      await settle()
      if (++fired % FIRINGS_PER_YIELD === 0) await turn()
    }
    this.time = until
    await settle()
  }

  private add(ms: number, task: () => void, every: number | undefined): Cancel {
    const timer: Timer = { at: this.time + ms, seq: this.scheduled++, task, every, index: -1 }
    this.timers.push(timer)
    return () => this.timers.remove(timer)
  }
}

/** At most this many event-loop turns per settle, should something schedule setImmediate forever. */
const MAX_TURNS = 1_000

/**
 * Lets the work already started finish: every pending promise reaction, and every setImmediate (an
 * in-process bus delivers on one) with whatever it starts in turn, until nothing is left. Costs
 * about a microsecond when nothing is pending, and one event-loop turn per round of immediates
 * when something is.
 */
export async function settle(): Promise<void> {
  for (let turns = 0; ; turns++) {
    // The microtask queue has run empty once a process.nextTick callback queued from a microtask
    // runs: Node runs the tick queue only between microtask checkpoints, which drain the queue
    // whole. The first `await` puts this function on a microtask; the tick then marks the point
    // where every promise chain that waits on nothing but promises has finished.
    await Promise.resolve()
    await new Promise<void>(nextTick)
    if (!immediatePending() || turns === MAX_TURNS) return
    await turn()
  }
}

const nextTick = (resolve: () => void) => process.nextTick(resolve)

const immediatePending = () => process.getActiveResourcesInfo().includes('Immediate')

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
