import { rateLimited } from './errors.js'
import type { Rate, RateLimiter } from './ports.js'

/** The writes and fan-outs that are limited, each per user unless its name says otherwise. */
export type RateName =
  /** Per client address. */
  | 'signUp'
  | 'startChat'
  | 'send'
  | 'markRead'
  | 'upload'
  /** Bytes uploaded. */
  | 'uploadBytes'
  | 'createPost'
  | 'addComment'
  | 'registerDevice'

export type Rates = Readonly<Record<RateName, Rate>>

/**
 * Hush's rate limits by name: one bucket per limit and subject (a user, or a client address for
 * signUp), shared by every process through the RateLimiter. A refusal is RATE_LIMITED with the
 * time after which the same call would pass.
 */
export class RateLimits {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly rates: Rates,
    /** Told of each refusal, by limit name (for metrics). */
    private readonly onRefused: (name: RateName) => void = () => {},
  ) {}

  /** Takes `cost` of `name` for `subject`, or throws RATE_LIMITED. */
  async take(name: RateName, subject: string, cost = 1): Promise<void> {
    const rate = this.rates[name]
    // One call never needs more than a full bucket (an upload at the size limit, say).
    const retryAfterMs = await this.limiter.take(`${name}:${subject}`, rate, Math.min(cost, rate.burst))
    if (retryAfterMs > 0) {
      this.onRefused(name)
      throw rateLimited(retryAfterMs)
    }
  }
}
