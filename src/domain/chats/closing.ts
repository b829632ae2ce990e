import { badInput } from '../errors.js'
import { topics, type ChatCloseReason, type EventBus } from '../events.js'
import { newUlid } from '../ids.js'
import type { ChatStore, Clock, Viewer } from '../ports.js'
import { textLength } from '../text.js'
import type { ChatAccess } from './chat-access.js'
import { other, toChatView, type ChatView } from './views.js'

const REPORT_REASON_MAX = 1_000

/** Ends chats: leave (LEFT) and block (BLOCKED, with a report, and no chat between the two again). */
export class ChatCloser {
  constructor(private readonly deps: { chats: ChatStore; access: ChatAccess; events: EventBus; clock: Clock }) {}

  async leaveChat(viewer: Viewer, chatId: string): Promise<ChatView> {
    const found = await this.deps.access.require(viewer, chatId)
    const { chat, side } = found
    if (chat.status === 'ACTIVE' && (await this.deps.chats.closeChat(chat, 'LEFT', side, this.deps.clock.now()))) {
      await this.announce(chatId, 'LEFT')
    }
    return toChatView((await this.deps.access.load(viewer, chatId)) ?? found)
  }

  /** Closes the chat as BLOCKED, stores the report, and bars the two users from chatting again. */
  async blockChat(viewer: Viewer, chatId: string, reason: string | null | undefined): Promise<boolean> {
    if (reason !== null && reason !== undefined && textLength(reason) > REPORT_REASON_MAX) {
      throw badInput(`reason must be at most ${REPORT_REASON_MAX} characters.`)
    }
    const { chat, side } = await this.deps.access.require(viewer, chatId)
    if (chat.status === 'BLOCKED') return true
    const now = this.deps.clock.now()
    const closed = await this.deps.chats.closeChat(chat, 'BLOCKED', side, now, {
      reportId: newUlid(now),
      chatId,
      postId: chat.postId,
      reporterId: viewer.userId,
      reportedId: chat[other(side)].userId,
      reason: reason ?? undefined,
      createdAt: now,
    })
    if (closed) await this.announce(chatId, 'BLOCKED')
    return true
  }

  private async announce(chatId: string, reason: ChatCloseReason): Promise<void> {
    this.deps.access.forget(chatId)
    // Both sides' notifications listen on the chat's channel too.
    await this.deps.events.publish(topics.chat(chatId), { kind: 'closed', chatId, reason })
  }
}
