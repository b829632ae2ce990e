import type { ChatAccess } from '../chats/chat-access.js'
import { toChatView, type ChatView } from '../chats/views.js'
import { badInput } from '../errors.js'
import type { ChatStore, Clock, Viewer } from '../ports.js'

/** muteChat: a chat's pushes held back for the caller until a time; live events still flow. */
export class ChatMutes {
  constructor(private readonly deps: { chats: ChatStore; access: ChatAccess; clock: Clock }) {}

  /** `until` null, or past: unmuted. */
  async muteChat(viewer: Viewer, chatId: string, until: Date | null | undefined): Promise<ChatView> {
    const untilMs = until?.getTime() ?? 0
    if (!Number.isFinite(untilMs)) throw badInput('until must be a date and time.')
    const { side } = await this.deps.access.require(viewer, chatId)
    await this.deps.chats.setMute(chatId, side, untilMs > this.deps.clock.now() ? untilMs : 0)
    this.deps.access.forget(chatId)
    return toChatView(await this.deps.access.require(viewer, chatId))
  }
}
