import type { EventBus, EventListener, Topic, TopicEvents, Unsubscribe } from '../../domain/events.js'

/**
 * The EventBus of a single server process (no REDIS_URL). Events are copied through JSON and
 * delivered on a later tick, exactly as the Redis adapter would, so code that works on one works
 * on the other.
 */
export class InProcessEventBus implements EventBus {
  /** Per topic, one entry object per subscribe call (so one function subscribed twice counts twice). */
  private readonly listeners = new Map<Topic, Set<{ listener: EventListener<never> }>>()

  /** `onEvent`: told the kind of each event this process receives (once per event, however many listen). */
  constructor(private readonly options: { onEvent?: (kind: string) => void } = {}) {}

  async publish<T extends Topic>(topic: T, event: TopicEvents[T]): Promise<void> {
    const listeners = this.listeners.get(topic)
    if (!listeners) return
    const message = JSON.stringify(event)
    // One copy for all listeners, as the Redis adapter gives them: listeners only read events.
    setImmediate(() => {
      const copy = JSON.parse(message) as never
      this.options.onEvent?.(event.kind)
      for (const entry of listeners) entry.listener(copy)
    })
  }

  async subscribe<T extends Topic>(topic: T, listener: EventListener<TopicEvents[T]>): Promise<Unsubscribe> {
    let listeners = this.listeners.get(topic)
    if (!listeners) this.listeners.set(topic, (listeners = new Set()))
    const entry = { listener: listener as EventListener<never> }
    listeners.add(entry)
    return async () => {
      listeners.delete(entry)
      if (listeners.size === 0 && this.listeners.get(topic) === listeners) this.listeners.delete(topic)
    }
  }

  /** Nothing in one process is ever lost between publisher and subscriber. */
  onGap(): () => void {
    return () => {}
  }

  activeTopics(): number {
    return this.listeners.size
  }

  async close(): Promise<void> {
    this.listeners.clear()
  }
}
