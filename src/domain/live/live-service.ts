import type { ChatAccess } from '../chats/chat-access.js'
import type { LiveChats } from '../chats/live-chats.js'
import type { ReceiptService } from '../chats/receipts.js'
import { other } from '../chats/views.js'
import { badInput, DomainError } from '../errors.js'
import { ByteBudget, type QueueBudget } from '../event-queue.js'
import type { EventBus } from '../events.js'
import type { Cancel, ChatStore, Clock, Viewer } from '../ports.js'
import { ChatStream, type ChatStreamDeps } from './chat-stream.js'
import type { SharedDelivery } from './delivery.js'
import { NotificationStream, type NotificationStreamDeps } from './notification-stream.js'
import type { OnlineTracker } from '../push/online.js'
import type { PresenceTracker } from './presence.js'
import type { TypingTracker } from './typing.js'
import type { ChatEventView, NotificationView } from './views.js'

export interface LiveServiceOptions {
  chats: ChatStore
  access: ChatAccess
  liveChats: LiveChats
  receipts: ReceiptService
  events: EventBus
  presence: PresenceTracker
  /** Counts the user's open streams, so that pushes go only to users with none. */
  online: OnlineTracker
  typing: TypingTracker
  clock: Clock
  /** Bytes of unread events a subscription may hold when its transport gives it no budget of its own. */
  maxQueuedBytes: number
}

/** How often open streams are checked for their chat's expiry. */
const EXPIRY_CHECK_MS = 1_000

/**
 * The live half of Hush: per-chat event streams with gap-free message delivery, per-user
 * notifications, typing and presence.
 */
export class LiveService {
  private readonly timers: Cancel[]
  private readonly chatStreams = new Set<ChatStream>()
  private readonly notificationStreams = new Set<NotificationStream>()
  /** Delivery marks per chat and user, shared by the user's streams of the chat in this process. */
  private readonly deliveries = new Map<string, SharedDelivery>()
  /** What every stream gets, with the one callback each calls when it ends. */
  private readonly chatStreamDeps: ChatStreamDeps
  private readonly notificationStreamDeps: NotificationStreamDeps

  constructor(private readonly deps: LiveServiceOptions) {
    this.chatStreamDeps = { ...deps, streamClosed: (stream) => this.chatStreamClosed(stream) }
    this.notificationStreamDeps = { ...deps, streamClosed: (stream) => this.notificationStreamClosed(stream) }
    // One timer for every open stream's expiry, rather than one per stream.
    this.timers = [deps.clock.every(EXPIRY_CHECK_MS, () => this.checkExpiries()), deps.events.onGap(() => this.resyncAll())]
  }

  /**
   * Every stored message with seq > afterSeq (none when afterSeq is omitted), then live events.
   * Messages arrive in seq order without gaps or duplicates: the channel is subscribed before the
   * store is read, and a live message ahead of the last delivered seq is preceded by the missing
   * ones read from the store (so a lost event costs a read, never a message).
   *
   * Authorisation happens here, before any iterator exists: NOT_FOUND for anyone but the two
   * participants of a live chat. `budget` bounds the bytes of events left unread (the socket's,
   * shared by all its subscriptions); past it the stream fails with SlowConsumerError.
   */
  async chatEvents(viewer: Viewer, chatId: string, afterSeq: number | null | undefined, budget?: QueueBudget): Promise<AsyncIterableIterator<ChatEventView>> {
    if (afterSeq !== null && afterSeq !== undefined && (!Number.isInteger(afterSeq) || afterSeq < 0)) {
      throw badInput('afterSeq must be a whole number from 0.')
    }
    // Online before the subscription answers, so no push follows a subscribe (left in chatStreamClosed).
    await this.deps.online.join(viewer.userId)
    const key = deliveryKey(chatId, viewer.userId)
    let shared = this.deliveries.get(key)
    if (!shared) this.deliveries.set(key, (shared = { streams: 0, sent: 0, stored: 0 }))
    shared.streams++
    const stream = new ChatStream(this.chatStreamDeps, viewer, chatId, afterSeq ?? undefined, shared, budget ?? this.ownBudget())
    try {
      await stream.open()
    } catch (error) {
      this.chatStreamClosed(stream)
      throw error
    }
    this.chatStreams.add(stream)
    return stream.queue
  }

  /** The caller's private stream, on every device, whichever process each is connected to. */
  async notifications(viewer: Viewer, budget?: QueueBudget): Promise<AsyncIterableIterator<NotificationView>> {
    // Online before the subscription answers, so no push follows a subscribe.
    await this.deps.online.join(viewer.userId)
    const stream = new NotificationStream(this.notificationStreamDeps, viewer, budget ?? this.ownBudget())
    try {
      await stream.open()
    } catch (error) {
      stream.queue.fail(error)
      throw error
    }
    this.notificationStreams.add(stream)
    return stream.queue
  }

  async setTyping(viewer: Viewer, chatId: string, typing: boolean): Promise<boolean> {
    const { chat } = await this.deps.access.require(viewer, chatId, 'recent')
    if (chat.status !== 'ACTIVE') throw new DomainError('CHAT_CLOSED', 'This chat is closed.')
    await this.deps.typing.set(chatId, viewer.userId, typing)
    return true
  }

  /** True while the caller's peer has a chatEvents subscription open on the chat. */
  async peerPresent(viewer: Viewer, chatId: string): Promise<boolean> {
    const { chat, side } = await this.deps.access.require(viewer, chatId)
    return this.deps.presence.isPresent(chatId, chat[other(side)].userId)
  }

  /** Streams open in this process, for metrics. */
  streamCounts(): { chatEvents: number; notifications: number } {
    return { chatEvents: this.chatStreams.size, notifications: this.notificationStreams.size }
  }

  close(): void {
    for (const cancel of this.timers) cancel()
  }

  private ownBudget(): QueueBudget {
    return new ByteBudget(this.deps.maxQueuedBytes)
  }

  /** Called once by each chat stream that ended (or never opened). */
  private chatStreamClosed(stream: ChatStream): void {
    this.chatStreams.delete(stream)
    void this.deps.online.leave(stream.viewer.userId)
    if (--stream.delivered.streams === 0) this.deliveries.delete(deliveryKey(stream.chatId, stream.viewer.userId))
  }

  /** Called once by each notifications stream that ended. */
  private notificationStreamClosed(stream: NotificationStream): void {
    this.notificationStreams.delete(stream)
    void this.deps.online.leave(stream.viewer.userId)
  }

  private checkExpiries(): void {
    const now = this.deps.clock.now()
    for (const stream of this.chatStreams) stream.checkExpiry(now)
    for (const stream of this.notificationStreams) stream.checkExpiry(now)
  }

  /** Events may have been lost for every stream of this process: each catches up from the store. */
  private resyncAll(): void {
    for (const stream of this.chatStreams) stream.resync()
    for (const stream of this.notificationStreams) void stream.resync().catch((error: unknown) => stream.queue.fail(error))
  }
}

const deliveryKey = (chatId: string, userId: string) => `${chatId} ${userId}`
