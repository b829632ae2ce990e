import type { ChatRecord, ChatSide, ChatStatus, MessageRecord, ParticipantRole } from '../ports.js'

export interface ParticipantView {
  alias: string
  role: ParticipantRole
}

/** A live chat of the caller, and the caller's side of it. */
export interface CallerChat {
  chat: ChatRecord
  side: ChatSide
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
  /** Until when the caller gets no push of this chat; null when not muted. */
  mutedUntil: Date | null
  /** For the services' own follow-up reads (unread count, history); never exposed by the schema. */
  readonly internal: CallerChat
}

export interface MessageView {
  id: string
  chatId: string
  seq: number
  /** The sender's own id for the message; for anyone else, `id`. */
  clientMessageId: string
  fromMe: boolean
  body: string | null
  photoId: string | null
  createdAt: Date
}

export const other = (side: ChatSide): ChatSide => (side === 'a' ? 'b' : 'a')

/** A chat is live until its expiry; nothing of it is visible after. */
export const isLive = (chat: ChatRecord, now: number): boolean => chat.expiresAt > now

/**
 * The caller's side of a live chat, or undefined: not theirs, hidden from them and expired look
 * alike.
 */
export function asCallerChat(chat: ChatRecord | undefined, userId: string, now: number): CallerChat | undefined {
  if (!chat || !isLive(chat, now)) return undefined
  const side = chat.a.userId === userId ? 'a' : chat.b.userId === userId ? 'b' : undefined
  return side && side !== chat.hiddenFrom ? { chat, side } : undefined
}

export function toChatView(found: CallerChat): ChatView {
  const { chat, side } = found
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
    mutedUntil: me.mutedUntil ? new Date(me.mutedUntil) : null,
    internal: found,
  }
}

/**
 * A message as `viewerId` sees it. The clientMessageId is the sender's to see: chosen by their
 * client, it could carry anything (a device id), so the peer gets the message id in its place.
 */
export function toMessageView(message: MessageRecord, viewerId: string): MessageView {
  const id = `${message.chatId}.${message.seq}`
  const fromMe = message.senderId === viewerId
  return {
    id,
    chatId: message.chatId,
    seq: message.seq,
    clientMessageId: fromMe ? message.clientMessageId : id,
    fromMe,
    body: message.body ?? null,
    photoId: message.photoId ?? null,
    createdAt: new Date(message.createdAt),
  }
}
