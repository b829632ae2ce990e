import { other, toMessageView, type ChatService, type MessageView, type ParticipantView } from './chats.js'
import { badInput, DomainError, notFound } from './errors.js'
import { EventQueue, type QueueOwner } from './event-queue.js'
import { topics, type ChatBusEvent, type ChatCloseReason, type EventBus, type Unsubscribe, type UserBusEvent } from './events.js'
import type { ChatRecord, ChatSide, ChatStore, Clock, MessageRecord, PresenceStore, Viewer } from './ports.js'
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
  /** A process's presence entries live this long without its heartbeat (SPEC: peer absent within 30 s). */
  presenceTtlMs: number
}

/** Work items of one chatEvents stream, handled strictly one after another. */
type ChatTask = ChatBusEvent | { kind: 'replay' } | { kind: 'expiry-check' }

const REPLAY_PAGE = 100
/** A stream sends at most one delivery receipt per this long (one per burst of messages). */
const RECEIPT_DELAY_MS = 100
/**
 * A delivered mark is stored this long after its receipt went out, or when the stream closes,
 * unless the user's own message or read mark stored it meanwhile (a reply does, in its own
 * write). The live receipt already told the peer; a mark lost with a crashed process is set again
 * when the client reconnects and gets the messages replayed.
 */
const DELIVERED_STORE_DELAY_MS = 5_000
/** How often open streams are checked for their chat's expiry. */
const EXPIRY_CHECK_MS = 1_000
/** A notifications stream listens to at most this many of the user's chats (100 live, plus slack). */
const NOTIFIED_CHATS_MAX = 200

/**
 * The live half of Hush: per-chat event streams with gap-free message delivery, per-user
 * notifications, typing and presence.
 */
export class LiveService {
  private readonly heartbeat: NodeJS.Timeout
  private readonly sweeper: NodeJS.Timeout
  /** One timer for every open stream's expiry, rather than one per stream. */
  private readonly expiryClock: NodeJS.Timeout
  private readonly streams = new Set<ChatStream>()
  /** Delivery marks per chat and user, shared by the user's streams of the chat in this process. */
  private readonly deliveries = new Map<string, DeliveryMarks>()

  constructor(private readonly deps: LiveServiceOptions) {
    const { presenceTtlMs } = deps
    this.heartbeat = setInterval(() => void this.beat(), Math.max(50, presenceTtlMs / 3))
    this.sweeper = setInterval(() => void this.sweep(), Math.max(50, presenceTtlMs / 6))
    this.expiryClock = setInterval(() => this.checkExpiries(), EXPIRY_CHECK_MS)
    for (const timer of [this.heartbeat, this.sweeper, this.expiryClock]) timer.unref()
    void this.beat()
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
    const key = deliveryKey(chatId, viewer.userId)
    let marks = this.deliveries.get(key)
    if (!marks) this.deliveries.set(key, (marks = { streams: 0, sent: 0, stored: 0 }))
    marks.streams++
    const stream = new ChatStream(this.deps, viewer, chatId, afterSeq ?? undefined, marks, onOverflow, this)
    try {
      await stream.open()
    } catch (error) {
      this.streamClosed(stream)
      throw error
    }
    this.streams.add(stream)
    return stream.queue
  }

  /**
   * The caller's private stream, on every device, whichever process each is connected to. It
   * listens to the user's channel (chats started) and to each of the user's chats (messages for
   * them, closes), so a message costs one event, not one per audience.
   */
  async notifications(viewer: Viewer, onOverflow?: () => void): Promise<AsyncIterableIterator<NotificationView>> {
    const stream = new NotificationStream(this.deps, viewer, onOverflow)
    await stream.open()
    return stream.queue
  }

  async setTyping(viewer: Viewer, chatId: string, typing: boolean): Promise<boolean> {
    const { chat } = await this.deps.chatService.requireRecent(viewer, chatId)
    if (chat.status !== 'ACTIVE') throw new DomainError('CHAT_CLOSED', 'This chat is closed.')
    await this.deps.typing.set(chatId, viewer.userId, typing)
    return true
  }

  /** True while the caller's peer has a chatEvents subscription open on the chat. */
  async peerPresent(viewer: Viewer, chatId: string): Promise<boolean> {
    const { chat, side } = await this.deps.chatService.require(viewer, chatId)
    return this.deps.presence.isPresent(chatId, chat[other(side)].userId)
  }

  /** Called once by each chat stream that ended (or never opened). */
  streamClosed(stream: ChatStream): void {
    this.streams.delete(stream)
    if (--stream.delivered.streams === 0) this.deliveries.delete(deliveryKey(stream.chatId, stream.viewer.userId))
  }

  close(): void {
    clearInterval(this.heartbeat)
    clearInterval(this.sweeper)
    clearInterval(this.expiryClock)
  }

  private checkExpiries(): void {
    const now = this.deps.clock.now()
    for (const stream of this.streams) stream.checkExpiry(now)
  }

  private async beat(): Promise<void> {
    const back = await this.deps.presence.heartbeat().catch(() => [])
    for (const { chatId, userId } of back) {
      await this.deps.events.publish(topics.chat(chatId), { kind: 'presence', chatId, userId, present: true })
    }
  }

  /** Reports users whose every subscription died with its process. */
  private async sweep(): Promise<void> {
    const gone = await this.deps.presence.sweepExpired().catch(() => [])
    for (const { chatId, userId } of gone) {
      await this.deps.events.publish(topics.chat(chatId), { kind: 'presence', chatId, userId, present: false })
    }
  }
}

/**
 * One notifications subscription: the user's channel says which chats to listen to, and each
 * chat's channel brings the messages for the user and the closes.
 */
class NotificationStream implements QueueOwner {
  readonly queue: EventQueue<NotificationView>
  /** Chat id → its channel's unsubscribe (undefined while subscribing). */
  private readonly listening = new Map<string, Unsubscribe | undefined>()
  /** Chats that produced a NewMessage here, so a catch-up read never repeats one (made on first use). */
  private notified: Set<string> | undefined
  private userChannel: Unsubscribe | undefined
  private readonly onChatEvent = (event: ChatBusEvent) => this.heard(event)

  constructor(
    private readonly deps: LiveServiceOptions,
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
    const found = await this.deps.chatService.find(viewer, chatId)
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

const deliveryKey = (chatId: string, userId: string) => `${chatId} ${userId}`

/** Highest seq of the peer's messages sent as a receipt, and stored, by any of the streams. */
interface DeliveryMarks {
  streams: number
  sent: number
  stored: number
}

/**
 * One chatEvents subscription: its channel listener feeds an inbox that is worked off strictly in
 * order (a message may first need a read of the ones it skipped), into a bounded queue.
 */
class ChatStream implements QueueOwner {
  readonly queue: EventQueue<ChatEventView>
  /** Replaced by a fresh array when drained, so an idle stream keeps no grown backing store. */
  private inbox: ChatTask[] = []
  private pumping = false
  private unsubscribe: Unsubscribe | undefined
  private closed = false
  private side: ChatSide = 'a'
  private status: ChatRecord['status'] = 'ACTIVE'
  private lastDelivered = 0
  private expiresAt = 0
  private expiryPending = false
  /** Highest seq of the peer's messages pushed to this client. */
  private deliveredFromPeer = 0
  private receiptTimer: NodeJS.Timeout | undefined
  private storeTimer: NodeJS.Timeout | undefined
  /** The marks as this stream knows them, so that receipts never move back. */
  private ownReadSeq = 0
  private peerDeliveredSeq = 0
  private peerReadSeq = 0
  private peerTyping = false

  constructor(
    private readonly deps: LiveServiceOptions,
    readonly viewer: Viewer,
    readonly chatId: string,
    private readonly afterSeq: number | undefined,
    readonly delivered: DeliveryMarks,
    onOverflow: (() => void) | undefined,
    private readonly registry: Pick<LiveService, 'streamClosed'>,
  ) {
    this.queue = new EventQueue<ChatEventView>(deps.maxQueuedEvents, this, onOverflow)
  }

  /**
   * Subscribes the channel, then reads the chat once: that read authorises the caller (NOT_FOUND
   * for anyone but a participant of a live chat) and is the point from which nothing published is
   * missed. Throws, holding nothing, when the caller may not subscribe.
   */
  async open(): Promise<void> {
    const { events, presence, chatService } = this.deps
    const { chatId, viewer } = this
    this.unsubscribe = await events.subscribe(topics.chat(chatId), (event) => this.enqueue(event))
    let found: Awaited<ReturnType<ChatService['find']>>
    try {
      found = await chatService.find(viewer, chatId)
    } finally {
      if (!found) await this.unsubscribe()
    }
    if (!found) throw notFound('Chat')
    const { chat, side } = found
    this.side = side
    this.status = chat.status
    this.lastDelivered = this.afterSeq ?? chat.lastSeq
    this.expiresAt = chat.expiresAt
    this.delivered.stored = Math.max(this.delivered.stored, chat[side].deliveredSeq)
    this.ownReadSeq = chat[side].readSeq
    this.peerDeliveredSeq = chat[other(side)].deliveredSeq
    this.peerReadSeq = chat[other(side)].readSeq
    this.inbox.unshift({ kind: 'replay' })
    // Presence is best effort: a Redis outage must not refuse the subscription (or leak its channel).
    if (await presence.join(chatId, viewer.userId).catch(() => false)) {
      await events.publish(topics.chat(chatId), { kind: 'presence', chatId, userId: viewer.userId, present: true })
    }
    void this.pump()
  }

  checkExpiry(now: number): void {
    if (this.expiresAt > now || this.expiryPending) return
    this.expiryPending = true
    this.enqueue({ kind: 'expiry-check' })
  }

  private enqueue(task: ChatTask): void {
    this.inbox.push(task)
    // Until the chat is read (open), events only wait in the inbox.
    if (this.expiresAt > 0) void this.pump()
  }

  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.inbox.length > 0 && !this.queue.isEnded) await this.handle(this.inbox.shift()!)
      if (this.inbox.length === 0) this.inbox = []
    } catch (error) {
      this.queue.fail(error)
    } finally {
      this.pumping = false
    }
    if (this.deliveredFromPeer > this.delivered.sent && !this.receiptTimer && !this.closed) {
      this.receiptTimer = setTimeout(() => this.sendReceipt(), RECEIPT_DELAY_MS)
      this.receiptTimer.unref()
    }
  }

  private async handle(task: ChatTask): Promise<void> {
    const { queue, chatId, viewer } = this
    switch (task.kind) {
      case 'replay':
        if (this.afterSeq !== undefined) await this.deliverStoredAfter(this.afterSeq)
        if (this.status !== 'ACTIVE') return this.end(this.status)
        return
      case 'message': {
        const { message } = task
        if (message.seq > this.lastDelivered + 1) await this.deliverStoredAfter(this.lastDelivered, message.seq)
        this.deliver(message)
        this.expiresAt = Math.max(this.expiresAt, task.expiresAt)
        return
      }
      case 'typing':
        if (task.userId === viewer.userId) return
        this.peerTyping = task.typing
        queue.push({ kind: 'typing', chatId, typing: task.typing })
        return
      case 'receipt':
        if (task.userId === viewer.userId) {
          this.ownReadSeq = Math.max(this.ownReadSeq, task.readSeq)
          if (task.stored) this.delivered.stored = Math.max(this.delivered.stored, task.deliveredSeq)
          return
        }
        if (task.deliveredSeq <= this.peerDeliveredSeq && task.readSeq <= this.peerReadSeq) return
        this.peerDeliveredSeq = Math.max(this.peerDeliveredSeq, task.deliveredSeq)
        this.peerReadSeq = Math.max(this.peerReadSeq, task.readSeq)
        queue.push({ kind: 'receipt', chatId, peerDeliveredSeq: this.peerDeliveredSeq, peerReadSeq: this.peerReadSeq })
        return
      case 'presence':
        if (task.userId !== viewer.userId) queue.push({ kind: 'presence', chatId, peerPresent: task.present })
        return
      case 'closed':
        return this.end(task.reason)
      case 'expiry-check': {
        const found = await this.deps.chats.getChat(chatId)
        this.expiryPending = false
        if (!found || found.expiresAt <= this.deps.clock.now()) return this.end('EXPIRED')
        this.expiresAt = found.expiresAt
        return
      }
    }
  }

  private async deliverStoredAfter(from: number, before?: number): Promise<void> {
    for (;;) {
      const page = await this.deps.chats.listMessages(this.chatId, { afterSeq: from, beforeSeq: before, limit: REPLAY_PAGE, fromEnd: false })
      for (const message of page) this.deliver(message)
      if (page.length < REPLAY_PAGE) return
      from = page.at(-1)!.seq
    }
  }

  private deliver(message: MessageRecord): void {
    if (message.seq <= this.lastDelivered) return
    const fromPeer = message.senderId !== this.viewer.userId
    // A message of the peer ends its typing; the typist's process sends no event for that.
    if (fromPeer && this.peerTyping) {
      this.peerTyping = false
      this.queue.push({ kind: 'typing', chatId: this.chatId, typing: false })
    }
    this.queue.push({ kind: 'message', chatId: this.chatId, message: toMessageView(message, this.viewer.userId) })
    this.lastDelivered = message.seq
    if (fromPeer) this.deliveredFromPeer = Math.max(this.deliveredFromPeer, message.seq)
    // The user's own send stored their delivered mark up to its seq, in the same write.
    else this.delivered.stored = Math.max(this.delivered.stored, message.seq)
  }

  private end(reason: ChatCloseReason): void {
    this.queue.push({ kind: 'closed', chatId: this.chatId, reason })
    this.queue.end()
  }

  /** A message pushed to a live subscription of the recipient counts as delivered. */
  private sendReceipt(): void {
    this.receiptTimer = undefined
    const { delivered } = this
    if (this.deliveredFromPeer <= delivered.sent) return
    delivered.sent = this.deliveredFromPeer
    void this.deps.chatService.publishReceipt(this.chatId, this.viewer.userId, { readSeq: this.ownReadSeq, deliveredSeq: delivered.sent }, false)
    if (!this.storeTimer && !this.closed) {
      this.storeTimer = setTimeout(() => this.storeDelivered(), DELIVERED_STORE_DELAY_MS)
      this.storeTimer.unref()
    }
  }

  private storeDelivered(): void {
    this.storeTimer = undefined
    const { delivered } = this
    if (delivered.sent <= delivered.stored) return
    delivered.stored = delivered.sent
    void this.deps.chatService.storeDelivered(this.chatId, this.side, delivered.stored).catch(() => undefined)
  }

  queueClosed(): void {
    void this.close()
  }

  private async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.registry.streamClosed(this)
    clearTimeout(this.receiptTimer)
    clearTimeout(this.storeTimer)
    this.sendReceipt()
    this.storeDelivered()
    const { events, presence, typing } = this.deps
    const { chatId, viewer } = this
    await this.unsubscribe?.()
    await typing.stop(chatId, viewer.userId)
    if (await presence.leave(chatId, viewer.userId).catch(() => false)) {
      await events.publish(topics.chat(chatId), { kind: 'presence', chatId, userId: viewer.userId, present: false })
    }
  }
}
