import { randomUUID } from 'node:crypto'
import { other, toMessageView, type ChatService, type MessageView, type ParticipantView } from './chats.js'
import { badInput, DomainError } from './errors.js'
import { EventQueue } from './event-queue.js'
import { topics, type ChatBusEvent, type ChatCloseReason, type EventBus, type UserBusEvent } from './events.js'
import type { ChatStore, Clock, MessageRecord, PresenceEntry, PresenceStore, Viewer } from './ports.js'
import type { TypingTracker } from './typing.js'

/** What a chatEvents subscriber receives; everything about "the peer" is about the other side. */
export type ChatEventView =
  | { kind: 'message'; chatId: string; message: MessageView }
  | { kind: 'typing'; chatId: string; typing: boolean }
  | { kind: 'receipt'; chatId: string; peerDeliveredSeq: number; peerReadSeq: number }
  | { kind: 'presence'; chatId: string; peerPresent: boolean }
  | { kind: 'closed'; chatId: string; reason: ChatCloseReason }

export type NotificationView =
  | { kind: 'chatStarted'; chatId: string; postId: string; peer: ParticipantView }
  | { kind: 'newMessage'; chatId: string; message: MessageView; unreadCount: number }
  | { kind: 'chatClosed'; chatId: string; reason: ChatCloseReason }

export interface LiveServiceOptions {
  chats: ChatStore
  chatService: ChatService
  events: EventBus
  presence: PresenceStore
  typing: TypingTracker
  clock: Clock
  /** Events one subscription may hold unread before its client is cut off. */
  maxQueuedEvents: number
  /** A presence entry lives this long without a heartbeat (SPEC: peer absent within 30 s). */
  presenceTtlMs: number
}

/** Work items of one chatEvents pump, handled strictly one after another. */
type ChatTask = ChatBusEvent | { kind: 'replay' } | { kind: 'expiry-check' }

const REPLAY_PAGE = 100
/** Typing is authorised from a chat read at most this long ago (typing is frequent and harmless). */
const TYPING_AUTH_MAX_AGE_MS = 2_000
/** Delivery marks of a subscription are written at most this often. */
const RECEIPT_DELAY_MS = 100
/** setTimeout's ceiling (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * The live half of Hush: per-chat event streams with gap-free message delivery, per-user
 * notifications, typing and presence.
 */
export class LiveService {
  /** This process's open chatEvents subscriptions, heartbeated into the presence store. */
  private readonly present = new Map<string, PresenceEntry>()
  private readonly heartbeat: NodeJS.Timeout
  private readonly sweeper: NodeJS.Timeout

  constructor(private readonly deps: LiveServiceOptions) {
    const { presenceTtlMs } = deps
    this.heartbeat = setInterval(() => void this.beat(), Math.max(50, presenceTtlMs / 3))
    this.sweeper = setInterval(() => void this.sweep(), Math.max(50, presenceTtlMs / 6))
    this.heartbeat.unref()
    this.sweeper.unref()
  }

  /**
   * Every stored message with seq > afterSeq (none when afterSeq is omitted), then live events.
   * Messages arrive in seq order without gaps or duplicates: the channel is subscribed before the
   * store is read, and a live message ahead of the last delivered seq is preceded by the missing
   * ones read from the store (so a lost Redis event costs a read, never a message).
   *
   * Authorisation happens here, before any iterator exists: NOT_FOUND for anyone but the two
   * participants of a live chat.
   */
  async chatEvents(
    viewer: Viewer,
    chatId: string,
    afterSeq: number | null | undefined,
    onOverflow?: () => void,
  ): Promise<AsyncIterableIterator<ChatEventView>> {
    if (afterSeq !== null && afterSeq !== undefined && (!Number.isInteger(afterSeq) || afterSeq < 0)) {
      throw badInput('afterSeq must be a whole number from 0.')
    }
    const { chatService, chats, events, presence, typing, clock } = this.deps
    const { side } = await chatService.require(viewer, chatId)

    const subscriptionId = randomUUID()
    const inbox: ChatTask[] = [{ kind: 'replay' }]
    let pumping = false
    let lastDelivered = 0
    let expiresAt = 0
    let expiryTimer: NodeJS.Timeout | undefined
    let deliveredFromPeer = 0
    let markedDelivered = 0
    let receiptTimer: NodeJS.Timeout | undefined
    let closeSubscription: () => Promise<void> = async () => {}

    const queue = new EventQueue<ChatEventView>(
      this.deps.maxQueuedEvents,
      () => void closeSubscription(),
      onOverflow,
    )

    const armExpiry = (at: number) => {
      if (at <= expiresAt && expiryTimer) return
      expiresAt = at
      clearTimeout(expiryTimer)
      expiryTimer = setTimeout(() => {
        inbox.push({ kind: 'expiry-check' })
        void pump()
      }, Math.min(MAX_TIMER_MS, Math.max(0, at - clock.now())))
      expiryTimer.unref()
    }

    const deliverStoredAfter = async (from: number, before?: number) => {
      for (;;) {
        const page = await chats.listMessages(chatId, { afterSeq: from, beforeSeq: before, limit: REPLAY_PAGE, fromEnd: false })
        for (const message of page) deliverMessage(message)
        if (page.length < REPLAY_PAGE) return
        from = page.at(-1)!.seq
      }
    }

    const deliverMessage = (message: MessageRecord) => {
      if (message.seq <= lastDelivered) return
      queue.push({ kind: 'message', chatId, message: toMessageView(message, viewer.userId) })
      lastDelivered = message.seq
      if (message.senderId !== viewer.userId) deliveredFromPeer = Math.max(deliveredFromPeer, message.seq)
    }

    const close = (reason: ChatCloseReason) => {
      queue.push({ kind: 'closed', chatId, reason })
      queue.end()
    }

    const handle = async (task: ChatTask) => {
      switch (task.kind) {
        case 'replay': {
          // Read after the channel is live: whatever is published from here on reaches the inbox.
          const found = await chats.getChat(chatId)
          if (!found || found.expiresAt <= clock.now()) return close('EXPIRED')
          lastDelivered = afterSeq ?? found.lastSeq
          await deliverStoredAfter(lastDelivered)
          if (found.status !== 'ACTIVE') return close(found.status)
          armExpiry(found.expiresAt)
          return
        }
        case 'message': {
          const { message } = task
          if (message.seq > lastDelivered + 1) await deliverStoredAfter(lastDelivered, message.seq)
          deliverMessage(message)
          armExpiry(task.expiresAt)
          return
        }
        case 'typing':
          if (task.userId !== viewer.userId) queue.push({ kind: 'typing', chatId, typing: task.typing })
          return
        case 'receipt':
          if (task.userId !== viewer.userId) {
            queue.push({ kind: 'receipt', chatId, peerDeliveredSeq: task.deliveredSeq, peerReadSeq: task.readSeq })
          }
          return
        case 'presence':
          if (task.userId !== viewer.userId) queue.push({ kind: 'presence', chatId, peerPresent: task.present })
          return
        case 'closed':
          return close(task.reason)
        case 'expiry-check': {
          const found = await chats.getChat(chatId)
          if (!found || found.expiresAt <= clock.now()) return close('EXPIRED')
          expiryTimer = undefined
          armExpiry(found.expiresAt)
          return
        }
      }
    }

    const pump = async () => {
      if (pumping) return
      pumping = true
      try {
        while (inbox.length > 0 && !queue.isEnded) await handle(inbox.shift()!)
      } catch (error) {
        queue.fail(error)
      } finally {
        pumping = false
      }
      // A message pushed to a live subscription of the recipient counts as delivered. Marks are
      // coalesced: one write (and one receipt) per burst of messages, not one per message.
      if (deliveredFromPeer > markedDelivered && !receiptTimer) {
        receiptTimer = setTimeout(() => {
          receiptTimer = undefined
          if (deliveredFromPeer <= markedDelivered) return
          markedDelivered = deliveredFromPeer
          void chatService.markDelivered(chatId, side, viewer.userId, markedDelivered).catch(() => undefined)
        }, RECEIPT_DELAY_MS)
        receiptTimer.unref()
      }
    }

    const unsubscribe = await events.subscribe(topics.chat(chatId), (event) => {
      inbox.push(event)
      void pump()
    })
    const entry = { chatId, userId: viewer.userId, subscriptionId }
    this.present.set(subscriptionId, entry)
    closeSubscription = async () => {
      clearTimeout(expiryTimer)
      this.present.delete(subscriptionId)
      await unsubscribe()
      await typing.stop(chatId, viewer.userId)
      if (await presence.leave(chatId, viewer.userId, subscriptionId).catch(() => false)) {
        await events.publish(topics.chat(chatId), { kind: 'presence', chatId, userId: viewer.userId, present: false })
      }
    }
    if (await presence.join(chatId, viewer.userId, subscriptionId, this.deps.presenceTtlMs)) {
      await events.publish(topics.chat(chatId), { kind: 'presence', chatId, userId: viewer.userId, present: true })
    }
    void pump()
    return queue
  }

  /** The caller's private stream, on every device, whichever process each is connected to. */
  async notifications(viewer: Viewer, onOverflow?: () => void): Promise<AsyncIterableIterator<NotificationView>> {
    let unsubscribe: () => Promise<void> = async () => {}
    const queue = new EventQueue<NotificationView>(this.deps.maxQueuedEvents, () => void unsubscribe(), onOverflow)
    unsubscribe = await this.deps.events.subscribe(topics.user(viewer.userId), (event: UserBusEvent) => {
      queue.push(
        event.kind === 'newMessage' ? { ...event, message: toMessageView(event.message, viewer.userId) } : event,
      )
    })
    return queue
  }

  async setTyping(viewer: Viewer, chatId: string, typing: boolean): Promise<boolean> {
    const { chat } = await this.deps.chatService.requireRecent(viewer, chatId, TYPING_AUTH_MAX_AGE_MS)
    if (chat.status !== 'ACTIVE') throw new DomainError('CHAT_CLOSED', 'This chat is closed.')
    await this.deps.typing.set(chatId, viewer.userId, typing)
    return true
  }

  /** True while the caller's peer has a chatEvents subscription open on the chat. */
  async peerPresent(viewer: Viewer, chatId: string): Promise<boolean> {
    const { chat, side } = await this.deps.chatService.require(viewer, chatId)
    return this.deps.presence.isPresent(chatId, chat[other(side)].userId)
  }

  close(): void {
    clearInterval(this.heartbeat)
    clearInterval(this.sweeper)
  }

  private async beat(): Promise<void> {
    await this.deps.presence.heartbeat([...this.present.values()], this.deps.presenceTtlMs).catch(() => undefined)
  }

  /** Reports users whose every subscription died with its process. */
  private async sweep(): Promise<void> {
    const gone = await this.deps.presence.sweepExpired().catch(() => [])
    for (const { chatId, userId } of gone) {
      await this.deps.events.publish(topics.chat(chatId), { kind: 'presence', chatId, userId, present: false })
    }
  }
}
