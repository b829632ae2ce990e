import type { Rate, RateLimiter, RetryAfterMs } from '../../../src/domain/ports.js'
import { TokenBucket } from '../../../src/domain/token-bucket.js'

/**
 * Token buckets in a Map: the RateLimiter port with the rule of src/infra/rate-limit/in-memory.ts
 * (a bucket per key, refilled on the given clock; a full bucket is the same as none), for the
 * domain on memory. The server's limiter holds up to 200,000 buckets in an LRU cache that
 * allocates its arrays whole, which cost every domain test about 40 ms before its first step.
 */
export class MapRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>()

  constructor(private readonly now: () => number) {}

  async take(key: string, rate: Rate, cost: number): Promise<RetryAfterMs> {
    const now = this.now()
    const bucket = this.buckets.get(key) ?? new TokenBucket(rate, now)
    const retryAfterMs = bucket.take(cost, now)
    if (bucket.refillMs > 0) this.buckets.set(key, bucket)
    else this.buckets.delete(key)
    return retryAfterMs
  }
}
