import type { EventBus, EventListener, Topic, TopicEvents, Unsubscribe } from '../../domain/events.js'

/**
 * An EventBus that reports each event it hands to a listener (by kind) and passes everything
 * else through: the metrics of what the streams of this process receive, whichever bus carries it.
 */
export class ObservedEventBus implements EventBus {
  constructor(
    private readonly bus: EventBus,
    private readonly onEvent: (kind: string) => void,
  ) {}

  publish<T extends Topic>(topic: T, event: TopicEvents[T]): Promise<void> {
    return this.bus.publish(topic, event)
  }

  subscribe<T extends Topic>(topic: T, listener: EventListener<TopicEvents[T]>): Promise<Unsubscribe> {
    return this.bus.subscribe(topic, (event: TopicEvents[T]) => {
      this.onEvent(event.kind)
      listener(event)
    })
  }

  onGap(listener: () => void): () => void {
    return this.bus.onGap(listener)
  }

  activeTopics(): number {
    return this.bus.activeTopics()
  }

  close(): Promise<void> {
    return this.bus.close()
  }
}
