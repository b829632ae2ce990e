import { validatePageSize } from '../text.js'
import type { ChatRecord, ChatStore, Clock, Viewer } from '../ports.js'
import type { ChatAccess } from './chat-access.js'
import { asCallerChat, isLive, toChatView, type ChatView } from './views.js'

const CHATS_MAX = 100

/** The chats of `userId` that have not expired, in no particular order. */
export async function liveChatsOf(chats: ChatStore, userId: string, now: number): Promise<ChatRecord[]> {
  const all = await chats.getChats(await chats.listChatIds(userId))
  return all.filter((chat) => isLive(chat, now))
}

/** What a caller reads of their chats: one by id, or all of them, most recently active first. */
export class ChatDirectory {
  constructor(private readonly deps: { chats: ChatStore; access: ChatAccess; clock: Clock }) {}

  /** The caller's chat, or null when it does not exist, is not theirs, or has expired. */
  async chat(viewer: Viewer, chatId: string): Promise<ChatView | null> {
    const found = await this.deps.access.load(viewer, chatId)
    return found ? toChatView(found) : null
  }

  /** The caller's unexpired chats, most recently active first. */
  async chats(viewer: Viewer, first: number | null | undefined): Promise<ChatView[]> {
    const limit = validatePageSize('first', first, CHATS_MAX, CHATS_MAX)
    const now = this.deps.clock.now()
    const live = await liveChatsOf(this.deps.chats, viewer.userId, now)
    return live
      .sort((x, y) => y.lastActivityAt - x.lastActivityAt)
      .slice(0, limit)
      .map((chat) => toChatView(asCallerChat(chat, viewer.userId, now)!))
  }
}
