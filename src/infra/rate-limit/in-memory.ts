import { LRUCache } from 'lru-cache'
import type { Rate, RateLimiter, RetryAfterMs } from '../../domain/ports.js'
import { TokenBucket } from '../../domain/token-bucket.js'

/** Buckets kept at most; a full bucket is the default and is never kept. */
const BUCKETS_MAX = 200_000
/** How often buckets that refilled meanwhile are dropped. */
const PURGE_MS = 10_000

/**
 * Token buckets in this process's memory: the limiter of a single process (no REDIS_URL), and the
 * fallback of the Redis one while Redis is down. A bucket is kept only until it would be full
 * again (its time to live), so idle users cost nothing.
 */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly buckets: LRUCache<string, TokenBucket>
  private readonly purge: NodeJS.Timeout

  constructor(private readonly now: () => number = Date.now) {
    // Buckets refill on this clock, so they expire on it too. Bounded by size (one per bucket)
    // rather than `max`, which makes lru-cache allocate all 200,000 slots up front (38 ms, MBs).
    this.buckets = new LRUCache<string, TokenBucket>({ maxSize: BUCKETS_MAX, sizeCalculation: () => 1, perf: { now }, ttlResolution: 0 })
    this.purge = setInterval(() => this.evictRefilled(), PURGE_MS)
    this.purge.unref()
  }

  async take(key: string, rate: Rate, cost: number): Promise<RetryAfterMs> {
    return this.takeNow(key, rate, cost)
  }

  takeNow(key: string, rate: Rate, cost: number): RetryAfterMs {
    const now = this.now()
    const bucket = this.buckets.get(key) ?? new TokenBucket(rate, now)
    const retryAfterMs = bucket.take(cost, now)
    const { refillMs } = bucket
    if (refillMs > 0) this.buckets.set(key, bucket, { ttl: refillMs })
    else this.buckets.delete(key)
    return retryAfterMs
  }

  /** Drops the buckets that are full again (a full bucket is what a missing one means). */
  evictRefilled(): void {
    this.buckets.purgeStale()
  }

  /** Buckets held now. */
  get size(): number {
    return this.buckets.size
  }

  close(): void {
    clearInterval(this.purge)
    this.buckets.clear()
  }
}
