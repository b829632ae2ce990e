import type { Rate, RateLimiter, RetryAfterMs } from '../../domain/ports.js'
import type { RedisCommands } from '../redis/connections.js'
import { InMemoryRateLimiter } from './in-memory.js'

/**
 * A token bucket per key in one Redis hash, updated atomically by a script that reads Redis's own
 * clock, so every process shares the bucket and no process clock matters. Returns 0 when the
 * tokens were taken, else the milliseconds until they could be.
 */
const TAKE = `
local perMs = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
else
  retry = math.ceil((cost - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / perMs) + 1000)
return retry
`

/** How long a check may wait for Redis before this process decides alone. */
const CHECK_TIMEOUT_MS = 250
const WARN_EVERY_MS = 10_000

/**
 * The limits shared by every process, in Redis. While Redis cannot be reached (an error, or no
 * answer within CHECK_TIMEOUT_MS), each process applies the same limits with buckets of its own:
 * an outage never lifts them. (Per process, a user spread over N processes may get up to N times
 * the rate until Redis is back; a user on one process gets exactly it.)
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly local = new InMemoryRateLimiter()
  private lastWarning = 0

  constructor(
    private readonly redis: RedisCommands,
    private readonly prefix: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  async take(key: string, rate: Rate, cost: number): Promise<RetryAfterMs> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CHECK_TIMEOUT_MS)))
    try {
      // The braces make the key its own hash slot on a Redis Cluster.
      const checked = this.redis.eval(TAKE, 1, `${this.prefix}rate:{${key}}`, rate.perSecond, rate.burst, cost) as Promise<number>
      checked.catch(() => undefined)
      const answer = await Promise.race([checked, timeout])
      if (answer === 'timeout') throw new Error('rate limit check timed out')
      return answer
    } catch (error) {
      this.warn(error)
      return this.local.takeNow(key, rate, cost)
    } finally {
      clearTimeout(timer)
    }
  }

  close(): void {
    this.local.close()
  }

  /** Once per WARN_EVERY_MS at most: an outage fails every check. */
  private warn(error: unknown): void {
    const now = Date.now()
    if (now - this.lastWarning < WARN_EVERY_MS) return
    this.lastWarning = now
    this.onError(error)
  }
}
