import type { ChatStatus, MessageRecord, ParticipantRole } from './ports.js'

/**
 * The one typed map of event topics: one channel per entity, never a global channel filtered per
 * subscriber. Payloads are plain JSON (they cross Redis) and stay inside the server: they may name
 * user ids, which the subscription layer turns into "me"/"peer" before anything reaches a client.
 */

export type ChatTopic = `chat:${string}`
export type UserTopic = `user:${string}`
export type Topic = ChatTopic | UserTopic

export type ChatCloseReason = Exclude<ChatStatus, 'ACTIVE'> | 'EXPIRED'

/**
 * What happens in one chat, published on `chat:<chatId>`: one PUBLISH per event. Both sides'
 * chatEvents and notifications subscriptions listen here, so a message needs no second event for
 * the recipient's notifications, nor a typing=false for the typist.
 */
export type ChatBusEvent =
  | {
      kind: 'message'
      chatId: string
      message: MessageRecord
      expiresAt: number
      /** The recipient's unread count once this message is counted (for its notification). */
      recipientUnread: number
    }
  | { kind: 'typing'; chatId: string; userId: string; typing: boolean }
  /**
   * A participant's marks as far as the publisher knows them; receivers keep the highest.
   * `stored`: already written (markRead, history reads), not only sent from a live stream.
   */
  | { kind: 'receipt'; chatId: string; userId: string; readSeq: number; deliveredSeq: number; stored: boolean }
  | { kind: 'presence'; chatId: string; userId: string; present: boolean }
  | { kind: 'closed'; chatId: string; reason: ChatCloseReason }

/** What one user hears about, published on `user:<userId>`: the chats they have to listen to. */
export type UserBusEvent =
  /** Someone opened a chat with the user. */
  | { kind: 'chatStarted'; chatId: string; postId: string; peer: { alias: string; role: ParticipantRole } }
  /** The user opened a chat (on one of their devices); their notifications listen to it too. */
  | { kind: 'chatJoined'; chatId: string }

export interface TopicEvents {
  [topic: ChatTopic]: ChatBusEvent
  [topic: UserTopic]: UserBusEvent
}

export const topics = {
  chat: (chatId: string): ChatTopic => `chat:${chatId}`,
  user: (userId: string): UserTopic => `user:${userId}`,
}

/**
 * Who hears a topic's events: an object rather than a function, so that a stream is its own
 * listener and holds no closure (and closure context) per channel it follows.
 */
export interface EventListener<E = unknown> {
  hear(event: E): void
}

/** One subscribe call's hold on its topic. */
export interface BusSubscription {
  /** Stops the calls to its listener (the topic goes with its last subscription); later calls do nothing. */
  unsubscribe(): Promise<void>
}

/**
 * Carries events between server processes. `subscribe` resolves once the subscription is live, so
 * a caller can subscribe first and then read the store without missing what falls in between.
 * Delivery is at most once: a consumer that must not lose events reconciles with the store.
 * `publish` never rejects: an event that cannot be sent is logged and lost, never the write
 * that caused it.
 */
export interface EventBus {
  publish<T extends Topic>(topic: T, event: TopicEvents[T]): Promise<void>
  subscribe<T extends Topic>(topic: T, listener: EventListener<TopicEvents[T]>): Promise<BusSubscription>
  /**
   * Calls `listener` whenever events may have been lost for this process's subscribers (the bus
   * was cut off from its broker and is back), so that they reconcile with the store at once
   * instead of at their next event. Returns a function that stops the calls.
   */
  onGap(listener: () => void): () => void
  /** Number of topics this process holds a subscription for (for leak checks). */
  activeTopics(): number
  close(): Promise<void>
}
