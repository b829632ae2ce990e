import type { Logger } from 'pino'
import { usesRedis, type Config } from '../config.js'
import type { EventBus } from '../domain/events.js'
import type { PresenceStore, PushQueue, RateLimiter } from '../domain/ports.js'
import { InProcessEventBus } from '../infra/events/in-process.js'
import { RedisEventBus } from '../infra/events/redis.js'
import { InMemoryPresenceStore } from '../infra/presence/in-memory.js'
import { InMemoryPushQueue } from '../infra/push/memory-push-queue.js'
import { RedisPushQueue } from '../infra/push/redis-push-queue.js'
import { RedisPresenceStore } from '../infra/presence/redis.js'
import { InMemoryRateLimiter } from '../infra/rate-limit/in-memory.js'
import { RedisRateLimiter } from '../infra/rate-limit/redis.js'
import { RedisConnections } from '../infra/redis/connections.js'
import type { PrometheusMetrics } from '../infra/metrics/prometheus.js'
import type { Lifecycle } from './lifecycle.js'

/** Hand-outs of one push job whose handler keeps failing before it is dropped. */
const PUSH_JOB_DELIVERIES = 5
/** Push jobs one process works on at once (each mostly waits on a provider). */
const PUSH_CONCURRENCY = 32

/** What is shared between server processes: events, presence, rate-limit buckets and the push queue. */
export interface Messaging {
  events: EventBus
  /** Who has chatEvents open on which chat. */
  presence: PresenceStore
  /** Who has any subscription open (chat "*"), for pushes. */
  online: PresenceStore
  rateLimiter: RateLimiter
  pushQueue: PushQueue
  /** Throws unless Redis answers; nothing to check in one process. */
  check(): Promise<void>
}

/** Redis (one node or a cluster) shared by every process when configured, else this process's memory. */
export async function openMessaging(config: Config, logger: Logger, lifecycle: Lifecycle, metrics?: PrometheusMetrics): Promise<Messaging> {
  const onEvent = metrics && ((kind: string) => metrics.busEvent(kind))
  if (!usesRedis(config)) {
    const events = new InProcessEventBus({ onEvent })
    lifecycle.onStop(() => events.close())
    const rateLimiter = new InMemoryRateLimiter()
    lifecycle.onStop(() => rateLimiter.close())
    const pushQueue = new InMemoryPushQueue({ maxDeliveries: PUSH_JOB_DELIVERIES, onError: pushError(logger) })
    lifecycle.onStop(() => pushQueue.close())
    watchQueue(pushQueue, metrics)
    return { events, presence: new InMemoryPresenceStore(), online: new InMemoryPresenceStore(), rateLimiter, pushQueue, check: async () => {} }
  }
  const target = config.redisClusterNodes ? { clusterNodes: config.redisClusterNodes } : { url: config.redisUrl! }
  const redis = new RedisConnections({ target, logger })
  lifecycle.onStop(() => redis.close())
  await redis.connect()
  const prefix = config.redisPrefix
  const events = new RedisEventBus({ redis, prefix, logger, onEvent })
  lifecycle.onStop(() => events.close())
  const rateLimiter = new RedisRateLimiter(redis.commands, prefix, (error) =>
    logger.warn({ err: (error as Error).message }, 'rate limits checked in this process alone: Redis unavailable'),
  )
  lifecycle.onStop(() => rateLimiter.close())
  const pushQueue = new RedisPushQueue({
    redis: redis.commands,
    prefix,
    claimIdleMs: config.push.claimIdleMs,
    maxDeliveries: PUSH_JOB_DELIVERIES,
    concurrency: PUSH_CONCURRENCY,
    onError: pushError(logger),
  })
  // Stopped before the connections close (stops run in reverse order).
  lifecycle.onStop(() => pushQueue.close())
  watchQueue(pushQueue, metrics)
  return {
    events,
    presence: new RedisPresenceStore({ redis: redis.commands, prefix, ttlMs: config.presenceTtlMs }),
    online: new RedisPresenceStore({ redis: redis.commands, prefix: `${prefix}online:`, ttlMs: config.presenceTtlMs }),
    rateLimiter,
    pushQueue,
    check: async () => {
      const started = performance.now()
      try {
        await redis.ping()
        metrics?.redisPinged('ok', (performance.now() - started) / 1000)
      } catch (error) {
        metrics?.redisPinged('error', (performance.now() - started) / 1000)
        throw error
      }
    },
  }
}

const pushError = (logger: Logger) => (error: unknown, context: string) => logger.error({ err: error }, context)

function watchQueue(queue: { depth(): Promise<{ ready: number; later: number }> }, metrics: PrometheusMetrics | undefined): void {
  metrics?.gauge('hush_push_queue_jobs', 'Push jobs waiting, by state: ready (in the stream) or later (a retry or the end of a collapse window).', () => queue.depth(), 'state')
}
