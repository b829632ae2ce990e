import type { ChatAccess } from '../chats/chat-access.js'
import type { ReceiptService } from '../chats/receipts.js'
import { other, toMessageView, type CallerChat } from '../chats/views.js'
import { notFound } from '../errors.js'
import { EventQueue, type QueueBudget, type QueueOwner } from '../event-queue.js'
import { topics, type BusSubscription, type ChatBusEvent, type ChatCloseReason, type EventBus, type EventListener } from '../events.js'
import type { ChatStatus, ChatStore, Clock, MessageRecord, Viewer } from '../ports.js'
import { DeliveryReceipts, type SharedDelivery } from './delivery.js'
import { StreamInbox, type ChatTask } from './inbox.js'
import type { PresenceTracker } from './presence.js'
import { Throttle } from './throttle.js'
import type { TypingTracker } from './typing.js'
import { sizeOfEvent, type ChatEventView } from './views.js'

export interface ChatStreamDeps {
  chats: ChatStore
  access: ChatAccess
  receipts: ReceiptService
  events: EventBus
  presence: PresenceTracker
  typing: TypingTracker
  clock: Clock
  /** Told once when a stream ended (or never opened); one function for all streams, not a closure each. */
  streamClosed: (stream: ChatStream) => void
}

/** Stored messages read per query while replaying. */
const REPLAY_PAGE = 50
/** A replay pushes at the client's pace: at most this many of its messages wait unread. */
const REPLAY_AHEAD = 16
/** Tasks a stream holds before it compacts them (see StreamInbox). */
const INBOX_MAX = 256
/** The peer's typing reaches the client at most once per this long (the latest state wins). */
const TYPING_INTERVAL_MS = 500
/** The peer's presence reaches the client at most once per this long. */
const PRESENCE_INTERVAL_MS = 1_000

/**
 * The marks of both sides as one stream knows them, so that receipts never move back, and the peer's
 * marks as last told to the client, so that a receipt goes out only when they moved.
 */
class KnownMarks {
  ownReadSeq = 0
  peerDeliveredSeq = 0
  peerReadSeq = 0
  private toldDeliveredSeq = 0
  private toldReadSeq = 0

  /** Takes the peer's marks (the client is told of them by `untold`). */
  raisePeer(deliveredSeq: number, readSeq: number): void {
    this.peerDeliveredSeq = Math.max(this.peerDeliveredSeq, deliveredSeq)
    this.peerReadSeq = Math.max(this.peerReadSeq, readSeq)
  }

  /** The peer's marks if they moved since the client was last told of them, now counted as told. */
  untold(): { peerDeliveredSeq: number; peerReadSeq: number } | undefined {
    if (this.peerDeliveredSeq <= this.toldDeliveredSeq && this.peerReadSeq <= this.toldReadSeq) return undefined
    this.toldDeliveredSeq = this.peerDeliveredSeq
    this.toldReadSeq = this.peerReadSeq
    return { peerDeliveredSeq: this.peerDeliveredSeq, peerReadSeq: this.peerReadSeq }
  }
}

/**
 * One chatEvents subscription: its channel listener feeds an inbox that is worked off strictly in
 * order (a message may first need a read of the ones it skipped), into a queue whose unread events
 * count against the subscriber's byte budget.
 */
export class ChatStream implements QueueOwner, EventListener<ChatBusEvent> {
  readonly queue: EventQueue<ChatEventView>
  private readonly inbox = new StreamInbox(INBOX_MAX)
  private pumping = false
  private subscription: BusSubscription | undefined
  private closed = false
  private status: ChatStatus = 'ACTIVE'
  /** Seq of the last message pushed to the client. */
  private lastDelivered = 0
  /** 0 until the chat was read on open; events only wait in the inbox until then. */
  private expiresAt = 0
  private expiryPending = false
  private readonly marks = new KnownMarks()
  private delivery: DeliveryReceipts | undefined
  /**
   * The peer's typing and presence as told to the client, each made on its first event, so that a
   * stream that never hears one (an idle chat) does not hold it.
   */
  private peerTyping: Throttle<boolean, ChatStream> | undefined
  private peerPresent: Throttle<boolean, ChatStream> | undefined

  constructor(
    private readonly deps: ChatStreamDeps,
    readonly viewer: Viewer,
    readonly chatId: string,
    private readonly afterSeq: number | undefined,
    private readonly shared: SharedDelivery,
    budget: QueueBudget,
  ) {
    this.queue = new EventQueue<ChatEventView>(this, budget, sizeOfEvent)
  }

  get delivered(): SharedDelivery {
    return this.shared
  }

  /**
   * Subscribes the channel, then reads the chat once: that read authorises the caller (NOT_FOUND
   * for anyone but a participant of a live chat) and is the point from which nothing published is
   * missed. Throws, holding nothing, when the caller may not subscribe.
   */
  async open(): Promise<void> {
    const { events, access, presence } = this.deps
    const { chatId, viewer } = this
    this.subscription = await events.subscribe(topics.chat(chatId), this)
    let found: CallerChat | undefined
    try {
      found = await access.load(viewer, chatId)
    } finally {
      if (!found) await this.subscription.unsubscribe()
    }
    if (!found) throw notFound('Chat')
    const { chat, side } = found
    this.lastDelivered = this.afterSeq ?? chat.lastSeq
    this.delivery = new DeliveryReceipts(this.deps, chatId, viewer.userId, side, this.shared, this.marks)
    this.learn(found, false)
    this.inbox.pushFirst({ kind: 'replay', throughSeq: chat.lastSeq })
    await presence.join(chatId, viewer.userId)
    void this.pump()
  }

  /** An event of the chat's channel. */
  hear(event: ChatBusEvent): void {
    this.enqueue(event)
  }

  /** Events may have been lost (the bus reconnected): catch up from the store. */
  resync(): void {
    this.enqueue({ kind: 'resync' })
  }

  checkExpiry(now: number): void {
    if (this.expiresAt > now || this.expiryPending) return
    this.expiryPending = true
    this.enqueue({ kind: 'expiry-check' })
  }

  private enqueue(task: ChatTask): void {
    this.inbox.push(task)
    if (this.expiresAt > 0) void this.pump()
  }

  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      for (let task = this.inbox.shift(); task && !this.queue.isEnded; task = this.inbox.shift()) await this.handle(task)
      // Marks implied by the peer's messages just delivered: one receipt per burst, after them.
      this.tellPeerMarks()
    } catch (error) {
      this.queue.fail(error)
    } finally {
      this.pumping = false
    }
    this.delivery?.schedule()
  }

  private async handle(task: ChatTask): Promise<void> {
    const { chatId, viewer } = this
    switch (task.kind) {
      case 'replay':
        if (this.afterSeq !== undefined) await this.deliverStoredAfter(this.afterSeq, task.throughSeq)
        if (this.status !== 'ACTIVE') this.end(this.status)
        return
      case 'resync':
        return this.catchUp()
      case 'message':
        if (task.message.seq > this.lastDelivered + 1) await this.deliverStoredAfter(this.lastDelivered, task.message.seq - 1)
        this.deliver(task.message)
        this.expiresAt = Math.max(this.expiresAt, task.expiresAt)
        return
      case 'typing':
        if (task.userId !== viewer.userId) this.typingThrottle().set(task.typing)
        return
      case 'receipt':
        if (task.userId === viewer.userId) {
          this.marks.ownReadSeq = Math.max(this.marks.ownReadSeq, task.readSeq)
          if (task.stored) this.delivery!.storedUpTo(task.deliveredSeq)
        } else this.raisePeerMarks(task.deliveredSeq, task.readSeq)
        return
      case 'presence':
        if (task.userId !== viewer.userId) this.presenceThrottle().set(task.present)
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

  /** Re-reads the chat and delivers whatever the stream may have missed: messages, marks, a close. */
  private async catchUp(): Promise<void> {
    const found = await this.deps.access.load(this.viewer, this.chatId)
    if (!found) return this.end('EXPIRED')
    this.learn(found, true)
    await this.deliverStoredAfter(this.lastDelivered, found.chat.lastSeq)
    if (this.status !== 'ACTIVE') this.end(this.status)
  }

  /**
   * Takes what a read of the chat says about its status, expiry and the peer's marks; with
   * `announce`, the client hears of marks that moved (on open, it reads them from the chat).
   */
  private learn({ chat, side }: CallerChat, announce: boolean): void {
    this.status = chat.status
    this.expiresAt = Math.max(this.expiresAt, chat.expiresAt)
    this.delivery!.storedUpTo(chat[side].deliveredSeq)
    this.marks.ownReadSeq = Math.max(this.marks.ownReadSeq, chat[side].readSeq)
    const peer = chat[other(side)]
    this.marks.raisePeer(peer.deliveredSeq, peer.readSeq)
    if (announce) this.tellPeerMarks()
    else this.marks.untold()
  }

  private raisePeerMarks(deliveredSeq: number, readSeq: number): void {
    this.marks.raisePeer(deliveredSeq, readSeq)
    this.tellPeerMarks()
  }

  /** A ReceiptEvent with the peer's marks, if they moved since the client last heard of them. */
  private tellPeerMarks(): void {
    const untold = this.marks.untold()
    if (untold) this.queue.push({ kind: 'receipt', chatId: this.chatId, ...untold })
  }

  /** Delivers the stored messages after `from` up to `through`: a lastSeq read or a message's own seq − 1 (past it may be a claim). */
  private async deliverStoredAfter(from: number, through: number): Promise<void> {
    for (;;) {
      const page = await this.deps.chats.listMessages(this.chatId, { afterSeq: from, throughSeq: through, limit: REPLAY_PAGE, fromEnd: false })
      for (const message of page) {
        await this.queue.whenShorterThan(REPLAY_AHEAD)
        if (this.queue.isEnded) return
        this.deliver(message)
      }
      if (page.length < REPLAY_PAGE) return
      from = page.at(-1)!.seq
    }
  }

  private deliver(message: MessageRecord): void {
    if (message.seq <= this.lastDelivered) return
    const fromPeer = message.senderId !== this.viewer.userId
    // A message of the peer ends its typing; the typist's process sends no event for that.
    // (Without a throttle yet, the client was never told the peer types.)
    if (fromPeer && this.peerTyping) {
      if (this.peerTyping.current) pushTyping(this, false)
      this.peerTyping.reset(false)
    }
    this.queue.push({ kind: 'message', chatId: this.chatId, message: toMessageView(message, this.viewer.userId) })
    this.lastDelivered = message.seq
    // A send stores its sender's read and delivered marks up to its seq, in the same write as the
    // message (the sender has read everything before their own message). So a message of the peer
    // is also the peer's receipt: the stream raises the peer's marks from it and tells the client
    // (at the end of the burst, see pump), exactly as a chat query would show them. Inferred here
    // rather than published by the send: no second bus event per message, no extra write, nothing
    // that identifies anyone, and it holds on every process and through a gap filled from the
    // store, since every stream delivers every message.
    if (fromPeer) {
      this.marks.raisePeer(message.seq, message.seq)
      this.delivery!.deliveredUpTo(message.seq)
    } else {
      this.marks.ownReadSeq = Math.max(this.marks.ownReadSeq, message.seq)
      this.delivery!.storedUpTo(message.seq)
    }
  }

  /** The client starts out told that the peer is not typing. */
  private typingThrottle(): Throttle<boolean, ChatStream> {
    return (this.peerTyping ??= new Throttle<boolean, ChatStream>(this.deps.clock, TYPING_INTERVAL_MS, pushTyping, this, false))
  }

  private presenceThrottle(): Throttle<boolean, ChatStream> {
    return (this.peerPresent ??= new Throttle<boolean, ChatStream>(this.deps.clock, PRESENCE_INTERVAL_MS, pushPresence, this))
  }

  private end(reason: ChatCloseReason): void {
    this.queue.push({ kind: 'closed', chatId: this.chatId, reason })
    this.queue.end()
  }

  queueClosed(): void {
    void this.close()
  }

  private async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.deps.streamClosed(this)
    this.peerTyping?.close()
    this.peerPresent?.close()
    this.delivery?.close()
    const { typing, presence } = this.deps
    const { chatId, viewer } = this
    await this.subscription?.unsubscribe()
    await typing.stop(chatId, viewer.userId)
    // Only a stream that opened joined.
    if (this.delivery) await presence.leave(chatId, viewer.userId)
  }
}

const pushTyping = (stream: ChatStream, typing: boolean) => stream.queue.push({ kind: 'typing', chatId: stream.chatId, typing })
const pushPresence = (stream: ChatStream, peerPresent: boolean) => stream.queue.push({ kind: 'presence', chatId: stream.chatId, peerPresent })
