import type { ChatCloseReason, ChatEvent, ChatMessagesQuery, OpenChatQuery } from '@hush/client'

type OpenedChat = NonNullable<OpenChatQuery['chat']>
export type StoredMessage = NonNullable<ChatMessagesQuery['chat']>['messages'][number]
export type Photo = NonNullable<StoredMessage['photo']>

/** One line of the conversation: stored (with its seq) or on its way (seq undefined). */
export interface LogMessage {
  /** Stable across the send: the clientMessageId the sender chose (the peer gets the message id). */
  key: string
  seq: number | undefined
  fromMe: boolean
  body: string | null
  /** null: no photo; undefined: not known yet (chatEvents carries no photo: it is fetched). */
  photo: Photo | null | undefined
  /** Why the send failed, when it did. */
  failure?: string
}

/** Everything a chat screen shows, changed only by `chatReducer`. */
export interface ChatState {
  chat: Pick<OpenedChat, 'id' | 'me' | 'peer' | 'post'> | undefined
  messages: LogMessage[]
  /** The oldest stored messages are not loaded yet. */
  hasEarlier: boolean
  peerPresent: boolean
  peerTyping: boolean
  peerDeliveredSeq: number
  peerReadSeq: number
  /** When the chat disappears (ms since the epoch); every message moves it. */
  expiresAt: number
  /** A chat's life after its last message, from its own expiresAt and lastActivityAt. */
  lifeMs: number
  /** byMe undefined: the chat was closed already when opened, by whom is not said. */
  closed: { reason: ChatCloseReason; byMe: boolean | undefined } | undefined
}

export type ChatAction =
  | { type: 'opened'; chat: OpenedChat; pageSize: number }
  | { type: 'earlier'; messages: StoredMessage[]; pageSize: number }
  | { type: 'event'; event: ChatEvent; now: number }
  | { type: 'sending'; clientMessageId: string; body: string | null; photo: Photo | null }
  | { type: 'sent'; message: IncomingMessage; at: number }
  | { type: 'failed'; clientMessageId: string; failure: string }
  | { type: 'photo'; seq: number; photo: Photo | null }
  | { type: 'closed'; reason: ChatCloseReason; byMe: boolean }

export const initialChatState: ChatState = {
  chat: undefined,
  messages: [],
  hasEarlier: false,
  peerPresent: false,
  peerTyping: false,
  peerDeliveredSeq: 0,
  peerReadSeq: 0,
  expiresAt: 0,
  lifeMs: 0,
  closed: undefined,
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'opened': {
      const { chat } = action
      const lifeMs = Date.parse(chat.expiresAt) - Date.parse(chat.lastActivityAt)
      return {
        ...state,
        chat: { id: chat.id, me: chat.me, peer: chat.peer, post: chat.post },
        messages: chat.messages.reduce(withMessage, state.messages),
        hasEarlier: chat.messages.length === action.pageSize && (chat.messages[0]?.seq ?? 1) > 1,
        peerPresent: chat.peerPresent,
        peerDeliveredSeq: chat.peerDeliveredSeq,
        peerReadSeq: chat.peerReadSeq,
        expiresAt: Date.parse(chat.expiresAt),
        lifeMs,
        closed: chat.status === 'ACTIVE' ? undefined : { reason: chat.status, byMe: undefined },
      }
    }
    case 'earlier':
      return {
        ...state,
        messages: action.messages.reduce(withMessage, state.messages),
        hasEarlier: action.messages.length === action.pageSize && (action.messages[0]?.seq ?? 1) > 1,
      }
    case 'event':
      return withEvent(state, action.event, action.now)
    case 'sending':
      return {
        ...state,
        messages: [...state.messages, { key: action.clientMessageId, seq: undefined, fromMe: true, body: action.body, photo: action.photo }],
      }
    case 'sent':
      return { ...state, messages: withMessage(state.messages, action.message), expiresAt: action.at + state.lifeMs }
    case 'failed':
      return { ...state, messages: state.messages.map((m) => (m.key === action.clientMessageId && m.seq === undefined ? { ...m, failure: action.failure } : m)) }
    case 'photo':
      return { ...state, messages: state.messages.map((m) => (m.seq === action.seq ? { ...m, photo: action.photo } : m)) }
    case 'closed':
      return { ...state, peerTyping: false, closed: state.closed ?? { reason: action.reason, byMe: action.byMe } }
  }
}

function withEvent(state: ChatState, event: ChatEvent, now: number): ChatState {
  switch (event.__typename) {
    case 'MessageEvent': {
      const { message } = event
      // A body-less message is a photo; a photo with a caption is known once the history is read again.
      const photo = message.body === null ? undefined : null
      const messages = withMessage(state.messages, { ...message, photo })
      // The peer's message ends its typing (the server says so too, a moment later).
      return { ...state, messages, peerTyping: message.fromMe && state.peerTyping, expiresAt: now + state.lifeMs }
    }
    case 'TypingEvent':
      return { ...state, peerTyping: event.typing }
    case 'PresenceEvent':
      return { ...state, peerPresent: event.peerPresent, peerTyping: event.peerPresent && state.peerTyping }
    case 'ReceiptEvent':
      return { ...state, peerDeliveredSeq: event.peerDeliveredSeq, peerReadSeq: event.peerReadSeq }
    case 'ChatClosedEvent':
      return chatReducer(state, { type: 'closed', reason: event.reason, byMe: false })
  }
}

/** A message as the server returned or pushed it; `photo` undefined when it did not say. */
export type IncomingMessage = Pick<StoredMessage, 'seq' | 'fromMe' | 'body' | 'clientMessageId'> & { photo: Photo | null | undefined }

/**
 * The log with `message` in its place by seq: once only (a seq already there keeps what is known
 * of its photo), and replacing the sender's own line on its way (same clientMessageId).
 */
export function withMessage(messages: LogMessage[], message: IncomingMessage): LogMessage[] {
  const existing = messages.find((m) => m.seq === message.seq)
  if (existing) return existing.photo === undefined && message.photo !== undefined ? messages.map((m) => (m === existing ? { ...m, photo: message.photo } : m)) : messages
  const pending = message.fromMe ? messages.find((m) => m.seq === undefined && m.key === message.clientMessageId) : undefined
  const line: LogMessage = {
    key: pending?.key ?? `seq:${message.seq}`,
    seq: message.seq,
    fromMe: message.fromMe,
    body: message.body,
    photo: message.photo === undefined ? pending?.photo : message.photo,
  }
  const rest = messages.filter((m) => m !== pending)
  const stored = rest.filter((m) => m.seq !== undefined)
  const index = stored.findIndex((m) => m.seq! > message.seq)
  const sending = rest.filter((m) => m.seq === undefined)
  return index === -1 ? [...stored, line, ...sending] : [...stored.slice(0, index), line, ...stored.slice(index), ...sending]
}

/** The newest seq of the peer's messages in the log (0 for none): what markRead is called with. */
export const newestPeerSeq = (messages: LogMessage[]): number => messages.reduce((seq, m) => (!m.fromMe && m.seq !== undefined && m.seq > seq ? m.seq : seq), 0)

/** The newest seq in the log (0 for none): chatEvents resumes after it. */
export const newestSeq = (messages: LogMessage[]): number => messages.reduce((seq, m) => Math.max(seq, m.seq ?? 0), 0)
