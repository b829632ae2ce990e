import {
  BlockChatDocument,
  chatStream,
  ChatMessagesDocument,
  HushError,
  LeaveChatDocument,
  MarkReadDocument,
  OpenChatDocument,
  SendMessageDocument,
  SendPhotoDocument,
  typing,
  type ChatCloseReason,
  type TypingIndicator,
} from '@hush/client'
import { useEffect, useReducer, useRef, useState } from 'preact/hooks'
import { chatReducer, initialChatState, newestPeerSeq, type ChatAction, type ChatState, type Photo } from './chat-log.js'
import { describeError } from './errors.js'
import type { Session } from './session.js'
import { uploadPhoto } from './upload.js'

/** Messages per history page (the API allows 100). */
const PAGE_SIZE = 50

export interface ChatControls {
  state: ChatState
  /** The last thing that went wrong, readably; cleared by `dismissError`. */
  error: string | undefined
  dismissError: () => void
  /** Call with the draft on every input: the peer sees typing while it is not empty. */
  draftChanged(draft: string): void
  send(body: string): Promise<void>
  sendPhoto(file: File, viewOnce: boolean): Promise<void>
  leave(): Promise<void>
  block(reason: string): Promise<void>
  loadEarlier(): Promise<void>
  /** The photo of message `seq` with a URL fresh from the server (null once it is gone). */
  freshPhoto(seq: number): Promise<Photo | null>
  /** Records that a view-once photo was shown: it cannot be opened again. */
  viewedOnce(seq: number, photo: Photo): void
}

/**
 * One chat, live: its newest page of history, then chatEvents from the last message of it through
 * the client package's chatStream, which resumes after reconnects without a gap or a repeat. The
 * peer's messages are marked read while the page is visible.
 */
export function useChat(session: Session, chatId: string): ChatControls {
  const { client } = session
  const [state, dispatch] = useReducer(chatReducer, initialChatState)
  const [error, setError] = useState<string | undefined>()
  const indicator = useRef<TypingIndicator | undefined>(undefined)
  /** The close this side asked for, so its own ChatClosedEvent reads "you left". */
  const closing = useRef<ChatCloseReason | undefined>(undefined)
  const fail = (cause: unknown) => setError(describeError(cause))

  useEffect(() => {
    const abort = new AbortController()
    indicator.current = typing(client, chatId)
    follow(session, chatId, dispatch, closing, abort.signal).catch((cause: unknown) => abort.signal.aborted || fail(cause))
    return () => {
      abort.abort()
      indicator.current?.stop()
    }
  }, [chatId])

  useMarkRead(session, chatId, state, fail)

  const freshPhoto = async (seq: number) => {
    const { chat } = await client.execute(ChatMessagesDocument, { id: chatId, afterSeq: seq - 1, last: 1 })
    const photo = chat?.messages.find((m) => m.seq === seq)?.photo ?? null
    dispatch({ type: 'photo', seq, photo })
    return photo
  }
  const close = async (reason: ChatCloseReason, request: () => Promise<unknown>) => {
    closing.current = reason
    try {
      await request()
      dispatch({ type: 'closed', reason, byMe: true })
    } catch (cause) {
      closing.current = undefined
      fail(cause)
    }
  }

  return {
    state,
    error,
    dismissError: () => setError(undefined),
    draftChanged: (draft) => (draft.trim() === '' ? indicator.current?.stop() : indicator.current?.keystroke()),
    async send(body) {
      const clientMessageId = newClientMessageId()
      dispatch({ type: 'sending', clientMessageId, body, photo: null })
      indicator.current?.sent()
      try {
        const { sendMessage } = await client.execute(SendMessageDocument, { chatId, clientMessageId, body })
        dispatch({ type: 'sent', message: { ...sendMessage, photo: null }, at: Date.parse(sendMessage.createdAt) })
      } catch (cause) {
        dispatch({ type: 'failed', clientMessageId, failure: describeError(cause) })
      }
    },
    async sendPhoto(file, viewOnce) {
      try {
        const photo = await uploadPhoto(session, chatId, file, viewOnce)
        const clientMessageId = newClientMessageId()
        dispatch({ type: 'sending', clientMessageId, body: null, photo })
        const { sendMessage } = await client.execute(SendPhotoDocument, { chatId, clientMessageId, photoId: photo.id })
        dispatch({ type: 'sent', message: { ...sendMessage, fromMe: true, clientMessageId }, at: Date.now() })
      } catch (cause) {
        fail(cause)
      }
    },
    leave: () => close('LEFT', () => client.execute(LeaveChatDocument, { chatId })),
    block: (reason) => close('BLOCKED', () => client.execute(BlockChatDocument, { chatId, reason: reason.trim() || null })),
    async loadEarlier() {
      const beforeSeq = state.messages.find((m) => m.seq !== undefined)?.seq
      if (beforeSeq === undefined) return
      try {
        const { chat } = await client.execute(ChatMessagesDocument, { id: chatId, beforeSeq, last: PAGE_SIZE })
        dispatch({ type: 'earlier', messages: chat?.messages ?? [], pageSize: PAGE_SIZE })
      } catch (cause) {
        fail(cause)
      }
    },
    freshPhoto,
    viewedOnce: (seq, photo) => dispatch({ type: 'photo', seq, photo: { ...photo, url: null } }),
  }
}

/** Opens the chat, then follows its events until it closes or the screen goes away. */
async function follow(
  session: Session,
  chatId: string,
  dispatch: (action: ChatAction) => void,
  closing: { current: ChatCloseReason | undefined },
  signal: AbortSignal,
): Promise<void> {
  const { client } = session
  const { chat } = await client.execute(OpenChatDocument, { id: chatId, last: PAGE_SIZE })
  if (signal.aborted) return
  if (!chat) throw new HushError('Chat not found', { code: 'NOT_FOUND' })
  dispatch({ type: 'opened', chat, pageSize: PAGE_SIZE })
  if (chat.status !== 'ACTIVE') return
  // From the last message shown, not chat.lastSeq: a message stored between the two reads comes
  // with the replay instead of being skipped.
  const afterSeq = chat.messages.at(-1)?.seq ?? 0
  for await (const event of chatStream(client, chatId, { afterSeq, signal })) {
    if (event.__typename === 'ChatClosedEvent') {
      dispatch({ type: 'closed', reason: event.reason, byMe: closing.current === event.reason })
      continue
    }
    dispatch({ type: 'event', event, now: Date.now() })
    if (event.__typename === 'MessageEvent' && event.message.body === null) {
      const { seq } = event.message
      client
        .execute(ChatMessagesDocument, { id: chatId, afterSeq: seq - 1, last: 1 })
        .then(({ chat }) => dispatch({ type: 'photo', seq, photo: chat?.messages[0]?.photo ?? null }))
        .catch(() => dispatch({ type: 'photo', seq, photo: null }))
    }
  }
}

/** Marks the peer's newest message read whenever it changes while the page is visible. */
function useMarkRead(session: Session, chatId: string, state: ChatState, fail: (cause: unknown) => void): void {
  const marked = useRef(0)
  useEffect(() => {
    const mark = () => {
      const seq = newestPeerSeq(state.messages)
      if (seq <= marked.current || state.closed || document.visibilityState !== 'visible') return
      marked.current = seq
      session.client.executeOnSocket(MarkReadDocument, { chatId, seq }).catch(fail)
    }
    mark()
    document.addEventListener('visibilitychange', mark)
    return () => document.removeEventListener('visibilitychange', mark)
  }, [state.messages, state.closed])
}

/** 128 random bits; crypto.randomUUID needs a secure context, which plain-http LAN addresses are not. */
function newClientMessageId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('')
}
