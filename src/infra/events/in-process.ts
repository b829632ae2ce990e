import type { BusSubscription, EventBus, EventListener, Topic, TopicEvents } from '../../domain/events.js'

/**
 * The subscriptions of one topic. The first is held alone and only the others go in a Set: most
 * topics (a user's channel, with one device connected) have one subscriber, and a Set's table
 * costs more than the subscription. The topic's key is kept once here, not by each subscription.
 */
interface TopicListeners {
  readonly topic: Topic
  first: InProcessSubscription | undefined
  others: Set<InProcessSubscription> | undefined
}

/**
 * The EventBus of a single server process (no REDIS_URL). Events are copied through JSON and
 * delivered on a later tick, exactly as the Redis adapter would, so code that works on one works
 * on the other.
 */
export class InProcessEventBus implements EventBus {
  /** Per topic, one subscription object per subscribe call (so one listener subscribed twice hears twice). */
  private readonly topics = new Map<Topic, TopicListeners>()

  /** `onEvent`: told the kind of each event this process receives (once per event, however many listen). */
  constructor(private readonly options: { onEvent?: (kind: string) => void } = {}) {}

  async publish<T extends Topic>(topic: T, event: TopicEvents[T]): Promise<void> {
    const listeners = this.topics.get(topic)
    if (!listeners) return
    const message = JSON.stringify(event)
    // One copy for all listeners, as the Redis adapter gives them: listeners only read events.
    setImmediate(() => {
      const copy = JSON.parse(message) as never
      this.options.onEvent?.(event.kind)
      listeners.first?.listener.hear(copy)
      if (listeners.others) for (const subscription of listeners.others) subscription.listener.hear(copy)
    })
  }

  async subscribe<T extends Topic>(topic: T, listener: EventListener<TopicEvents[T]>): Promise<BusSubscription> {
    let listeners = this.topics.get(topic)
    if (!listeners) this.topics.set(topic, (listeners = { topic, first: undefined, others: undefined }))
    const subscription = new InProcessSubscription(this.topics, listeners, listener)
    if (!listeners.first) listeners.first = subscription
    else (listeners.others ??= new Set()).add(subscription)
    return subscription
  }

  /** Nothing in one process is ever lost between publisher and subscriber. */
  onGap(): () => void {
    return () => {}
  }

  activeTopics(): number {
    return this.topics.size
  }

  async close(): Promise<void> {
    this.topics.clear()
  }
}

/**
 * One subscribe call: a small object rather than an unsubscribe closure and its context, since a
 * process holds a few of them for every open connection.
 */
class InProcessSubscription implements BusSubscription {
  constructor(
    private readonly topics: Map<Topic, TopicListeners>,
    private readonly listeners: TopicListeners,
    readonly listener: EventListener<never>,
  ) {}

  async unsubscribe(): Promise<void> {
    const { topics, listeners } = this
    if (listeners.first === this) listeners.first = undefined
    else if (!listeners.others?.delete(this)) return
    if (listeners.others?.size === 0) listeners.others = undefined
    if (!listeners.first && !listeners.others && topics.get(listeners.topic) === listeners) topics.delete(listeners.topic)
  }
}
