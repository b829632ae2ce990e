import { RedisPubSub } from 'graphql-redis-subscriptions'
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

  constructor(options: RedisEventBusOptions) {
    this.log = options.logger.child({ component: 'events' })
    this.prefix = options.prefix
    this.pubsub = new RedisPubSub({ publisher: options.redis.commands, subscriber: options.redis.subscriber })
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

  /** The connections are the app's to close; only local listeners go. */
  async close(): Promise<void> {
    this.topicRefs.clear()
  }
}
