import { RedisPubSub } from 'graphql-redis-subscriptions'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { EventBus, EventListener, Topic, TopicEvents, Unsubscribe } from '../../domain/events.js'
import type { RedisConnections } from '../redis/connections.js'

export interface RedisEventBusOptions {
  redis: RedisConnections
  /** Prepended to every channel, so deployments (and test runs) can share one Redis. */
  prefix: string
  logger: Logger
}

/**
 * The EventBus across server processes: graphql-redis-subscriptions on the process's Redis
 * connections. A process holds one Redis subscription per channel however many local listeners
 * it has (the library counts references) and drops it with the last listener.
 */
export class RedisEventBus implements EventBus {
  private readonly pubsub: RedisPubSub
  private readonly prefix: string
  private readonly topicRefs = new Map<string, number>()
  private readonly log: Logger
  private readonly gapListeners = new Set<() => void>()
  private readonly subscriber: RedisConnections['subscriber']
  /** True from the subscriber's loss of its connection until it is ready again. */
  private cutOff = false
  private readonly onLost = () => void (this.cutOff = true)
  private readonly onReady = () => {
    if (!this.cutOff) return
    this.cutOff = false
    // ioredis sent the resubscriptions as it got ready; a PING's answer comes after theirs, so
    // from then on everything published is heard, and the subscribers can read what was not.
    void this.subscriber
      .ping()
      .catch(() => undefined)
      .then(() => {
        this.log.info('Redis subscriber back: subscribers resync from the store')
        for (const listener of this.gapListeners) listener()
      })
  }

  constructor(options: RedisEventBusOptions) {
    this.log = options.logger.child({ component: 'events' })
    this.prefix = options.prefix
    this.subscriber = options.redis.subscriber
    this.pubsub = new RedisPubSub({ publisher: options.redis.commands, subscriber: subscriberFor(this.subscriber, this.log) })
    // ioredis resubscribes every channel once it is ready again; what was published meanwhile is gone.
    this.subscriber.on('close', this.onLost)
    this.subscriber.on('ready', this.onReady)
  }

  async publish<T extends Topic>(topic: T, event: TopicEvents[T]): Promise<void> {
    try {
      await this.pubsub.publish(this.prefix + topic, event)
    } catch (error) {
      this.log.warn({ topic, err: (error as Error).message }, 'event lost: Redis publish failed')
    }
  }

  async subscribe<T extends Topic>(topic: T, listener: EventListener<TopicEvents[T]>): Promise<Unsubscribe> {
    const channel = this.prefix + topic
    const subscriptionId = await this.pubsub.subscribe(channel, listener)
    this.topicRefs.set(channel, (this.topicRefs.get(channel) ?? 0) + 1)
    let done = false
    return async () => {
      if (done) return
      done = true
      this.pubsub.unsubscribe(subscriptionId)
      const refs = (this.topicRefs.get(channel) ?? 1) - 1
      if (refs === 0) this.topicRefs.delete(channel)
      else this.topicRefs.set(channel, refs)
    }
  }

  activeTopics(): number {
    return this.topicRefs.size
  }

  onGap(listener: () => void): () => void {
    this.gapListeners.add(listener)
    return () => this.gapListeners.delete(listener)
  }

  /** The connections are the app's to close; only local listeners go. */
  async close(): Promise<void> {
    this.subscriber.off('close', this.onLost)
    this.subscriber.off('ready', this.onReady)
    this.gapListeners.clear()
    this.topicRefs.clear()
  }
}

/**
 * The subscriber connection as graphql-redis-subscriptions uses it. The library fires its
 * unsubscribes and forgets them, so one that fails (the connection closing at shutdown) would be
 * an unhandled rejection: here it is caught. It also sends a PUNSUBSCRIBE with every UNSUBSCRIBE;
 * Hush never subscribes by pattern, so that one is skipped.
 */
function subscriberFor(redis: Redis, log: Logger): Redis {
  const client = {
    on(event: string, listener: (...args: unknown[]) => void) {
      redis.on(event, listener)
      return client
    },
    subscribe: (channel: string, callback: (error?: Error | null) => void) => redis.subscribe(channel, callback),
    unsubscribe: (channel: string) =>
      redis.unsubscribe(channel).catch((error: Error) => log.debug({ channel, err: error.message }, 'unsubscribe failed')),
    punsubscribe: () => Promise.resolve(),
  }
  return client as unknown as Redis
}
