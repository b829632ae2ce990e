import { badInput } from '../errors.js'
import { topics, type ChatCloseReason, type EventBus } from '../events.js'
import { newUlid } from '../ids.js'
import type { ChatRecord, ChatSide, ChatStore, Clock, Viewer } from '../ports.js'
import type { PushNotifier } from '../push/push-notifier.js'
import { textLength } from '../text.js'
import type { ChatAccess } from './chat-access.js'
import { other, toChatView, type ChatView } from './views.js'

const REPORT_REASON_MAX = 1_000

/** Ends chats: leave (LEFT) and block (BLOCKED, with a report, and no chat between the two again). */
export class ChatCloser {
  constructor(private readonly deps: { chats: ChatStore; access: ChatAccess; events: EventBus; push: PushNotifier; clock: Clock }) {}

  async leaveChat(viewer: Viewer, chatId: string): Promise<ChatView> {
    const found = await this.deps.access.require(viewer, chatId)
    const { chat, side } = found
    if (chat.status === 'ACTIVE' && (await this.deps.chats.closeChat(chat, 'LEFT', side, this.deps.clock.now()))) {
      await this.announce(chat, side, 'LEFT')
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
    if (closed) await this.announce(chat, side, 'BLOCKED')
    return true
  }

  /** Tells both sides' streams, and pushes to the peer of `closedBy` unless the chat is hidden from it. */
  private async announce(chat: ChatRecord, closedBy: ChatSide, reason: ChatCloseReason): Promise<void> {
    const { chatId } = chat
    this.deps.access.forget(chatId)
    const peer = other(closedBy)
    if (chat.hiddenFrom !== peer) this.deps.push.notify('chatClosed', chatId, chat[peer].userId)
    // Both sides' notifications listen on the chat's channel too.
    await this.deps.events.publish(topics.chat(chatId), { kind: 'closed', chatId, reason })
  }
}
