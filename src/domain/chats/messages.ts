import { badInput, DomainError, notFound } from '../errors.js'
import { topics, type EventBus } from '../events.js'
import { delay, type ChatRecord, type ChatSide, type ChatStore, type Clock, type MessageRecord, type PhotoStore, type Viewer } from '../ports.js'
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
      beforeSeq,
      limit,
      fromEnd: afterSeq === undefined || beforeSeq !== undefined,
    })
    const newestFromPeer = messages.reduce((max, m) => (m.senderId !== viewer.userId && m.seq > max ? m.seq : max), 0)
    if (newestFromPeer > record[side].deliveredSeq) await this.deps.receipts.markDelivered(record.chatId, side, viewer.userId, newestFromPeer)
    return messages.map((message) => toMessageView(message, viewer.userId))
  }

  private async append(viewer: Viewer, chatId: string, clientMessageId: string, body: string | undefined, photoId: string | undefined): Promise<MessageView> {
    const { deps } = this
    if (photoId !== undefined) {
      // Only a photo the sender uploaded to this very chat.
      const photo = /^[0-9A-Z]{26}$/.test(photoId) ? await deps.photos.getPhoto(chatId, photoId) : undefined
      if (!photo || photo.uploaderId !== viewer.userId) throw notFound('Photo')
    }
    // A retry is told apart by the transaction itself (its request record already exists), so a
    // first send pays no extra read for it.
    let maybeRetry = false
    for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
      const { chat, side } = await deps.access.require(viewer, chatId, attempt === 0 ? 'cached' : 'fresh')
      // A retry returns the first message, even after the chat closed.
      if (maybeRetry || chat.status !== 'ACTIVE') {
        const existing = await deps.chats.getMessageByClientId(chatId, viewer.userId, clientMessageId)
        if (existing) return toMessageView(existing, viewer.userId)
      }
      if (chat.status !== 'ACTIVE') throw new DomainError('CHAT_CLOSED', 'This chat is closed.')
      const now = deps.clock.now()
      const message: MessageRecord = { chatId, seq: chat.lastSeq + 1, senderId: viewer.userId, clientMessageId, body, photoId, createdAt: now }
      const expiresAt = now + deps.chatTtlSeconds * 1000
      const result = await deps.chats.appendMessage(chat, message, expiresAt, now)
      if (result === 'appended') {
        deps.access.remember(afterSend(chat, side, message, expiresAt))
        void this.announce(chat, side, message, expiresAt)
        return toMessageView(message, viewer.userId)
      }
      deps.access.forget(chatId)
      maybeRetry = result === 'duplicate'
      if (result === 'conflict') await delay(deps.clock, Math.random() * Math.min(50, 2 * attempt))
    }
    throw new Error(`sendMessage to ${chatId} lost ${SEND_ATTEMPTS} races for the next seq`)
  }

  /**
   * One event tells the chat's subscribers and the recipient's notifications, and ends the
   * sender's typing; the recipient's devices get a push if it is offline. Neither fails the send
   * it follows.
   */
  private async announce(chat: ChatRecord, senderSide: ChatSide, message: MessageRecord, expiresAt: number): Promise<void> {
    this.deps.typing.ended(chat.chatId, message.senderId)
    // The send incremented the recipient's counter in the same write.
    const recipient = other(senderSide)
    const recipientUnread = chat[recipient].unread + 1
    if (chat.hiddenFrom !== recipient) this.deps.push.notify('message', chat.chatId, chat[recipient].userId)
    await this.deps.events.publish(topics.chat(chat.chatId), { kind: 'message', chatId: chat.chatId, message, expiresAt, recipientUnread })
  }
}

/** The chat as the send of `message` left it (the same write as appendMessage makes). */
function afterSend(chat: ChatRecord, senderSide: ChatSide, message: MessageRecord, expiresAt: number): ChatRecord {
  const recipientSide = other(senderSide)
  return {
    ...chat,
    lastSeq: message.seq,
    lastActivityAt: message.createdAt,
    expiresAt,
    [senderSide]: { ...chat[senderSide], readSeq: message.seq, deliveredSeq: message.seq, unread: 0 },
    [recipientSide]: { ...chat[recipientSide], unread: chat[recipientSide].unread + 1 },
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
