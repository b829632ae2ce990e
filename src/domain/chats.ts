import { createHmac, randomBytes } from 'node:crypto'
import { aliasFor } from './aliases.js'
import { badInput, DomainError, notFound } from './errors.js'
import { newUlid } from './ids.js'
import type {
  ChatParticipant,
  ChatRecord,
  ChatSide,
  ChatStatus,
  ChatStore,
  Clock,
  MessageRecord,
  ParticipantRole,
  PhotoStore,
  RateLimiter,
  Viewer,
} from './ports.js'
import type { PostService } from './posts.js'
import { textLength, validateBody, validatePageSize } from './text.js'
import { topics, type ChatCloseReason, type EventBus } from './events.js'
import type { TypingTracker } from './typing.js'

export interface ParticipantView {
  alias: string
  role: ParticipantRole
}

/** A chat as one participant sees it: the other side is reduced to a role and an alias. */
export interface ChatView {
  id: string
  postId: string
  me: ParticipantView
  peer: ParticipantView
  status: ChatStatus
  createdAt: Date
  lastActivityAt: Date
  expiresAt: Date
  lastSeq: number
  peerDeliveredSeq: number
  peerReadSeq: number
  /** For the service's own follow-up reads (unread count, history); never exposed by the schema. */
  readonly internal: { record: ChatRecord; side: ChatSide }
}

export interface MessageView {
  id: string
  chatId: string
  seq: number
  clientMessageId: string
  fromMe: boolean
  body: string | null
  photoId: string | null
  createdAt: Date
}

export interface HistoryArgs {
  afterSeq?: number | null | undefined
  beforeSeq?: number | null | undefined
  last?: number | null | undefined
}

export interface ChatServiceOptions {
  chats: ChatStore
  photos: PhotoStore
  rateLimiter: RateLimiter
  /** Sends per user: sustained rate and burst (SPEC: 5/s, burst 20). */
  sendRate: { perSecond: number; burst: number }
  /** startChat calls per user per minute (SPEC: 30). */
  startChatPerMinute: number
  posts: PostService
  events: EventBus
  typing: TypingTracker
  clock: Clock
  /** Key of the opaque chat ids, pair keys and aliases. */
  idSecret: string
  /** A chat expires this long after its last activity. */
  chatTtlSeconds: number
  maxMessageLength: number
  maxLiveChats: number
}

const HISTORY_PAGE_DEFAULT = 50
const HISTORY_PAGE_MAX = 100
const CHATS_MAX = 100
const CLIENT_MESSAGE_ID_MAX = 128
const REPORT_REASON_MAX = 1_000
/** Chats kept as this process's last send left them (see lastSent). */
const SENT_CHATS_MAX = 10_000
/** Chats kept from recent reads for requireRecent (a record is about 0.5 KB). */
const RECENT_READS_MAX = 50_000
/**
 * requireRecent answers from a read about this old at most. Only the chat's status can be stale
 * (participants never change, expiry is checked against the cached expiresAt, which only moves
 * later, and a close in this process drops the entry), and a stale status costs nothing: typing
 * into a chat closed elsewhere reaches nobody, its subscriptions having ended with the close.
 */
const RECENT_CHAT_MAX_AGE_MS = 5 * 60_000
/** Optimistic attempts at the next seq before a send gives up (each one lost to another send). */
const SEND_ATTEMPTS = 200

export const other = (side: ChatSide): ChatSide => (side === 'a' ? 'b' : 'a')

/** The shape of the ids `hash` makes; anything else cannot be a chat and is never read. */
const isChatId = (chatId: string): boolean => /^[A-Za-z0-9_-]{1,64}$/.test(chatId)

/** A message as `viewerId` sees it. */
export function toMessageView(message: MessageRecord, viewerId: string): MessageView {
  return {
    id: `${message.chatId}.${message.seq}`,
    chatId: message.chatId,
    seq: message.seq,
    clientMessageId: message.clientMessageId,
    fromMe: message.senderId === viewerId,
    body: message.body ?? null,
    photoId: message.photoId ?? null,
    createdAt: new Date(message.createdAt),
  }
}

export class ChatService {
  /** Chats read recently, for requireRecent; bounded, oldest dropped first. */
  private readonly recentChats = new Map<string, { chat: ChatRecord; refreshAt: number; refreshing: boolean }>()
  /** Each chat as this process's last send to it left it (see lastSent); bounded. */
  private readonly sentChats = new Map<string, ChatRecord>()
  /** Sends of this process, chained per chat so that they do not race each other for a seq. */
  private readonly sendQueues = new Map<string, Promise<unknown>>()

  constructor(private readonly deps: ChatServiceOptions) {}

  async startChat(viewer: Viewer, postId: string, commentId: string | null | undefined): Promise<ChatView> {
    const post = await this.deps.posts.requirePost(postId)
    const peerId = commentId ? (await this.deps.posts.requireComment(postId, commentId)).authorId : post.authorId
    if (peerId === viewer.userId) throw badInput('You cannot chat with yourself.')
    const roleOf = (userId: string): ParticipantRole => (userId === post.authorId ? 'AUTHOR' : 'COMMENTER')
    const pairKey = this.hash('pair', postId, ...[viewer.userId, peerId].sort())

    let checked = false
    const perMinute = this.deps.startChatPerMinute
    await this.limit(`start:${viewer.userId}`, perMinute / 60, perMinute)
    for (let attempt = 0; attempt < 10; attempt++) {
      const pair = await this.deps.chats.getPair(pairKey)
      const current = pair && (await this.deps.chats.getChat(pair.chatId))
      const now = this.deps.clock.now()
      // The same two users and post always get the same chat while it lives, whoever starts it.
      if (current && this.isLive(current, now)) return this.view(current, viewer)
      if (!checked) {
        await this.assertMayStart(viewer, peerId)
        checked = true
      }
      const generation = pair ? pair.generation + 1 : 0
      const chatId = this.hash('chat', pairKey, String(generation), randomBytes(16).toString('base64url'))
      const participant = (userId: string, avoid?: string): ChatParticipant => ({
        userId,
        role: roleOf(userId),
        alias: aliasFor(this.deps.idSecret, chatId, userId, avoid),
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
        expiresAt: now + this.deps.chatTtlSeconds * 1000,
        lastSeq: 0,
      }
      if ((await this.deps.chats.createChat(chat, pair?.generation)) === 'created') {
        const { events } = this.deps
        void events.publish(topics.user(peerId), { kind: 'chatStarted', chatId, postId, peer: { alias: chat.a.alias, role: chat.a.role } })
        void events.publish(topics.user(viewer.userId), { kind: 'chatJoined', chatId })
        return this.view(chat, viewer)
      }
    }
    throw new Error(`startChat on pair ${pairKey} did not settle`)
  }

  /** The caller's chat, or null when it does not exist, is not theirs, or has expired. */
  async chat(viewer: Viewer, chatId: string): Promise<ChatView | null> {
    const found = await this.find(viewer, chatId)
    return found ? this.view(found.chat, viewer) : null
  }

  /** The caller's unexpired chats, most recently active first. */
  async chats(viewer: Viewer, first: number | null | undefined): Promise<ChatView[]> {
    const limit = validatePageSize('first', first, CHATS_MAX, CHATS_MAX)
    const live = await this.liveChatsOf(viewer.userId)
    return live
      .sort((x, y) => y.lastActivityAt - x.lastActivityAt)
      .slice(0, limit)
      .map((chat) => this.view(chat, viewer))
  }

  async sendMessage(
    viewer: Viewer,
    chatId: string,
    clientMessageId: string,
    body: string | null | undefined,
    photoId: string | null | undefined,
  ): Promise<MessageView> {
    if (clientMessageId.trim().length === 0 || textLength(clientMessageId) > CLIENT_MESSAGE_ID_MAX) {
      throw badInput(`clientMessageId must be 1 to ${CLIENT_MESSAGE_ID_MAX} characters.`)
    }
    if (body !== null && body !== undefined) validateBody('body', body, this.deps.maxMessageLength)
    if ((body === null || body === undefined) && (photoId === null || photoId === undefined)) {
      throw badInput('A message needs a body or a photo.')
    }
    await this.limit(`send:${viewer.userId}`, this.deps.sendRate.perSecond, this.deps.sendRate.burst)
    return this.inSendQueue(chatId, () => this.append(viewer, chatId, clientMessageId, body ?? undefined, photoId ?? undefined))
  }

  private async append(
    viewer: Viewer,
    chatId: string,
    clientMessageId: string,
    body: string | undefined,
    photoId: string | undefined,
  ): Promise<MessageView> {
    if (photoId !== undefined) {
      // Only a photo the sender uploaded to this very chat.
      const photo = /^[0-9A-Z]{26}$/.test(photoId) ? await this.deps.photos.getPhoto(chatId, photoId) : undefined
      if (!photo || photo.uploaderId !== viewer.userId) throw notFound('Photo')
    }
    // A retry is told apart by the transaction itself (its request record already exists), so a
    // first send pays no extra read for it.
    let maybeRetry = false
    for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
      const found = (attempt === 0 && this.lastSent(viewer, chatId)) || (await this.find(viewer, chatId))
      if (!found) throw notFound('Chat')
      const { chat } = found
      // A retry returns the first message, even after the chat closed.
      if (maybeRetry || chat.status !== 'ACTIVE') {
        const existing = await this.deps.chats.getMessageByClientId(chatId, viewer.userId, clientMessageId)
        if (existing) return this.messageView(existing, viewer)
      }
      if (chat.status !== 'ACTIVE') throw new DomainError('CHAT_CLOSED', 'This chat is closed.')
      const now = this.deps.clock.now()
      const message: MessageRecord = {
        chatId,
        seq: chat.lastSeq + 1,
        senderId: viewer.userId,
        clientMessageId,
        body,
        photoId,
        createdAt: now,
      }
      const expiresAt = now + this.deps.chatTtlSeconds * 1000
      const result = await this.deps.chats.appendMessage(chat, message, expiresAt, now)
      if (result === 'appended') {
        this.rememberSent(chat, found.side, message, expiresAt)
        void this.announce(chat, found.side, message, expiresAt)
        return this.messageView(message, viewer)
      }
      this.sentChats.delete(chatId)
      maybeRetry = result === 'duplicate'
      if (result === 'conflict') await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * attempt)))
    }
    throw new Error(`sendMessage to ${chatId} lost ${SEND_ATTEMPTS} races for the next seq`)
  }

  /**
   * The chat as this process's last send left it. Safe to send on without reading it again: the
   * send's write is conditional on lastSeq, status and expiry, so a chat that moved on elsewhere
   * fails the write and is read afresh. Its participants never change.
   */
  private lastSent(viewer: Viewer, chatId: string): { chat: ChatRecord; side: ChatSide } | undefined {
    return this.asParticipant(this.sentChats.get(chatId), viewer)
  }

  private rememberSent(chat: ChatRecord, senderSide: ChatSide, message: MessageRecord, expiresAt: number): void {
    const recipientSide = other(senderSide)
    const sent: ChatRecord = {
      ...chat,
      lastSeq: message.seq,
      lastActivityAt: message.createdAt,
      expiresAt,
      [senderSide]: { ...chat[senderSide], readSeq: message.seq, deliveredSeq: message.seq, unread: 0 },
      [recipientSide]: { ...chat[recipientSide], unread: chat[recipientSide].unread + 1 },
    }
    this.sentChats.delete(chat.chatId)
    this.sentChats.set(chat.chatId, sent)
    if (this.sentChats.size > SENT_CHATS_MAX) this.sentChats.delete(this.sentChats.keys().next().value!)
  }

  /**
   * One event tells the chat's subscribers and the recipient's notifications, and ends the
   * sender's typing; it never fails the send it follows.
   */
  private async announce(chat: ChatRecord, senderSide: ChatSide, message: MessageRecord, expiresAt: number): Promise<void> {
    this.deps.typing.ended(chat.chatId, message.senderId)
    // The send incremented the recipient's counter in the same write.
    const recipientUnread = chat[other(senderSide)].unread + 1
    await this.deps.events.publish(topics.chat(chat.chatId), { kind: 'message', chatId: chat.chatId, message, expiresAt, recipientUnread })
  }

  /**
   * Raises the delivered mark of `side` to `seq` (its device got the peer's messages up to it)
   * and sends the peer a receipt when it moved.
   */
  async markDelivered(chatId: string, side: ChatSide, userId: string, seq: number): Promise<void> {
    const marks = await this.storeDelivered(chatId, side, seq)
    if (marks) await this.publishReceipt(chatId, userId, marks)
  }

  /** Stores a delivered mark without a receipt (the live path sends its own receipts sooner). */
  storeDelivered(chatId: string, side: ChatSide, seq: number): Promise<{ readSeq: number; deliveredSeq: number } | undefined> {
    return this.deps.chats.raiseMark(chatId, side, 'deliveredSeq', seq)
  }

  publishReceipt(chatId: string, userId: string, marks: { readSeq: number; deliveredSeq: number }, stored = true): Promise<void> {
    return this.deps.events.publish(topics.chat(chatId), { kind: 'receipt', chatId, userId, ...marks, stored })
  }

  private async publishClosed(chat: ChatRecord, reason: ChatCloseReason): Promise<void> {
    const { events } = this.deps
    this.recentChats.delete(chat.chatId)
    this.sentChats.delete(chat.chatId)
    // Both sides' notifications listen on the chat's channel too.
    await events.publish(topics.chat(chat.chatId), { kind: 'closed', chatId: chat.chatId, reason })
  }

  /**
   * History in seq order: after `afterSeq`, before `beforeSeq`, at most `last` messages (the
   * newest of the range unless only `afterSeq` is given). Fetching the peer's messages raises
   * the caller's delivered mark.
   */
  async messages(viewer: Viewer, chat: ChatView, args: HistoryArgs): Promise<MessageView[]> {
    const limit = validatePageSize('last', args.last, HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX)
    for (const [name, value] of [['afterSeq', args.afterSeq], ['beforeSeq', args.beforeSeq]] as const) {
      if (value !== null && value !== undefined && (!Number.isInteger(value) || value < 0)) {
        throw badInput(`${name} must be a whole number from 0.`)
      }
    }
    const { record, side } = chat.internal
    if (!this.isLive(record, this.deps.clock.now())) return []
    const afterSeq = args.afterSeq ?? undefined
    const beforeSeq = args.beforeSeq ?? undefined
    const messages = await this.deps.chats.listMessages(record.chatId, {
      afterSeq,
      beforeSeq,
      limit,
      fromEnd: afterSeq === undefined || beforeSeq !== undefined,
    })
    const newestFromPeer = messages.reduce((max, m) => (m.senderId !== viewer.userId && m.seq > max ? m.seq : max), 0)
    if (newestFromPeer > record[side].deliveredSeq) await this.markDelivered(record.chatId, side, viewer.userId, newestFromPeer)
    return messages.map((message) => this.messageView(message, viewer))
  }

  /** The peer's messages after the caller's read mark (a counter kept on the chat). */
  async unreadCount(chat: ChatView): Promise<number> {
    const { record, side } = chat.internal
    return record[side].unread
  }

  async markRead(viewer: Viewer, chatId: string, seq: number): Promise<ChatView> {
    const { chat, side } = await this.require(viewer, chatId)
    if (!Number.isInteger(seq) || seq < 0 || seq > chat.lastSeq) {
      throw badInput(`seq must be from 0 to the chat's lastSeq (${chat.lastSeq}).`)
    }
    // The read mark never moves back; reading a message also means it was delivered.
    const read = await this.deps.chats.raiseMark(chatId, side, 'readSeq', seq)
    if (read) await this.recountUnread(chatId, side)
    const delivered = await this.deps.chats.raiseMark(chatId, side, 'deliveredSeq', seq)
    const marks = delivered ?? read
    if (marks) await this.publishReceipt(chatId, viewer.userId, { readSeq: Math.max(marks.readSeq, read?.readSeq ?? 0), deliveredSeq: marks.deliveredSeq })
    return this.view((await this.deps.chats.getChat(chatId)) ?? chat, viewer)
  }

  async leaveChat(viewer: Viewer, chatId: string): Promise<ChatView> {
    const { chat, side } = await this.require(viewer, chatId)
    if (chat.status === 'ACTIVE' && (await this.deps.chats.closeChat(chatId, 'LEFT', side, this.deps.clock.now()))) {
      await this.publishClosed(chat, 'LEFT')
    }
    return this.view((await this.deps.chats.getChat(chatId)) ?? chat, viewer)
  }

  /** Closes the chat as BLOCKED, stores the report, and bars the two users from chatting again. */
  async blockChat(viewer: Viewer, chatId: string, reason: string | null | undefined): Promise<boolean> {
    if (reason !== null && reason !== undefined && textLength(reason) > REPORT_REASON_MAX) {
      throw badInput(`reason must be at most ${REPORT_REASON_MAX} characters.`)
    }
    const { chat, side } = await this.require(viewer, chatId)
    if (chat.status === 'BLOCKED') return true
    const now = this.deps.clock.now()
    const closed = await this.deps.chats.closeChat(chatId, 'BLOCKED', side, now, {
      reportId: newUlid(now),
      chatId,
      postId: chat.postId,
      reporterId: viewer.userId,
      reportedId: chat[other(side)].userId,
      reason: reason ?? undefined,
      createdAt: now,
    })
    if (closed) await this.publishClosed(chat, 'BLOCKED')
    return true
  }

  /**
   * Sets a side's unread counter to the peer's messages after its read mark. Sends increment the
   * counter in their own write; a recount only sticks if no send came in between.
   */
  private async recountUnread(chatId: string, side: ChatSide): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const chat = await this.deps.chats.getChat(chatId)
      if (!chat) return
      const unread = await this.deps.chats.countMessagesFrom(chatId, chat[other(side)].userId, chat[side].readSeq)
      if (await this.deps.chats.setUnread(chatId, side, unread, chat.lastSeq)) return
    }
  }

  private async limit(key: string, perSecond: number, burst: number): Promise<void> {
    if (!(await this.deps.rateLimiter.take(key, perSecond, burst))) {
      throw new DomainError('RATE_LIMITED', 'Too many requests; slow down and retry shortly.')
    }
  }

  private async assertMayStart(viewer: Viewer, peerId: string): Promise<void> {
    if (await this.deps.chats.isBlockedBetween(viewer.userId, peerId)) {
      throw badInput('You cannot start a chat with this user.')
    }
    const live = await this.liveChatsOf(viewer.userId)
    if (live.length >= this.deps.maxLiveChats) {
      throw new DomainError('CHAT_LIMIT', `You already have ${this.deps.maxLiveChats} live chats.`)
    }
  }

  private async liveChatsOf(userId: string): Promise<ChatRecord[]> {
    const chats = await this.deps.chats.getChats(await this.deps.chats.listChatIds(userId))
    const now = this.deps.clock.now()
    return chats.filter((chat) => this.isLive(chat, now))
  }

  /**
   * Like `require`, from a recent read of the chat: for hot paths that only need to know the
   * caller is a participant of a live, open chat (typing). Participants never change and expiry
   * only moves later, so a cached record answers both for as long as it says the chat is live;
   * only its status may be old. A record older than RECENT_CHAT_MAX_AGE_MS (less a random part,
   * so that chats read together are not re-read together) still answers once, while it is re-read
   * in the background: a hot path never waits for a read after the first. A close made by this
   * process drops the record at once.
   */
  async requireRecent(viewer: Viewer, chatId: string): Promise<{ chat: ChatRecord; side: ChatSide }> {
    const now = this.deps.clock.now()
    const cached = this.recentChats.get(chatId)
    if (!cached || !this.isLive(cached.chat, now)) return this.require(viewer, chatId)
    if (now >= cached.refreshAt && !cached.refreshing) {
      cached.refreshing = true
      this.readRecent(chatId).catch(() => (cached.refreshing = false))
    }
    const found = this.asParticipant(cached.chat, viewer)
    if (!found) throw notFound('Chat')
    return found
  }

  private async readRecent(chatId: string): Promise<ChatRecord | undefined> {
    const chat = await this.deps.chats.getChat(chatId)
    this.recentChats.delete(chatId)
    if (!chat) return undefined
    const refreshAt = this.deps.clock.now() + RECENT_CHAT_MAX_AGE_MS * (0.5 + Math.random() / 2)
    this.recentChats.set(chatId, { chat, refreshAt, refreshing: false })
    if (this.recentChats.size > RECENT_READS_MAX) this.recentChats.delete(this.recentChats.keys().next().value!)
    return chat
  }

  /** A chat by id, for the photo server (which checks a signed URL instead of a viewer). */
  findById(chatId: string): Promise<ChatRecord | undefined> {
    return this.deps.chats.getChat(chatId)
  }

  /**
   * The chat and the caller's side, or undefined: missing, not the caller's and expired look alike.
   * The read also serves requireRecent, so that typing into a chat just opened costs no read.
   */
  async find(viewer: Viewer, chatId: string): Promise<{ chat: ChatRecord; side: ChatSide } | undefined> {
    if (!isChatId(chatId)) return undefined
    return this.asParticipant(await this.readRecent(chatId), viewer)
  }

  /** The chat and the viewer's side if the chat is live and the viewer one of its two. */
  private asParticipant(chat: ChatRecord | undefined, viewer: Viewer): { chat: ChatRecord; side: ChatSide } | undefined {
    if (!chat || !this.isLive(chat, this.deps.clock.now())) return undefined
    const side = chat.a.userId === viewer.userId ? 'a' : chat.b.userId === viewer.userId ? 'b' : undefined
    return side && { chat, side }
  }

  /** The caller's live chat and side, or NOT_FOUND (also for a chat of others, or an expired one). */
  async require(viewer: Viewer, chatId: string): Promise<{ chat: ChatRecord; side: ChatSide }> {
    const found = await this.find(viewer, chatId)
    if (!found) throw notFound('Chat')
    return found
  }

  private isLive(chat: ChatRecord, now: number): boolean {
    return chat.expiresAt > now
  }

  private view(chat: ChatRecord, viewer: Viewer): ChatView {
    const side: ChatSide = chat.a.userId === viewer.userId ? 'a' : 'b'
    const me = chat[side]
    const peer = chat[other(side)]
    return {
      id: chat.chatId,
      postId: chat.postId,
      me: { alias: me.alias, role: me.role },
      peer: { alias: peer.alias, role: peer.role },
      status: chat.status,
      createdAt: new Date(chat.createdAt),
      lastActivityAt: new Date(chat.lastActivityAt),
      expiresAt: new Date(chat.expiresAt),
      lastSeq: chat.lastSeq,
      peerDeliveredSeq: peer.deliveredSeq,
      peerReadSeq: peer.readSeq,
      internal: { record: chat, side },
    }
  }

  private messageView(message: MessageRecord, viewer: Viewer): MessageView {
    return toMessageView(message, viewer.userId)
  }

  /** A keyed hash: ids that reveal nothing and cannot be forged or guessed without the secret. */
  private hash(...parts: string[]): string {
    return createHmac('sha256', this.deps.idSecret).update(parts.join('\n')).digest('base64url').slice(0, 27)
  }

  private inSendQueue<T>(chatId: string, task: () => Promise<T>): Promise<T> {
    const previous = this.sendQueues.get(chatId) ?? Promise.resolve()
    const next = previous.then(task, task)
    const settled = next.catch(() => undefined)
    this.sendQueues.set(chatId, settled)
    void settled.then(() => {
      if (this.sendQueues.get(chatId) === settled) this.sendQueues.delete(chatId)
    })
    return next
  }
}
