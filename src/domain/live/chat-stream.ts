import type { ChatAccess } from '../chats/chat-access.js'
import type { ReceiptService } from '../chats/receipts.js'
import { other, toMessageView } from '../chats/views.js'
import { notFound } from '../errors.js'
import { EventQueue, type QueueOwner } from '../event-queue.js'
import { topics, type ChatBusEvent, type ChatCloseReason, type EventBus, type Unsubscribe } from '../events.js'
import type { ChatStatus, ChatStore, Clock, MessageRecord, Viewer } from '../ports.js'
import { DeliveryReceipts, type SharedDelivery } from './delivery.js'
import type { PresenceTracker } from './presence.js'
import type { TypingTracker } from './typing.js'
import type { ChatEventView } from './views.js'

export interface ChatStreamDeps {
  chats: ChatStore
  access: ChatAccess
  receipts: ReceiptService
  events: EventBus
  presence: PresenceTracker
  typing: TypingTracker
  clock: Clock
  /** Events one subscription may hold unread before its client is cut off. */
  maxQueuedEvents: number
}

/** Work items of one stream, handled strictly one after another. */
type ChatTask = ChatBusEvent | { kind: 'replay' } | { kind: 'expiry-check' }

const REPLAY_PAGE = 100

/** The marks of both sides as one stream knows them, so that receipts never move back. */
class KnownMarks {
  ownReadSeq = 0
  peerDeliveredSeq = 0
  peerReadSeq = 0

  /** Takes the peer's marks; true when either moved forward. */
  raisePeer(deliveredSeq: number, readSeq: number): boolean {
    if (deliveredSeq <= this.peerDeliveredSeq && readSeq <= this.peerReadSeq) return false
    this.peerDeliveredSeq = Math.max(this.peerDeliveredSeq, deliveredSeq)
    this.peerReadSeq = Math.max(this.peerReadSeq, readSeq)
    return true
  }
}

/**
 * One chatEvents subscription: its channel listener feeds an inbox that is worked off strictly in
 * order (a message may first need a read of the ones it skipped), into a bounded queue.
 */
export class ChatStream implements QueueOwner {
  readonly queue: EventQueue<ChatEventView>
  /** Replaced by a fresh array when drained, so an idle stream keeps no grown backing store. */
  private inbox: ChatTask[] = []
  private pumping = false
  private unsubscribe: Unsubscribe | undefined
  private closed = false
  private status: ChatStatus = 'ACTIVE'
  /** Seq of the last message pushed to the client. */
  private lastDelivered = 0
  /** 0 until the chat was read on open; events only wait in the inbox until then. */
  private expiresAt = 0
  private expiryPending = false
  private peerTyping = false
  private readonly marks = new KnownMarks()
  private delivery: DeliveryReceipts | undefined

  constructor(
    private readonly deps: ChatStreamDeps,
    readonly viewer: Viewer,
    readonly chatId: string,
    private readonly afterSeq: number | undefined,
    private readonly shared: SharedDelivery,
    onOverflow: (() => void) | undefined,
    private readonly onClosed: (stream: ChatStream) => void,
  ) {
    this.queue = new EventQueue<ChatEventView>(deps.maxQueuedEvents, this, onOverflow)
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
    this.unsubscribe = await events.subscribe(topics.chat(chatId), (event) => this.enqueue(event))
    let found: Awaited<ReturnType<ChatAccess['load']>>
    try {
      found = await access.load(viewer, chatId)
    } finally {
      if (!found) await this.unsubscribe()
    }
    if (!found) throw notFound('Chat')
    const { chat, side } = found
    this.status = chat.status
    this.lastDelivered = this.afterSeq ?? chat.lastSeq
    this.expiresAt = chat.expiresAt
    this.marks.ownReadSeq = chat[side].readSeq
    this.marks.raisePeer(chat[other(side)].deliveredSeq, chat[other(side)].readSeq)
    this.delivery = new DeliveryReceipts(this.deps, chatId, viewer.userId, side, this.shared, () => this.marks.ownReadSeq)
    this.delivery.storedUpTo(chat[side].deliveredSeq)
    this.inbox.unshift({ kind: 'replay' })
    await presence.join(chatId, viewer.userId)
    void this.pump()
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
      while (this.inbox.length > 0 && !this.queue.isEnded) await this.handle(this.inbox.shift()!)
      if (this.inbox.length === 0) this.inbox = []
    } catch (error) {
      this.queue.fail(error)
    } finally {
      this.pumping = false
    }
    this.delivery?.schedule()
  }

  private async handle(task: ChatTask): Promise<void> {
    const { queue, chatId, viewer } = this
    switch (task.kind) {
      case 'replay':
        if (this.afterSeq !== undefined) await this.deliverStoredAfter(this.afterSeq)
        if (this.status !== 'ACTIVE') this.end(this.status)
        return
      case 'message':
        if (task.message.seq > this.lastDelivered + 1) await this.deliverStoredAfter(this.lastDelivered, task.message.seq)
        this.deliver(task.message)
        this.expiresAt = Math.max(this.expiresAt, task.expiresAt)
        return
      case 'typing':
        if (task.userId === viewer.userId) return
        this.peerTyping = task.typing
        queue.push({ kind: 'typing', chatId, typing: task.typing })
        return
      case 'receipt':
        if (task.userId === viewer.userId) {
          this.marks.ownReadSeq = Math.max(this.marks.ownReadSeq, task.readSeq)
          if (task.stored) this.delivery!.storedUpTo(task.deliveredSeq)
        } else if (this.marks.raisePeer(task.deliveredSeq, task.readSeq)) {
          queue.push({ kind: 'receipt', chatId, peerDeliveredSeq: this.marks.peerDeliveredSeq, peerReadSeq: this.marks.peerReadSeq })
        }
        return
      case 'presence':
        if (task.userId !== viewer.userId) queue.push({ kind: 'presence', chatId, peerPresent: task.present })
        return
      case 'closed':
        return this.end(task.reason)
      case 'expiry-check':
        return this.recheckExpiry()
    }
  }

  private async recheckExpiry(): Promise<void> {
    const found = await this.deps.chats.getChat(this.chatId)
    this.expiryPending = false
    if (!found || found.expiresAt <= this.deps.clock.now()) return this.end('EXPIRED')
    this.expiresAt = found.expiresAt
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
    // The user's own send stored their delivered mark up to its seq, in the same write.
    if (fromPeer) this.delivery!.deliveredUpTo(message.seq)
    else this.delivery!.storedUpTo(message.seq)
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
    this.onClosed(this)
    this.delivery?.close()
    const { typing, presence } = this.deps
    const { chatId, viewer } = this
    await this.unsubscribe?.()
    await typing.stop(chatId, viewer.userId)
    // Only a stream that joined (opened) leaves.
    if (this.delivery) await presence.leave(chatId, viewer.userId)
  }
}
