import { aliasFor } from '../aliases.js'
import { badInput, DomainError } from '../errors.js'
import { topics, type EventBus } from '../events.js'
import type { ChatParticipant, ChatRecord, ChatStore, Clock, ParticipantRole, Viewer } from '../ports.js'
import type { PostService } from '../posts.js'
import type { RateLimits } from '../rate-limits.js'
import type { ChatIds } from './chat-ids.js'
import { liveChatsOf } from './directory.js'
import { isLive, toChatView, type ChatView } from './views.js'

export interface ChatStarterOptions {
  chats: ChatStore
  posts: PostService
  events: EventBus
  limits: RateLimits
  ids: ChatIds
  clock: Clock
  /** Key of the aliases. */
  idSecret: string
  /** A chat expires this long after its last activity. */
  chatTtlSeconds: number
  maxLiveChats: number
}

/** Attempts at creating a pair's chat, each lost to a concurrent start of the same pair. */
const START_ATTEMPTS = 10

/**
 * Opens the chat between the caller and the author of a post or comment: the same two users and
 * post always get the same chat while it lives, whoever starts it, however often, concurrently.
 */
export class ChatStarter {
  constructor(private readonly deps: ChatStarterOptions) {}

  async startChat(viewer: Viewer, postId: string, commentId: string | null | undefined): Promise<ChatView> {
    const { deps } = this
    const post = await deps.posts.requirePost(postId)
    const peerId = commentId ? (await deps.posts.requireComment(postId, commentId)).authorId : post.authorId
    if (peerId === viewer.userId) throw badInput('You cannot chat with yourself.')
    const roleOf = (userId: string): ParticipantRole => (userId === post.authorId ? 'AUTHOR' : 'COMMENTER')
    const pairKey = deps.ids.pairKey(postId, viewer.userId, peerId)

    await deps.limits.take('startChat', viewer.userId)
    let checked = false
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const pair = await deps.chats.getPair(pairKey)
      const current = pair && (await deps.chats.getChat(pair.chatId))
      const now = deps.clock.now()
      if (current && isLive(current, now)) return toChatView({ chat: current, side: current.a.userId === viewer.userId ? 'a' : 'b' })
      if (!checked) {
        await this.assertMayStart(viewer, peerId)
        checked = true
      }
      const generation = pair ? pair.generation + 1 : 0
      const chatId = deps.ids.chatId(pairKey, generation)
      const participant = (userId: string, avoid?: string): ChatParticipant => ({
        userId,
        role: roleOf(userId),
        alias: aliasFor(deps.idSecret, chatId, userId, avoid),
        readSeq: 0,
        deliveredSeq: 0,
        unread: 0,
      })
      const a = participant(viewer.userId)
      const chat: ChatRecord = {
        chatId,
        pairKey,
        generation,
        postId,
        a,
        b: participant(peerId, a.alias),
        status: 'ACTIVE',
        closedBy: undefined,
        createdAt: now,
        lastActivityAt: now,
        expiresAt: now + deps.chatTtlSeconds * 1000,
        lastSeq: 0,
      }
      if ((await deps.chats.createChat(chat, pair?.generation)) === 'created') {
        void deps.events.publish(topics.user(peerId), { kind: 'chatStarted', chatId, postId, peer: { alias: chat.a.alias, role: chat.a.role } })
        void deps.events.publish(topics.user(viewer.userId), { kind: 'chatJoined', chatId })
        return toChatView({ chat, side: 'a' })
      }
    }
    throw new Error(`startChat on pair ${pairKey} did not settle`)
  }

  private async assertMayStart(viewer: Viewer, peerId: string): Promise<void> {
    if (await this.deps.chats.isBlockedBetween(viewer.userId, peerId)) {
      throw badInput('You cannot start a chat with this user.')
    }
    const live = await liveChatsOf(this.deps.chats, viewer.userId, this.deps.clock.now())
    if (live.length >= this.deps.maxLiveChats) {
      throw new DomainError('CHAT_LIMIT', `You already have ${this.deps.maxLiveChats} live chats.`)
    }
  }
}
