import { badInput } from '../errors.js'
import { topics, type EventBus } from '../events.js'
import type { ChatSide, ChatStore, ParticipantMarks, Viewer } from '../ports.js'
import type { RateLimits } from '../rate-limits.js'
import type { ChatAccess } from './chat-access.js'
import { other, toChatView, type ChatView } from './views.js'

/** Attempts at a recount of the unread counter before a stream of sends wins (it is then set by them). */
const RECOUNT_ATTEMPTS = 20

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

  async markRead(viewer: Viewer, chatId: string, seq: number): Promise<ChatView> {
    await this.deps.limits.take('markRead', viewer.userId)
    const found = await this.deps.access.require(viewer, chatId)
    const { chat, side } = found
    if (!Number.isInteger(seq) || seq < 0 || seq > chat.lastSeq) {
      throw badInput(`seq must be from 0 to the chat's lastSeq (${chat.lastSeq}).`)
    }
    // The read mark never moves back; reading a message also means it was delivered.
    const read = await this.deps.chats.raiseMark(chatId, side, 'readSeq', seq)
    if (read) await this.recountUnread(chatId, side)
    const delivered = await this.deps.chats.raiseMark(chatId, side, 'deliveredSeq', seq)
    const marks = delivered ?? read
    if (marks) await this.publish(chatId, viewer.userId, { readSeq: Math.max(marks.readSeq, read?.readSeq ?? 0), deliveredSeq: marks.deliveredSeq })
    return toChatView((await this.deps.access.load(viewer, chatId)) ?? found)
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

  /**
   * Sets a side's unread counter to the peer's messages after its read mark. Sends increment the
   * counter in their own write; a recount only sticks if no send came in between.
   */
  private async recountUnread(chatId: string, side: ChatSide): Promise<void> {
    for (let attempt = 0; attempt < RECOUNT_ATTEMPTS; attempt++) {
      const chat = await this.deps.chats.getChat(chatId)
      if (!chat) return
      const unread = await this.deps.chats.countMessagesFrom(chatId, chat[other(side)].userId, chat[side].readSeq)
      if (await this.deps.chats.setUnread(chatId, side, unread, chat.lastSeq)) return
    }
  }
}
