import type { Logger } from 'pino'
import { usesRedis, type Config } from '../config.js'
import type { EventBus } from '../domain/events.js'
import type { PresenceStore, RateLimiter } from '../domain/ports.js'
import { InProcessEventBus } from '../infra/events/in-process.js'
import { RedisEventBus } from '../infra/events/redis.js'
import { InMemoryPresenceStore } from '../infra/presence/in-memory.js'
import { RedisPresenceStore } from '../infra/presence/redis.js'
import { InMemoryRateLimiter } from '../infra/rate-limit/in-memory.js'
import { RedisRateLimiter } from '../infra/rate-limit/redis.js'
import { RedisConnections } from '../infra/redis/connections.js'
import type { Lifecycle } from './lifecycle.js'

/** What is shared between server processes: events, presence and rate-limit buckets. */
export interface Messaging {
  events: EventBus
  presence: PresenceStore
  rateLimiter: RateLimiter
  /** Throws unless Redis answers; nothing to check in one process. */
  check(): Promise<void>
}

/** Redis (one node or a cluster) shared by every process when configured, else this process's memory. */
export async function openMessaging(config: Config, logger: Logger, lifecycle: Lifecycle): Promise<Messaging> {
  if (!usesRedis(config)) {
    const events = new InProcessEventBus()
    lifecycle.onStop(() => events.close())
    const rateLimiter = new InMemoryRateLimiter()
    lifecycle.onStop(() => rateLimiter.close())
    return { events, presence: new InMemoryPresenceStore(), rateLimiter, check: async () => {} }
  }
  const target = config.redisClusterNodes ? { clusterNodes: config.redisClusterNodes } : { url: config.redisUrl! }
  const redis = new RedisConnections({ target, logger })
  lifecycle.onStop(() => redis.close())
  await redis.connect()
  const prefix = config.redisPrefix
  const events = new RedisEventBus({ redis, prefix, logger })
  lifecycle.onStop(() => events.close())
  const rateLimiter = new RedisRateLimiter(redis.commands, prefix, (error) =>
    logger.warn({ err: (error as Error).message }, 'rate limits checked in this process alone: Redis unavailable'),
  )
  lifecycle.onStop(() => rateLimiter.close())
  return {
    events,
    presence: new RedisPresenceStore({ redis: redis.commands, prefix, ttlMs: config.presenceTtlMs }),
    rateLimiter,
    check: () => redis.ping(),
  }
}
