import { RedisPubSub } from 'graphql-redis-subscriptions'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { EventBus, EventListener, Topic, TopicEvents, Unsubscribe } from '../../domain/events.js'

export interface RedisEventBusOptions {
  url: string
  /** Prepended to every channel, so deployments (and test runs) can share one Redis. */
  prefix: string
  logger: Logger
}

/**
 * The EventBus across server processes: graphql-redis-subscriptions on two ioredis connections.
 * A process holds one Redis subscription per channel however many local listeners it has (the
 * library counts references) and drops it with the last listener; ioredis reconnects and
 * resubscribes by itself after Redis restarts.
 */
export class RedisEventBus implements EventBus {
  readonly publisher: Redis
  private readonly subscriber: Redis
  private readonly pubsub: RedisPubSub
  private readonly prefix: string
  private readonly topicRefs = new Map<string, number>()
  private readonly log: Logger

  constructor(options: RedisEventBusOptions) {
    const retryStrategy = (attempt: number) => Math.min(attempt * 100, 2_000)
    // Commands of one tick go out in one write: a burst of events costs one syscall, not one each.
    this.publisher = new Redis(options.url, { retryStrategy, lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: true })
    this.subscriber = new Redis(options.url, { retryStrategy, lazyConnect: true, autoResubscribe: true })
    const log = (this.log = options.logger.child({ component: 'redis' }))
    for (const [role, client] of [['publisher', this.publisher], ['subscriber', this.subscriber]] as const) {
      client.on('error', (error: Error) => log.warn({ role, err: error.message }, 'Redis connection error'))
      client.on('ready', () => log.debug({ role }, 'Redis ready'))
    }
    this.prefix = options.prefix
    this.pubsub = new RedisPubSub({ publisher: this.publisher, subscriber: this.subscriber })
  }

  async connect(): Promise<void> {
    await Promise.all([this.publisher.connect(), this.subscriber.connect()])
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

  async ping(): Promise<void> {
    await this.publisher.ping()
  }

  async close(): Promise<void> {
    await this.pubsub.close()
  }
}
