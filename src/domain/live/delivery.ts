import type { ReceiptService } from '../chats/receipts.js'
import type { Cancel, ChatSide, Clock } from '../ports.js'

/** A stream sends at most one delivery receipt per this long (one per burst of messages). */
const RECEIPT_DELAY_MS = 100
/**
 * A delivered mark is stored this long after its receipt went out, or when the stream closes,
 * unless the user's own message or read mark stored it meanwhile (a reply does, in its own
 * write). The live receipt already told the peer; a mark lost with a crashed process is set again
 * when the client reconnects and gets the messages replayed.
 */
const DELIVERED_STORE_DELAY_MS = 5_000

/**
 * Highest seq of the peer's messages sent as a receipt, and stored, by any of one user's streams
 * of one chat in this process: shared, so that two devices do not send the same receipt twice.
 */
export interface SharedDelivery {
  streams: number
  sent: number
  stored: number
}

/**
 * The delivery receipts of one chatEvents stream: a peer's message pushed to a live subscription
 * counts as delivered. The receipt is published soon, coalesced over a burst; the mark is stored
 * later, once, unless something else stored it first.
 */
export class DeliveryReceipts {
  private deliveredFromPeer = 0
  private cancelReceipt: Cancel | undefined
  private cancelStore: Cancel | undefined
  private closed = false

  constructor(
    private readonly deps: { receipts: ReceiptService; clock: Clock },
    private readonly chatId: string,
    private readonly userId: string,
    private readonly side: ChatSide,
    readonly shared: SharedDelivery,
    /** The user's own read mark, as the stream knows it, sent along with each receipt. */
    private readonly own: { readonly ownReadSeq: number },
  ) {}

  /** A peer's message up to `seq` reached this client. */
  deliveredUpTo(seq: number): void {
    this.deliveredFromPeer = Math.max(this.deliveredFromPeer, seq)
  }

  /** The user's marks up to `seq` are stored already (their own send or read wrote them). */
  storedUpTo(seq: number): void {
    this.shared.stored = Math.max(this.shared.stored, seq)
  }

  /** Sends a receipt soon if something new was delivered. */
  schedule(): void {
    if (this.deliveredFromPeer > this.shared.sent && !this.cancelReceipt && !this.closed) {
      this.cancelReceipt = this.deps.clock.after(RECEIPT_DELAY_MS, () => this.sendReceipt())
    }
  }

  /** The stream ended: what is pending goes out now. */
  close(): void {
    this.closed = true
    this.cancelReceipt?.()
    this.cancelStore?.()
    this.sendReceipt()
    this.store()
  }

  private sendReceipt(): void {
    this.cancelReceipt = undefined
    const { shared } = this
    if (this.deliveredFromPeer <= shared.sent) return
    shared.sent = this.deliveredFromPeer
    void this.deps.receipts.publish(this.chatId, this.userId, { readSeq: this.own.ownReadSeq, deliveredSeq: shared.sent }, false)
    if (!this.cancelStore && !this.closed) this.cancelStore = this.deps.clock.after(DELIVERED_STORE_DELAY_MS, () => this.store())
  }

  private store(): void {
    this.cancelStore = undefined
    const { shared } = this
    if (shared.sent <= shared.stored) return
    shared.stored = shared.sent
    void this.deps.receipts.storeDelivered(this.chatId, this.side, shared.stored).catch(() => undefined)
  }
}
