/**
 * The one typed map of event topics: one channel per entity, never a global channel filtered per
 * subscriber. Payloads are plain JSON so every EventBus adapter carries them alike.
 */

export type ChatTopic = `chat:${string}`
export type UserTopic = `user:${string}`
export type Topic = ChatTopic | UserTopic

export const topics = {
  chat: (chatId: string): ChatTopic => `chat:${chatId}`,
  user: (userId: string): UserTopic => `user:${userId}`,
}

export type EventListener = (event: unknown) => void

export type Unsubscribe = () => Promise<void>

/**
 * Carries events between server processes. `subscribe` resolves once the subscription is live, so
 * a caller can subscribe first and then read the store without missing what falls in between.
 * Delivery is at most once: a consumer that must not lose events reconciles with the store.
 */
export interface EventBus {
  publish(topic: Topic, event: unknown): Promise<void>
  subscribe(topic: Topic, listener: EventListener): Promise<Unsubscribe>
  /** Number of topics this process holds a subscription for (for leak checks). */
  activeTopics(): number
  close(): Promise<void>
}
