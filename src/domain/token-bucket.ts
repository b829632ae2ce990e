import type { Rate, RetryAfterMs } from './ports.js'

/**
 * One token bucket's arithmetic: `burst` tokens when full, refilled at `perSecond`. A take of
 * `cost` tokens either takes them all or none, and then says how long until it could.
 */
export class TokenBucket {
  private tokens: number
  private at: number

  constructor(
    private readonly rate: Rate,
    now: number,
  ) {
    this.tokens = rate.burst
    this.at = now
  }

  take(cost: number, now: number): RetryAfterMs {
    const perMs = this.rate.perSecond / 1000
    this.tokens = Math.min(this.rate.burst, this.tokens + Math.max(0, now - this.at) * perMs)
    this.at = now
    if (this.tokens >= cost) {
      this.tokens -= cost
      return 0
    }
    return Math.ceil((cost - this.tokens) / perMs)
  }

  /** How long until the bucket is full again (0: it is). */
  get refillMs(): number {
    return Math.ceil((this.rate.burst - this.tokens) / (this.rate.perSecond / 1000))
  }
}
