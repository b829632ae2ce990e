import { DomainError } from './errors.js'
import type { RateLimiter } from './ports.js'

/** A token bucket: `perSecond` sustained, up to `burst` at once. */
export interface Rate {
  perSecond: number
  burst: number
}

/** The writes and fan-outs that are limited, each per user unless its name says otherwise. */
export type RateName = 'send' | 'startChat'

export type Rates = Readonly<Record<RateName, Rate>>

/**
 * Hush's rate limits by name: one bucket per limit and subject (a user), shared by every
 * process through the RateLimiter. A refusal is RATE_LIMITED.
 */
export class RateLimits {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly rates: Rates,
  ) {}

  /** Takes one token of `name` for `subject`, or throws RATE_LIMITED. */
  async take(name: RateName, subject: string): Promise<void> {
    const { perSecond, burst } = this.rates[name]
    if (!(await this.limiter.take(`${name}:${subject}`, perSecond, burst))) {
      throw new DomainError('RATE_LIMITED', 'Too many requests; slow down and retry shortly.')
    }
  }
}
