import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { InMemoryRateLimiter } from '../src/infra/rate-limit/in-memory.js'
import { RedisRateLimiter } from '../src/infra/rate-limit/redis.js'
import { freePort } from './support/process.js'

const rate = { perSecond: 50, burst: 2 }

describe('rate limiters', () => {
  it('keeps an in-memory bucket only until it is full again', async () => {
    let now = 1_000_000
    const limiter = new InMemoryRateLimiter(() => now)
    try {
      expect(await limiter.take('u1', rate, 1)).toBe(0)
      expect(await limiter.take('u1', rate, 1)).toBe(0)
      // Empty: the next token is 1/50 s away.
      const retry = await limiter.take('u1', rate, 1)
      expect(retry).toBeGreaterThan(0)
      expect(retry).toBeLessThanOrEqual(20)
      for (let user = 2; user <= 100; user++) await limiter.take(`u${user}`, rate, 1)
      expect(limiter.size).toBe(100)
      // 2 tokens at 50 a second: every bucket is full again within 40 ms, and then forgotten.
      now += 41
      limiter.evictRefilled()
      expect(limiter.size).toBe(0)
      // A bucket that was never drained below full is never kept.
      expect(await limiter.take('u1', { perSecond: 1_000_000, burst: 1 }, 0)).toBe(0)
      expect(limiter.size).toBe(0)
    } finally {
      limiter.close()
    }
  })

  it('applies the same limits in this process while Redis cannot be reached', async () => {
    const port = await freePort()
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 })
    redis.on('error', () => undefined)
    const failures: unknown[] = []
    const limiter = new RedisRateLimiter(redis, 'test:', (error) => failures.push(error))
    try {
      const slow = { perSecond: 1, burst: 2 }
      const started = Date.now()
      const answers = [await limiter.take('u', slow, 1), await limiter.take('u', slow, 1), await limiter.take('u', slow, 1)]
      expect(answers.slice(0, 2)).toEqual([0, 0])
      expect(answers[2]).toBeGreaterThan(0)
      // Each check gives up on Redis within its timeout; the warning is not repeated per check.
      expect(Date.now() - started).toBeLessThan(3 * 600)
      expect(failures).toHaveLength(1)
    } finally {
      limiter.close()
      redis.disconnect()
    }
  })
})
