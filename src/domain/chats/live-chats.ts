import type { ChatRecord, ChatStore, Clock } from '../ports.js'
import { isLive } from './views.js'

/** Rounds of pruning before a set that keeps moving is left as it is. */
const PRUNE_ATTEMPTS = 5

/**
 * The live chats of a user, as the limit counts them: open and unexpired. A chat joins the user's
 * live set in the transaction that starts it (which holds only while the set has room) and leaves
 * it in the one that closes it; one that expired leaves when the set is found full and pruned, so
 * an expiry costs no write.
 */
export class LiveChats {
  constructor(private readonly deps: { chats: ChatStore; clock: Clock }) {}

  /** The user's open, unexpired chats. */
  async of(userId: string): Promise<ChatRecord[]> {
    const { chatIds } = await this.deps.chats.liveChatIds(userId)
    return (await this.deps.chats.getChats(chatIds)).filter((chat) => this.counts(chat))
  }

  /** Drops the chats that no longer count from the user's set; true when any went. */
  async prune(userId: string): Promise<boolean> {
    const { chats } = this.deps
    for (let attempt = 0; attempt < PRUNE_ATTEMPTS; attempt++) {
      const { chatIds, version } = await chats.liveChatIds(userId)
      const keep = (await chats.getChats(chatIds)).filter((chat) => this.counts(chat)).map((chat) => chat.chatId)
      if (keep.length === chatIds.length) return false
      if (await chats.pruneLiveChats(userId, keep, version)) return true
    }
    return false
  }

  private counts(chat: ChatRecord): boolean {
    return chat.status === 'ACTIVE' && isLive(chat, this.deps.clock.now())
  }
}
