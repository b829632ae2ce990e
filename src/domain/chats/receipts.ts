import { badInput } from '../errors.js'
import { topics, type EventBus } from '../events.js'
import type { ChatSide, ChatStore, ParticipantMarks, Viewer } from '../ports.js'
import type { RateLimits } from '../rate-limits.js'
import type { ChatAccess } from './chat-access.js'
import { other, toChatView, type ChatView } from './views.js'

/** Attempts at markRead's write, each lost to a send or a mark that moved the chat since its read. */
const MARK_ATTEMPTS = 20

/**
 * Delivered and read marks, and the unread counter, for both the request paths (markRead,
 * history reads) and the live streams: one place that stores marks and tells the peer. The one
 * path that moves marks without a receipt from here is a send: it stores its sender's read and
 * delivered marks up to the message in the message's own write, and the message event is the
 * receipt (each of the peer's chat streams raises the peer's marks from it; see ChatStream.deliver).
 */
export class ReceiptService {
  constructor(private readonly deps: { chats: ChatStore; events: EventBus; access: ChatAccess; limits: RateLimits }) {}

  /** The peer's messages after the caller's read mark (a counter kept on the chat). */
  unreadCount(chat: ChatView): number {
    const { chat: record, side } = chat.internal
    return record[side].unread
  }

  /**
   * Raises the caller's read mark (never back; reading also means delivered) and sets its unread
   * counter, in one conditional write on the chat. Reading up to the chat's last message, as apps
   * do, needs no count: nothing of the peer's is left unread.
   */
  async markRead(viewer: Viewer, chatId: string, seq: number): Promise<ChatView> {
    await this.deps.limits.take('markRead', viewer.userId)
    const { access, chats } = this.deps
    let found = await access.require(viewer, chatId, 'cached')
    let fresh = false
    // This process's copy may not know the message yet; a fresh read decides.
    if (seq > found.chat.lastSeq) {
      found = await access.require(viewer, chatId)
      fresh = true
    }
    if (!Number.isInteger(seq) || seq < 0 || seq > found.chat.lastSeq) {
      throw badInput(`seq must be from 0 to the chat's lastSeq (${found.chat.lastSeq}).`)
    }
    for (let attempt = 0; attempt < MARK_ATTEMPTS; attempt++) {
      const { chat, side } = found
      const own = chat[side]
      // Nothing to move; the answer shows the chat as stored.
      if (own.readSeq >= seq) return toChatView(fresh ? found : await access.require(viewer, chatId))
      const unread = seq >= chat.lastSeq ? 0 : await chats.countMessagesFrom(chatId, chat[other(side)].userId, seq, chat.lastSeq)
      const written = await chats.storeReadMarks(chatId, side, { readSeq: seq, deliveredSeq: Math.max(own.deliveredSeq, seq), unread }, chat.lastSeq)
      if (written) {
        access.remember(written)
        await this.publish(chatId, viewer.userId, { readSeq: written[side].readSeq, deliveredSeq: written[side].deliveredSeq })
        return toChatView({ chat: written, side })
      }
      // A send or another mark moved the chat since this copy: read it again.
      found = await access.require(viewer, chatId)
      fresh = true
    }
    throw new Error(`markRead on ${chatId} lost ${MARK_ATTEMPTS} races with sends and marks`)
  }

  /**
   * Raises the delivered mark of `side` to `seq` (its device got the peer's messages up to it)
   * and sends the peer a receipt when it moved.
   */
  async markDelivered(chatId: string, side: ChatSide, userId: string, seq: number): Promise<void> {
    const marks = await this.storeDelivered(chatId, side, seq)
    if (marks) await this.publish(chatId, userId, marks)
  }

  /** Stores a delivered mark without a receipt (a live stream sends its own receipts sooner). */
  storeDelivered(chatId: string, side: ChatSide, seq: number): Promise<ParticipantMarks | undefined> {
    return this.deps.chats.raiseMark(chatId, side, 'deliveredSeq', seq)
  }

  /**
   * Tells the chat's subscribers a participant's marks. `stored`: already written (markRead,
   * history reads), not only sent from a live stream.
   */
  publish(chatId: string, userId: string, marks: ParticipantMarks, stored = true): Promise<void> {
    return this.deps.events.publish(topics.chat(chatId), { kind: 'receipt', chatId, userId, ...marks, stored })
  }
}
