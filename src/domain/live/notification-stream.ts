import type { ChatAccess } from '../chats/chat-access.js'
import { toMessageView } from '../chats/views.js'
import { EventQueue, type QueueOwner } from '../event-queue.js'
import { topics, type ChatBusEvent, type EventBus, type Unsubscribe, type UserBusEvent } from '../events.js'
import type { ChatStore, Viewer } from '../ports.js'
import type { NotificationView } from './views.js'

export interface NotificationStreamDeps {
  chats: ChatStore
  access: ChatAccess
  events: EventBus
  /** Events one subscription may hold unread before its client is cut off. */
  maxQueuedEvents: number
}

/** A notifications stream listens to at most this many of the user's chats (100 live, plus slack). */
const NOTIFIED_CHATS_MAX = 200

/**
 * One notifications subscription: the user's channel says which chats to listen to, and each
 * chat's channel brings the messages for the user and the closes, so a message costs one event,
 * not one per audience.
 */
export class NotificationStream implements QueueOwner {
  readonly queue: EventQueue<NotificationView>
  /** Chat id → its channel's unsubscribe (undefined while subscribing). */
  private readonly listening = new Map<string, Unsubscribe | undefined>()
  /** Chats that produced a NewMessage here, so a catch-up read never repeats one (made on first use). */
  private notified: Set<string> | undefined
  private userChannel: Unsubscribe | undefined
  private readonly onChatEvent = (event: ChatBusEvent) => this.heard(event)

  constructor(
    private readonly deps: NotificationStreamDeps,
    private readonly viewer: Viewer,
    onOverflow: (() => void) | undefined,
  ) {
    this.queue = new EventQueue<NotificationView>(deps.maxQueuedEvents, this, onOverflow)
  }

  async open(): Promise<void> {
    const { events, chats } = this.deps
    this.userChannel = await events.subscribe(topics.user(this.viewer.userId), (event: UserBusEvent) => {
      if (event.kind === 'chatStarted') this.queue.push(event)
      void this.listenFromStart(event.chatId).catch((error: unknown) => this.queue.fail(error))
    })
    const chatIds = await chats.listChatIds(this.viewer.userId)
    await Promise.all(chatIds.slice(0, NOTIFIED_CHATS_MAX).map((chatId) => this.listen(chatId)))
  }

  private heard(event: ChatBusEvent): void {
    if (event.kind === 'message' && event.message.senderId !== this.viewer.userId) {
      this.notified ??= new Set()
      this.notified.add(event.chatId)
      this.queue.push({
        kind: 'newMessage',
        chatId: event.chatId,
        message: toMessageView(event.message, this.viewer.userId),
        unreadCount: event.recipientUnread,
      })
    } else if (event.kind === 'closed') {
      this.queue.push({ kind: 'chatClosed', chatId: event.chatId, reason: event.reason })
      const unsubscribe = this.listening.get(event.chatId)
      this.listening.delete(event.chatId)
      void unsubscribe?.()
    }
  }

  private async listen(chatId: string): Promise<void> {
    const { listening, queue } = this
    if (listening.has(chatId) || queue.isEnded || listening.size >= NOTIFIED_CHATS_MAX) return
    listening.set(chatId, undefined)
    const unsubscribe = await this.deps.events.subscribe(topics.chat(chatId), this.onChatEvent)
    if (queue.isEnded || !listening.has(chatId)) return void (await unsubscribe())
    listening.set(chatId, unsubscribe)
  }

  /** A chat that just started may have had its first message before its channel was heard. */
  private async listenFromStart(chatId: string): Promise<void> {
    await this.listen(chatId)
    const { viewer } = this
    const notified = (this.notified ??= new Set())
    const found = await this.deps.access.load(viewer, chatId)
    if (!found || found.chat.lastSeq === 0 || notified.has(chatId)) return
    const [latest] = await this.deps.chats.listMessages(chatId, { limit: 1, fromEnd: true })
    if (!latest || latest.senderId === viewer.userId || notified.has(chatId)) return
    notified.add(chatId)
    this.queue.push({ kind: 'newMessage', chatId, message: toMessageView(latest, viewer.userId), unreadCount: found.chat[found.side].unread })
  }

  queueClosed(): void {
    void this.close()
  }

  private async close(): Promise<void> {
    await this.userChannel?.()
    for (const unsubscribe of this.listening.values()) await unsubscribe?.()
    this.listening.clear()
  }
}
