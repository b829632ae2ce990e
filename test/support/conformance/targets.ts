import { randomUUID } from 'node:crypto'
import { print, type DocumentNode } from 'graphql'
import {
  ChatEventsDocument,
  ChatsDocument,
  CreatePostDocument,
  LeaveChatDocument,
  SendMessageDocument,
  SetTypingDocument,
  StartChatDocument,
  ViewerDocument,
  type ChatEventsSubscription,
} from '../../generated/graphql.js'
import { startTestApp, type TestApp } from '../app.js'
import { mustRequest, signUp, type TestUser } from '../client.js'
import { REFERENCE_TOKEN, startReferenceServer } from './reference-server.js'

/**
 * The two servers the conformance suite runs against, behind one interface: what a valid
 * connection_init carries, which operations to send, and how to push events into a subscription
 * and end it. Nothing in here decides what the protocol expects; the suite does.
 */

/** One operation as a subscribe payload, with a check of the data it must produce. */
export interface Operation {
  query: string
  variables?: Record<string, unknown>
  operationName?: string
  /** Throws when the `next` payload is not the operation's expected result. */
  check?: (payload: { data?: unknown; errors?: unknown }) => void
}

/** A fresh event source (a topic, a chat) that one or more subscriptions can listen to. */
export interface Stream {
  subscribe: Operation
  /** Resolves once `count` subscriptions are listening, so a push cannot be missed. */
  ready(count: number): Promise<void>
  /** Makes the source emit event number `n`. */
  push(n: number): Promise<void>
  /** True when a `next` payload is event `n`. */
  isEvent(payload: unknown, n: number): boolean
  /** Makes the source end, which must end every subscription on it. */
  end(): Promise<void>
  /** Throws unless the `next` payloads seen before `complete` show how the source ended. */
  checkEnd(payloads: unknown[]): void
}

export interface Target {
  name: string
  /** ws:// URL of the graphql-transport-ws endpoint. */
  url: string
  initTimeoutMs: number
  /** Interval of the server's WebSocket-level pings. */
  keepAliveMs: number
  /** Largest frame the server reads. */
  maxFrameBytes: number
  /** A connection_init payload the server accepts. */
  goodInit: Record<string, unknown>
  /** connection_init payloads without a valid token (undefined: no payload at all). */
  badInits: Array<{ label: string; payload: Record<string, unknown> | null | undefined }>
  query: Operation
  mutation: Operation
  /** A query that takes a while (I/O), so a complete can overtake it. */
  slowQuery: Operation
  /** Fails validation. */
  invalidQuery: Operation
  /** Valid, but its resolver fails: an execution error. */
  failingOperation: Operation
  /** A document of two operations, with operationName choosing the second. */
  namedOperation: Operation
  /** A valid subscription that the server refuses to start. */
  refusedSubscription: Operation
  /**
   * A source for one case. Only with `ending` is it a source of its own that `end()` may end;
   * otherwise it may share a source with other cases (its events are still its own).
   */
  stream(options?: { ending?: boolean }): Promise<Stream>
  /** Set on the Hush target only: what its Hush-only cases need. */
  hush?: HushTarget
  stop(): Promise<void>
}

export interface HushTarget {
  app: TestApp
  /** The subscriber of every stream (the chat's author). */
  author: TestUser
  /** The other side, who pushes messages and ends chats. */
  commenter: TestUser
  newChat(): Promise<string>
  send(chatId: string, body: string): Promise<number>
  chatEvents: DocumentNode
}

const REFERENCE_INIT_TIMEOUT_MS = 500

export async function startReferenceTarget(): Promise<Target> {
  const server = await startReferenceServer({
    connectionInitWaitTimeout: REFERENCE_INIT_TIMEOUT_MS,
    keepAliveMs: 300,
    // Not part of graphql-ws: ws's own frame limit, set like Hush's default.
    maxPayload: 64 * 1024,
  })
  return {
    name: 'graphql-ws reference (useServer)',
    url: server.url,
    initTimeoutMs: REFERENCE_INIT_TIMEOUT_MS,
    keepAliveMs: 300,
    maxFrameBytes: 64 * 1024,
    goodInit: { authorization: `Bearer ${REFERENCE_TOKEN}` },
    badInits: [
      { label: 'no payload', payload: undefined },
      { label: 'a null payload', payload: null },
      { label: 'no authorization', payload: {} },
      { label: 'a wrong token', payload: { authorization: 'Bearer not-the-token' } },
    ],
    query: {
      query: '{ hello }',
      check: (payload) => {
        if (JSON.stringify(payload) !== JSON.stringify({ data: { hello: 'world' } })) throw new Error(`unexpected ${JSON.stringify(payload)}`)
      },
    },
    mutation: {
      query: 'mutation ($text: String!) { echo(text: $text) }',
      variables: { text: 'hi' },
      check: (payload) => {
        if (JSON.stringify(payload) !== JSON.stringify({ data: { echo: 'hi' } })) throw new Error(`unexpected ${JSON.stringify(payload)}`)
      },
    },
    slowQuery: { query: '{ slow }' },
    invalidQuery: { query: '{ nope }' },
    failingOperation: { query: '{ boom }' },
    namedOperation: {
      query: 'query First { hello } mutation Second($text: String!) { echo(text: $text) }',
      operationName: 'Second',
      variables: { text: 'second' },
      check: (payload) => {
        if (JSON.stringify(payload) !== JSON.stringify({ data: { echo: 'second' } })) throw new Error(`unexpected ${JSON.stringify(payload)}`)
      },
    },
    refusedSubscription: { query: 'subscription { denied }' },
    async stream() {
      const topic = randomUUID()
      return {
        subscribe: { query: 'subscription ($topic: ID!) { events(topic: $topic) }', variables: { topic } },
        async ready(count) {
          const deadline = Date.now() + 5_000
          while (server.listeners(topic) < count) {
            if (Date.now() > deadline) throw new Error(`only ${server.listeners(topic)} of ${count} listeners`)
            await new Promise((resolve) => setTimeout(resolve, 5))
          }
        },
        push: async (n) => server.push(topic, `m${n}`),
        isEvent: (payload, n) => (payload as { data?: { events?: string } }).data?.events === `m${n}`,
        end: async () => server.end(topic),
        checkEnd: () => {},
      }
    },
    stop: () => server.stop(),
  }
}

/** Small limits so that the timeout and slow-consumer cases stay fast. */
export const HUSH_ENV = {
  CONNECTION_INIT_TIMEOUT_MS: '500',
  // What the server lets a client that does not read leave unread before it cuts it off (the
  // 1013 case): events per subscription, or, once that setting becomes a byte budget per socket,
  // bytes (unknown settings are ignored, so both can be given).
  MAX_QUEUED_EVENTS: '4',
  MAX_QUEUED_BYTES: String(16 * 1024),
  // Large messages (still within a 64 KiB request) fill the socket buffers of the 1013 case with
  // few DynamoDB writes.
  MAX_MESSAGE_LENGTH: '60000',
}

type ChatEvent = ChatEventsSubscription['chatEvents']
const chatEventOf = (payload: unknown): ChatEvent | undefined =>
  (payload as { data?: ChatEventsSubscription | null } | undefined)?.data?.chatEvents

export async function startHushTarget(): Promise<Target> {
  const app = await startTestApp(HUSH_ENV)
  const [author, commenter] = await Promise.all([signUp(app.url), signUp(app.url)])

  // Posts are rate-limited per user: one chat serves every case that does not end its chat.
  const newChat = async () => {
    const post = (await mustRequest(app.url, CreatePostDocument, { body: 'conformance' }, author.token)).createPost
    return (await mustRequest(app.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat.id
  }
  const send = async (chatId: string, body: string) =>
    (await mustRequest(app.url, SendMessageDocument, { chatId, clientMessageId: randomUUID(), body }, commenter.token)).sendMessage.seq
  const shared = { chatId: await newChat(), lastSeq: 0 }

  return {
    name: 'Hush (startTestApp)',
    url: `${app.url.replace(/^http/, 'ws')}/graphql`,
    initTimeoutMs: app.config.limits.connectionInitTimeoutMs,
    // Hush's keep-alive interval is not configurable: 12 s (src/server/ws-adapter.ts default).
    keepAliveMs: 12_000,
    maxFrameBytes: app.config.limits.maxFrameBytes,
    goodInit: { authorization: `Bearer ${author.token}` },
    badInits: [
      { label: 'no payload', payload: undefined },
      { label: 'a null payload', payload: null },
      { label: 'no authorization', payload: {} },
      { label: 'a bad token', payload: { authorization: 'Bearer not-a-jwt' } },
    ],
    query: {
      query: print(ViewerDocument),
      check: (payload) => {
        if ((payload.data as { viewer?: { id?: string } } | undefined)?.viewer?.id !== author.id || payload.errors) {
          throw new Error(`unexpected ${JSON.stringify(payload)}`)
        }
      },
    },
    mutation: {
      query: print(SetTypingDocument),
      variables: { chatId: shared.chatId, typing: false },
      check: (payload) => {
        if (JSON.stringify(payload) !== JSON.stringify({ data: { setTyping: true } })) throw new Error(`unexpected ${JSON.stringify(payload)}`)
      },
    },
    // Reads DynamoDB: never answered within the tick its subscribe was read in.
    slowQuery: { query: print(ChatsDocument), variables: { first: 5 } },
    invalidQuery: { query: '{ nope }' },
    failingOperation: { query: print(SetTypingDocument), variables: { chatId: 'c_nope', typing: true } },
    namedOperation: {
      query: `${print(ViewerDocument)}\n${print(ChatsDocument)}`,
      operationName: 'Chats',
      variables: { first: 1 },
      check: (payload) => {
        const data = payload.data as { chats?: unknown; viewer?: unknown } | undefined
        if (!Array.isArray(data?.chats) || data.viewer !== undefined || payload.errors) throw new Error(`unexpected ${JSON.stringify(payload)}`)
      },
    },
    // Only participants may subscribe to a chat: NOT_FOUND.
    refusedSubscription: { query: 'subscription { chatEvents(chatId: "no-such-chat") { __typename } }' },
    async stream(options) {
      const chatId = options?.ending ? await newChat() : shared.chatId
      const tag = randomUUID().slice(0, 8)
      const bodyOf = (n: number) => `${tag}-m${n}`
      // afterSeq: every message after it first, then live ones, so no push is missed.
      const afterSeq = chatId === shared.chatId ? shared.lastSeq : 0
      return {
        subscribe: { query: print(ChatEventsDocument), variables: { chatId, afterSeq } },
        ready: async () => {},
        push: async (n) => {
          const seq = await send(chatId, bodyOf(n))
          if (chatId === shared.chatId) shared.lastSeq = Math.max(shared.lastSeq, seq)
        },
        isEvent: (payload, n) => {
          const event = chatEventOf(payload)
          return event?.__typename === 'MessageEvent' && event.message.body === bodyOf(n)
        },
        end: async () => {
          if (chatId === shared.chatId) throw new Error('end() needs stream({ ending: true })')
          await mustRequest(app.url, LeaveChatDocument, { chatId }, commenter.token)
        },
        checkEnd: (payloads) => {
          const last = chatEventOf(payloads.at(-1))
          if (last?.__typename !== 'ChatClosedEvent' || last.reason !== 'LEFT') {
            throw new Error(`expected ChatClosedEvent(LEFT) as the last next, got ${JSON.stringify(payloads.at(-1))}`)
          }
        },
      }
    },
    hush: { app, author, commenter, newChat, send, chatEvents: ChatEventsDocument },
    stop: () => app.stop(),
  }
}
