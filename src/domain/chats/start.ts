import { aliasFor } from '../aliases.js'
import { badInput, DomainError } from '../errors.js'
import { topics, type EventBus } from '../events.js'
import { delay, type ChatParticipant, type ChatRecord, type ChatSide, type ChatStore, type Clock, type PostRecord, type Viewer } from '../ports.js'
import type { PostService } from '../posts.js'
import type { RateLimits } from '../rate-limits.js'
import type { PushNotifier } from '../push/push-notifier.js'
import type { ChatIds } from './chat-ids.js'
import type { LiveChats } from './live-chats.js'
import { asCallerChat, toChatView, type ChatView } from './views.js'

export interface ChatStarterOptions {
  chats: ChatStore
  posts: PostService
  liveChats: LiveChats
  events: EventBus
  push: PushNotifier
  limits: RateLimits
  ids: ChatIds
  clock: Clock
  /** Key of the aliases. */
  idSecret: string
  /** A chat expires this long after its last activity. */
  chatTtlSeconds: number
  /** Open, live chats one user may hold, whoever started them. */
  maxLiveChats: number
}

/**
 * Attempts at a start. Each is lost to another start of the same pair (which the next attempt
 * returns), to concurrent writes of the same users' live sets (retried after a short, random
 * pause), or to a full live set that pruning freed.
 */
const START_ATTEMPTS = 50

/**
 * Opens the chat between the caller and the author of a post or comment: the same two users and
 * post always get the same chat while it lives, whoever starts it, however often, concurrently.
 *
 * Each side may hold `maxLiveChats` open, live chats, checked for both in the transaction that
 * creates the chat, so concurrent starts never pass the limit. A block works one way: whoever was
 * blocked may still start a chat with the blocker, and gets one that looks and answers like any
 * other, but it is hidden from the blocker, so no answer ever reveals a block, or that two posts
 * or comments are by the same blocker. A peer with no room gets the same: a chat hidden from them.
 */
export class ChatStarter {
  constructor(private readonly deps: ChatStarterOptions) {}

  async startChat(viewer: Viewer, postId: string, commentId: string | null | undefined): Promise<ChatView> {
    const { deps } = this
    const post = await deps.posts.requirePost(postId)
    const peerId = commentId ? (await deps.posts.requireComment(postId, commentId)).authorId : post.authorId
    if (peerId === viewer.userId) throw badInput('You cannot chat with yourself.')
    await deps.limits.take('startChat', viewer.userId)
    const pairKey = deps.ids.pairKey(postId, viewer.userId, peerId)
    let hidden: boolean | undefined
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const pair = await deps.chats.getPair(pairKey)
      const current = pair && (await deps.chats.getChat(pair.chatId))
      // A chat hidden from the caller is as good as none: they may start one of their own.
      const found = asCallerChat(current, viewer.userId, deps.clock.now())
      if (found) return toChatView(found)
      hidden ??= await deps.chats.hasBlocked(peerId, viewer.userId)
      const chat = this.newChat(post, pairKey, pair ? pair.generation + 1 : 0, viewer.userId, peerId, hidden)
      const result = await deps.chats.createChat(chat, pair?.generation, deps.maxLiveChats)
      if (result === 'created') {
        this.announce(chat)
        return toChatView({ chat, side: 'a' })
      }
      if (result === 'busy') await delay(deps.clock, Math.random() * Math.min(100, 5 * (attempt + 1)))
      else if (result !== 'pair-moved' && (await this.makeRoom(chat, result.full)) === 'hide') hidden = true
    }
    throw new Error(`startChat on pair ${pairKey} did not settle`)
  }

  /** A new chat of the pair, started by `starterId` (side a). */
  private newChat(post: PostRecord, pairKey: string, generation: number, starterId: string, peerId: string, hidden: boolean): ChatRecord {
    const { deps } = this
    const chatId = deps.ids.chatId(pairKey, generation)
    const now = deps.clock.now()
    const participant = (userId: string, avoid?: string): ChatParticipant => ({
      userId,
      role: userId === post.authorId ? 'AUTHOR' : 'COMMENTER',
      alias: aliasFor(deps.idSecret, chatId, userId, avoid),
      readSeq: 0,
      deliveredSeq: 0,
      unread: 0,
    })
    const a = participant(starterId)
    return {
      chatId,
      pairKey,
      generation,
      postId: post.postId,
      a,
      b: participant(peerId, a.alias),
      status: 'ACTIVE',
      closedBy: undefined,
      hiddenFrom: hidden ? 'b' : undefined,
      createdAt: now,
      lastActivityAt: now,
      expiresAt: now + deps.chatTtlSeconds * 1000,
      lastSeq: 0,
    }
  }

  /**
   * A side's live set is full: prune chats that expired and try again; else refuse the caller
   * with CHAT_LIMIT, or hide the chat from a peer with no room. A refusal because of the peer
   * would name every post and comment of a user at the limit (each start on them fails alike,
   * and strangers can fill the set on purpose); a hidden chat answers like any other.
   */
  private async makeRoom(chat: ChatRecord, side: ChatSide): Promise<'retry' | 'hide'> {
    if (await this.deps.liveChats.prune(chat[side].userId)) return 'retry'
    if (side === 'b') return 'hide'
    throw new DomainError('CHAT_LIMIT', `You already have ${this.deps.maxLiveChats} live chats: leave one to start another.`)
  }

  /** Tells the peer (unless the chat is hidden from it: no event, no push) and the starter's other devices. */
  private announce(chat: ChatRecord): void {
    const { events } = this.deps
    const { chatId, postId, a } = chat
    if (chat.hiddenFrom !== 'b') {
      void events.publish(topics.user(chat.b.userId), { kind: 'chatStarted', chatId, postId, peer: { alias: a.alias, role: a.role } })
      this.deps.push.notify('chatStarted', chatId, chat.b.userId)
    }
    void events.publish(topics.user(a.userId), { kind: 'chatJoined', chatId })
  }
}
