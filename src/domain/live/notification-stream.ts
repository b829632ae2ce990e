import type { ChatAccess } from '../chats/chat-access.js'
import type { LiveChats } from '../chats/live-chats.js'
import { asCallerChat, toMessageView, type CallerChat } from '../chats/views.js'
import { EventQueue, type QueueBudget, type QueueOwner } from '../event-queue.js'
import { topics, type BusSubscription, type ChatBusEvent, type EventBus, type EventListener, type UserBusEvent } from '../events.js'
import type { ChatStore, Clock, Viewer } from '../ports.js'
import { sizeOfEvent, type NotificationView } from './views.js'

export interface NotificationStreamDeps {
  chats: ChatStore
  access: ChatAccess
  liveChats: LiveChats
  events: EventBus
  clock: Clock
  /** Told once when a stream ended; one function for all streams, not a closure each. */
  streamClosed: (stream: NotificationStream) => void
}

/** Messages read when catching up a chat: the newest of the peer's is among them unless the user replied to it since. */
const CATCH_UP_PAGE = 20

/** A chat the stream follows, as far as it knows it. */
interface Followed {
  /** Its channel's subscription; undefined while subscribing. */
  subscription: BusSubscription | undefined
  expiresAt: number
  /** Highest seq this stream heard of or notified; nothing at or below it is notified again. */
  seenSeq: number
  expiryPending: boolean
}

/**
 * One notifications subscription. It follows every open, live chat of the user: the user's
 * channel says which chats start, and each chat's channel brings the messages for the user and
 * the closes, so a message costs one event, not one per audience. A chat stops being followed
 * when it closes or expires (and says so). After a possible loss of events (the bus reconnected)
 * it catches up from the store: chats started, messages and closes it missed.
 */
export class NotificationStream implements QueueOwner, EventListener<UserBusEvent | ChatBusEvent> {
  readonly queue: EventQueue<NotificationView>
  private readonly followed = new Map<string, Followed>()
  private userChannel: BusSubscription | undefined
  private closed = false

  constructor(
    private readonly deps: NotificationStreamDeps,
    readonly viewer: Viewer,
    budget: QueueBudget,
  ) {
    this.queue = new EventQueue<NotificationView>(this, budget, sizeOfEvent)
  }

  async open(): Promise<void> {
    this.userChannel = await this.deps.events.subscribe(topics.user(this.viewer.userId), this)
    // A message stored between this read and the subscription is not notified: the app reads its
    // chats when it opens the stream anyway.
    const live = await this.liveChats()
    await Promise.all(live.map(({ chat }) => this.follow(chat.chatId, chat.lastSeq, chat.expiresAt)))
  }

  /** Events may have been lost: compare what the store says with what this stream knows. */
  async resync(): Promise<void> {
    const live = await this.liveChats()
    const liveIds = new Set(live.map(({ chat }) => chat.chatId))
    for (const found of live) {
      const { chat } = found
      if (this.followed.has(chat.chatId)) await this.catchUp(found)
      else {
        // Started while the stream was not hearing: by the peer, it is news.
        if (chat.b.userId === this.viewer.userId) {
          this.queue.push({ kind: 'chatStarted', chatId: chat.chatId, postId: chat.postId, peer: { alias: chat.a.alias, role: chat.a.role } })
        }
        if (await this.follow(chat.chatId, 0, chat.expiresAt)) await this.catchUp(found)
      }
    }
    for (const chatId of [...this.followed.keys()]) if (!liveIds.has(chatId)) await this.recheck(chatId)
  }

  /** Stops following chats past their expiry, once a read confirms it. */
  checkExpiry(now: number): void {
    for (const [chatId, followed] of this.followed) {
      if (followed.expiresAt > now || followed.expiryPending) continue
      followed.expiryPending = true
      void this.recheck(chatId).catch((error: unknown) => this.queue.fail(error))
    }
  }

  /** An event of the user's channel (a chat to follow) or of a followed chat's. */
  hear(event: UserBusEvent | ChatBusEvent): void {
    switch (event.kind) {
      case 'chatStarted':
        this.queue.push(event)
        return this.startFollowing(event.chatId)
      case 'chatJoined':
        return this.startFollowing(event.chatId)
      default:
        return this.heardInChat(event)
    }
  }

  private startFollowing(chatId: string): void {
    void this.followNew(chatId).catch((error: unknown) => this.queue.fail(error))
  }

  private heardInChat(event: ChatBusEvent): void {
    const followed = this.followed.get(event.chatId)
    if (!followed) return
    if (event.kind === 'message') {
      followed.expiresAt = Math.max(followed.expiresAt, event.expiresAt)
      if (event.message.seq <= followed.seenSeq) return
      followed.seenSeq = event.message.seq
      if (event.message.senderId === this.viewer.userId) return
      const message = toMessageView(event.message, this.viewer.userId)
      this.queue.push({ kind: 'newMessage', chatId: event.chatId, message, unreadCount: event.recipientUnread })
    } else if (event.kind === 'closed') {
      this.unfollow(event.chatId)
      this.queue.push({ kind: 'chatClosed', chatId: event.chatId, reason: event.reason })
    }
  }

  /** A chat the user just joined or was invited to: its first messages may predate its channel. */
  private async followNew(chatId: string): Promise<void> {
    // Its expiry is known once it is read; until then no expiry check reads it again.
    if (!(await this.follow(chatId, 0, Number.POSITIVE_INFINITY))) return
    // Read after subscribing: whatever came in between is either heard or read here.
    const found = await this.deps.access.load(this.viewer, chatId)
    const followed = this.followed.get(chatId)
    if (!found || !followed) return this.unfollow(chatId)
    followed.expiresAt = found.chat.expiresAt
    await this.catchUp(found)
  }

  /** Listens to the chat's channel; false when it is followed already (or the stream ended). */
  private async follow(chatId: string, seenSeq: number, expiresAt: number): Promise<boolean> {
    if (this.followed.has(chatId) || this.queue.isEnded) return false
    const followed: Followed = { subscription: undefined, expiresAt, seenSeq, expiryPending: false }
    this.followed.set(chatId, followed)
    const subscription = await this.deps.events.subscribe(topics.chat(chatId), this)
    if (this.queue.isEnded || this.followed.get(chatId) !== followed) {
      await subscription.unsubscribe()
      return false
    }
    followed.subscription = subscription
    return true
  }

  /**
   * Notifies the newest of the peer's messages this stream has not seen (one notification per
   * chat, with the chat's unread count, as a push would), and a close it missed.
   */
  private async catchUp({ chat, side }: CallerChat): Promise<void> {
    const followed = this.followed.get(chat.chatId)
    if (!followed) return
    followed.expiresAt = Math.max(followed.expiresAt, chat.expiresAt)
    if (chat.lastSeq > followed.seenSeq) {
      const unseen = await this.deps.chats.listMessages(chat.chatId, { afterSeq: followed.seenSeq, throughSeq: chat.lastSeq, limit: CATCH_UP_PAGE, fromEnd: true })
      followed.seenSeq = Math.max(followed.seenSeq, chat.lastSeq)
      const newest = unseen.findLast((message) => message.senderId !== this.viewer.userId)
      if (newest) {
        this.queue.push({ kind: 'newMessage', chatId: chat.chatId, message: toMessageView(newest, this.viewer.userId), unreadCount: chat[side].unread })
      }
    }
    if (chat.status !== 'ACTIVE') {
      this.unfollow(chat.chatId)
      this.queue.push({ kind: 'chatClosed', chatId: chat.chatId, reason: chat.status })
    }
  }

  /** Reads a followed chat again: gone (expired) or closed ends its following; else it goes on. */
  private async recheck(chatId: string): Promise<void> {
    const found = await this.deps.access.load(this.viewer, chatId)
    const followed = this.followed.get(chatId)
    if (!followed) return
    followed.expiryPending = false
    if (found) return this.catchUp(found)
    this.unfollow(chatId)
    this.queue.push({ kind: 'chatClosed', chatId, reason: 'EXPIRED' })
  }

  /** The user's open chats that have not expired, read afresh. */
  private async liveChats(): Promise<CallerChat[]> {
    const now = this.deps.clock.now()
    return (await this.deps.liveChats.of(this.viewer.userId)).flatMap((chat) => asCallerChat(chat, this.viewer.userId, now) ?? [])
  }

  private unfollow(chatId: string): void {
    const followed = this.followed.get(chatId)
    this.followed.delete(chatId)
    void followed?.subscription?.unsubscribe()
  }

  queueClosed(): void {
    void this.close()
  }

  private async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.deps.streamClosed(this)
    await this.userChannel?.unsubscribe()
    for (const followed of this.followed.values()) await followed.subscription?.unsubscribe()
    this.followed.clear()
  }
}
