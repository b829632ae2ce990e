import type { RateLimiter } from '../../domain/ports.js'

/** Token buckets of a single server process (no REDIS_URL). */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  async take(key: string, perSecond: number, burst: number): Promise<boolean> {
    const now = Date.now()
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond)
    bucket.at = now
    const allowed = bucket.tokens >= 1
    if (allowed) bucket.tokens -= 1
    // A full bucket is the default: forget it rather than keep one per user forever.
    if (bucket.tokens >= burst) this.buckets.delete(key)
    else this.buckets.set(key, bucket)
    return allowed
  }
}
