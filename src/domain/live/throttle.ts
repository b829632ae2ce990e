import type { Cancel, Clock } from '../ports.js'

/**
 * Passes a changing state on at most once per `intervalMs`: a change within the interval waits
 * for its end, and further changes meanwhile replace it, so only the latest goes out (and nothing,
 * if that is what went out last). A client toggling typing or presence as fast as it can reaches
 * its peer as one change per interval.
 *
 * What passes a value on is a function of the throttle's owner and the value, so that the
 * throttles of every stream share one function instead of holding a closure (and its context) each.
 */
export class Throttle<T, O> {
  private sentAt = Number.NEGATIVE_INFINITY
  private sent: T | undefined
  private pending: { value: T } | undefined
  private cancel: Cancel | undefined

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly emit: (owner: O, value: T) => void,
    private readonly owner: O,
    /** What the receiver starts out knowing, as if it had been passed on: setting it sends nothing. */
    initial?: T,
  ) {
    this.sent = initial
  }

  /** The value last passed on. */
  get current(): T | undefined {
    return this.sent
  }

  set(value: T): void {
    if (this.cancel) {
      this.pending = { value }
      return
    }
    const wait = this.sentAt + this.intervalMs - this.clock.now()
    if (wait <= 0) return this.send(value)
    this.pending = { value }
    this.cancel = this.clock.after(wait, () => this.flush())
  }

  /** Takes `value` as sent by other means (a message ends typing): nothing pending goes out. */
  reset(value: T): void {
    this.cancel?.()
    this.cancel = undefined
    this.pending = undefined
    this.sent = value
  }

  close(): void {
    this.cancel?.()
    this.cancel = undefined
    this.pending = undefined
  }

  private flush(): void {
    this.cancel = undefined
    const pending = this.pending
    this.pending = undefined
    if (pending) this.send(pending.value)
  }

  private send(value: T): void {
    if (value === this.sent) return
    this.sent = value
    this.sentAt = this.clock.now()
    this.emit(this.owner, value)
  }
}
