import { badInput, DomainError, notFound } from '../errors.js'
import { topics, type EventBus } from '../events.js'
import { delay, type ChatRecord, type ChatSide, type ChatStore, type Clock, type MessageRecord, type PhotoStore, type Viewer } from '../ports.js'
import { recentSendSeq, withRecentSend } from './recent-sends.js'
import type { RateLimits } from '../rate-limits.js'
import { textLength, validateBody, validatePageSize } from '../text.js'
import type { TypingTracker } from '../live/typing.js'
import type { ChatAccess } from './chat-access.js'
import type { PushNotifier } from '../push/push-notifier.js'
import type { ReceiptService } from './receipts.js'
import { isLive, other, toMessageView, type ChatView, type MessageView } from './views.js'

export interface MessageServiceOptions {
  chats: ChatStore
  photos: PhotoStore
  access: ChatAccess
  receipts: ReceiptService
  events: EventBus
  typing: TypingTracker
  push: PushNotifier
  limits: RateLimits
  clock: Clock
  /** A chat expires this long after its last activity. */
  chatTtlSeconds: number
  maxMessageLength: number
}

export interface HistoryArgs {
  afterSeq?: number | null | undefined
  beforeSeq?: number | null | undefined
  last?: number | null | undefined
}

const HISTORY_PAGE_DEFAULT = 50
const HISTORY_PAGE_MAX = 100
const CLIENT_MESSAGE_ID_MAX = 128
/** Optimistic attempts at the next seq before a send gives up (each one lost to another send). */
const SEND_ATTEMPTS = 200
/** Attempts at committing a claim while its chat stays open (one fails only on a stale copy). */
const COMMIT_ATTEMPTS = 5

/** Sends (gap-free seqs, idempotent by clientMessageId, durable on answer) and history reads. */
export class MessageService {
  private readonly sendQueues = new PerKeyQueue()

  constructor(private readonly deps: MessageServiceOptions) {}

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
    await this.deps.limits.take('send', viewer.userId)
    // Sends of this process to one chat do not race each other for a seq.
    return this.sendQueues.run(chatId, () => this.append(viewer, chatId, clientMessageId, body ?? undefined, photoId ?? undefined))
  }

  /**
   * History in seq order: after `afterSeq`, before `beforeSeq`, at most `last` messages (the
   * newest of the range unless only `afterSeq` is given). Fetching the peer's messages raises
   * the caller's delivered mark.
   */
  async history(viewer: Viewer, chat: ChatView, args: HistoryArgs): Promise<MessageView[]> {
    const limit = validatePageSize('last', args.last, HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX)
    for (const [name, value] of [['afterSeq', args.afterSeq], ['beforeSeq', args.beforeSeq]] as const) {
      if (value !== null && value !== undefined && (!Number.isInteger(value) || value < 0)) {
        throw badInput(`${name} must be a whole number from 0.`)
      }
    }
    const { chat: record, side } = chat.internal
    if (!isLive(record, this.deps.clock.now())) return []
    const afterSeq = args.afterSeq ?? undefined
    const beforeSeq = args.beforeSeq ?? undefined
    const messages = await this.deps.chats.listMessages(record.chatId, {
      afterSeq,
      throughSeq: Math.min(record.lastSeq, (beforeSeq ?? Infinity) - 1),
      limit,
      fromEnd: afterSeq === undefined || beforeSeq !== undefined,
    })
    const newestFromPeer = messages.reduce((max, m) => (m.senderId !== viewer.userId && m.seq > max ? m.seq : max), 0)
    if (newestFromPeer > record[side].deliveredSeq) await this.deps.receipts.markDelivered(record.chatId, side, viewer.userId, newestFromPeer)
    return messages.map((message) => toMessageView(message, viewer.userId))
  }

  /**
   * A send is two writes, no transaction: claim seq n (a Put of message n, only if there is none)
   * and commit it (the chat's lastSeq n − 1 → n, conditional). Reads stop at lastSeq, so a claim
   * is invisible until committed; a send that finds a claim in its way commits it for its sender
   * (who may have died between the two writes) before it takes the next seq, so seqs stay gap-free
   * and no answered message is lost. docs/data-model.md, "Sends", gives the whole argument.
   */
  private async append(viewer: Viewer, chatId: string, clientMessageId: string, body: string | undefined, photoId: string | undefined): Promise<MessageView> {
    const { deps } = this
    if (photoId !== undefined) {
      // Only a photo the sender uploaded to this very chat.
      const photo = /^[0-9A-Z]{26}$/.test(photoId) ? await deps.photos.getPhoto(chatId, photoId) : undefined
      if (!photo || photo.uploaderId !== viewer.userId) throw notFound('Photo')
    }
    let freshness: 'cached' | 'fresh' = 'cached'
    for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
      const { chat, side } = await deps.access.require(viewer, chatId, freshness)
      freshness = 'fresh'
      // A retry returns the first message, even after the chat closed.
      const sent = await this.sentBefore(chat, side, clientMessageId)
      if (sent) return toMessageView(sent, viewer.userId)
      if (chat.status !== 'ACTIVE') throw new DomainError('CHAT_CLOSED', 'This chat is closed.')
      const message: MessageRecord = { chatId, seq: chat.lastSeq + 1, senderId: viewer.userId, clientMessageId, body, photoId, createdAt: deps.clock.now() }
      if (await deps.chats.claimMessage(message)) {
        const committed = await this.commit(chat, message)
        if (committed) return this.sent(committed, side, message)
        continue
      }
      // Seq n is taken: this copy of the chat is old, or n is another send's claim not yet committed.
      const taken = await deps.chats.getMessage(chatId, message.seq)
      const fresh = await deps.chats.getChat(chatId)
      if (taken && fresh?.lastSeq === taken.seq - 1) {
        const committed = await this.commit(fresh, taken)
        // The claim was this very send's, from an attempt that got no answer.
        if (committed && taken.senderId === viewer.userId && taken.clientMessageId === clientMessageId) return this.sent(committed, side, taken)
        if (committed) deps.access.remember(committed)
      } else if (fresh) deps.access.remember(fresh)
      freshness = 'cached'
      // Sends racing from several processes spread out a little more with each seq they lose.
      if (attempt > 0) await delay(deps.clock, Math.random() * Math.min(50, 2 * attempt))
    }
    throw new Error(`sendMessage to ${chatId} lost ${SEND_ATTEMPTS} races for the next seq`)
  }

  /** The message this side already sent with this clientMessageId, if it is a recent send. */
  private async sentBefore(chat: ChatRecord, side: ChatSide, clientMessageId: string): Promise<MessageRecord | undefined> {
    const seq = recentSendSeq(chat[side], clientMessageId)
    return seq === undefined ? undefined : this.deps.chats.getMessage(chat.chatId, seq)
  }

  /**
   * Commits the claimed `message` on `chat` (at its seq − 1). The chat as committed, or undefined
   * when it never will be: the chat closed or expired under the claim, which is then dropped.
   */
  private async commit(chat: ChatRecord, message: MessageRecord): Promise<ChatRecord | undefined> {
    const { chats, clock, chatTtlSeconds } = this.deps
    const side: ChatSide = chat.a.userId === message.senderId ? 'a' : 'b'
    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      const written = await chats.commitMessage(
        chat,
        message,
        { expiresAt: Math.max(chat.expiresAt, message.createdAt + chatTtlSeconds * 1000), senderRecentSends: withRecentSend(chat[side], message.clientMessageId, message.seq) },
        clock.now(),
      )
      if (written) return written
      const fresh = await chats.getChat(message.chatId)
      // Committed meanwhile by a send that found the claim in its way: message n is this claim.
      if (fresh && fresh.lastSeq >= message.seq) return fresh
      if (!fresh || fresh.status !== 'ACTIVE' || !isLive(fresh, clock.now())) {
        // Closed and expired are final: no send can commit the claim any more.
        await chats.dropMessage(message)
        this.deps.access.forget(message.chatId)
        return undefined
      }
      chat = fresh
    }
    // The claim stays: the next send to the chat, or this one's retry, commits it.
    throw new Error(`sendMessage to ${message.chatId}: the commit of seq ${message.seq} kept failing on an open chat`)
  }

  private sent(chat: ChatRecord, side: ChatSide, message: MessageRecord): MessageView {
    this.deps.access.remember(chat)
    void this.announce(chat, side, message)
    return toMessageView(message, message.senderId)
  }

  /**
   * One event tells the chat's subscribers and the recipient's notifications, and ends the
   * sender's typing; the recipient's devices get a push if it is offline. Neither fails the send
   * it follows. `chat` is as the commit left it (it may have moved on since, when another send
   * committed this message for its sender).
   */
  private async announce(chat: ChatRecord, senderSide: ChatSide, message: MessageRecord): Promise<void> {
    this.deps.typing.ended(chat.chatId, message.senderId)
    const recipient = other(senderSide)
    if (chat.hiddenFrom !== recipient) this.deps.push.notify('message', chat.chatId, chat[recipient].userId)
    await this.deps.events.publish(topics.chat(chat.chatId), {
      kind: 'message',
      chatId: chat.chatId,
      message,
      expiresAt: chat.expiresAt,
      recipientUnread: chat[recipient].unread,
    })
  }
}

/** Runs tasks one after another per key; a key holds nothing once its tasks are done. */
class PerKeyQueue {
  private readonly tails = new Map<string, Promise<unknown>>()

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    const next = previous.then(task, task)
    const settled = next.catch(() => undefined)
    this.tails.set(key, settled)
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key)
    })
    return next
  }
}
