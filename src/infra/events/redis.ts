import { RedisPubSub } from 'graphql-redis-subscriptions'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { BusSubscription, EventBus, EventListener, Topic, TopicEvents } from '../../domain/events.js'
import type { RedisConnections } from '../redis/connections.js'

export interface RedisEventBusOptions {
  redis: RedisConnections
  /** Prepended to every channel, so deployments (and test runs) can share one Redis. */
  prefix: string
  logger: Logger
  /** Told the kind of each event this process receives (once per event, however many listen). */
  onEvent?: (kind: string) => void
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
  private readonly redis: RedisConnections
  private readonly stopGaps: Array<() => void> = []

  constructor(options: RedisEventBusOptions) {
    this.log = options.logger.child({ component: 'events' })
    this.prefix = options.prefix
    this.redis = options.redis
    this.pubsub = new RedisPubSub({
      publisher: publisherFor(this.redis),
      subscriber: subscriberFor(this.redis, this.log),
      messageEventName: this.redis.messageEvent,
      // Once per message, before the library hands it to each listener of its channel.
      deserializer: (source) => {
        const event = JSON.parse(source.toString()) as { kind: string }
        options.onEvent?.(event.kind)
        return event
      },
    })
  }

  async publish<T extends Topic>(topic: T, event: TopicEvents[T]): Promise<void> {
    try {
      await this.pubsub.publish(this.prefix + topic, event)
    } catch (error) {
      this.log.warn({ topic, err: (error as Error).message }, 'event lost: Redis publish failed')
    }
  }

  async subscribe<T extends Topic>(topic: T, listener: EventListener<TopicEvents[T]>): Promise<BusSubscription> {
    const channel = this.prefix + topic
    const subscriptionId = await this.pubsub.subscribe(channel, (event: TopicEvents[T]) => listener.hear(event))
    this.topicRefs.set(channel, (this.topicRefs.get(channel) ?? 0) + 1)
    return new RedisSubscription(this.pubsub, this.topicRefs, channel, subscriptionId)
  }

  activeTopics(): number {
    return this.topicRefs.size
  }

  onGap(listener: () => void): () => void {
    const stop = this.redis.onGap(listener)
    this.stopGaps.push(stop)
    return stop
  }

  /** The connections are the app's to close; only local listeners go. */
  async close(): Promise<void> {
    for (const stop of this.stopGaps) stop()
    this.topicRefs.clear()
  }
}

/** One subscribe call: unsubscribes from the library once, and counts the channel down. */
class RedisSubscription implements BusSubscription {
  private done = false

  constructor(
    private readonly pubsub: RedisPubSub,
    private readonly topicRefs: Map<string, number>,
    private readonly channel: string,
    private readonly subscriptionId: number,
  ) {}

  async unsubscribe(): Promise<void> {
    if (this.done) return
    this.done = true
    this.pubsub.unsubscribe(this.subscriptionId)
    const refs = (this.topicRefs.get(this.channel) ?? 1) - 1
    if (refs === 0) this.topicRefs.delete(this.channel)
    else this.topicRefs.set(this.channel, refs)
  }
}

/**
 * The subscriber connection as graphql-redis-subscriptions uses it, on one node or a cluster's
 * shards (SSUBSCRIBE, whose messages come as `smessage`). The library fires its unsubscribes and
 * forgets them, so one that fails (the connection closing at shutdown) would be an unhandled
 * rejection: here it is caught. It also sends a PUNSUBSCRIBE with every UNSUBSCRIBE; Hush never
 * subscribes by pattern, so that one is skipped.
 */
function subscriberFor(redis: RedisConnections, log: Logger): Redis {
  const client = {
    on(event: string, listener: (...args: unknown[]) => void) {
      redis.subscriber.on(event, listener)
      return client
    },
    subscribe: (channel: string, callback: (error?: Error | null) => void) => redis.subscribe(channel).then(() => callback(), callback),
    unsubscribe: (channel: string) => redis.unsubscribe(channel).catch((error: Error) => log.debug({ channel, err: error.message }, 'unsubscribe failed')),
    punsubscribe: () => Promise.resolve(),
  }
  return client as unknown as Redis
}

/** The publisher as graphql-redis-subscriptions uses it: PUBLISH, or SPUBLISH on a cluster. */
function publisherFor(redis: RedisConnections): Redis {
  return { publish: (channel: string, message: string) => redis.publish(channel, message) } as unknown as Redis
}
