import type { Redis } from 'ioredis'
import type { RateLimiter } from '../../domain/ports.js'

/**
 * A token bucket per key in one Redis hash, updated atomically by a script that reads Redis's own
 * clock, so every process shares the bucket and no process clock matters.
 */
const TAKE = `
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return allowed
`

/** How long a check may wait for Redis before the request is let through. */
const CHECK_TIMEOUT_MS = 250

/**
 * Fails open: while Redis is unreachable, requests pass unlimited rather than fail, since a
 * send is durable in DynamoDB without Redis and the limit is abuse control, not correctness.
 */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  async take(key: string, perSecond: number, burst: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CHECK_TIMEOUT_MS)))
    try {
      const allowed = await Promise.race([this.redis.eval(TAKE, 1, `${this.prefix}rate:${key}`, perSecond, burst), timeout])
      if (allowed === 'timeout') throw new Error('rate limit check timed out')
      return allowed === 1
    } catch (error) {
      this.onError(error)
      return true
    } finally {
      clearTimeout(timer)
    }
  }
}
