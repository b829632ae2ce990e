import path from 'node:path'
import { randomUUID } from 'node:crypto'
import { ApolloClient, InMemoryCache } from '@apollo/client'
import { Client as UrqlClient } from '@urql/core'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { hushLink } from '../client/src/apollo.js'
import {
  ChatEventsDocument,
  CreatePostDocument,
  LeaveChatDocument,
  SendMessageDocument,
  SetTypingDocument,
  SignUpDocument,
  StartChatDocument,
  ViewerDocument,
} from '../client/src/generated/graphql.js'
import {
  backoff,
  chatStream,
  createHushClient,
  typing,
  type ChatEvent,
  type ChatStream,
  type GetToken,
  type HushClient,
  type HushClientOptions,
} from '../client/src/index.js'
import { hushSubscriptionExchange } from '../client/src/urql.js'
import { redisEnv, startPeerApp, startTestApp, type TestApp } from './support/app.js'
import { mustRequest, signUp, type TestUser } from './support/client.js'
import { freePort } from './support/process.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function until(what: string, predicate: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** Runs a chat stream in the background, keeping what it yields. */
function drain(stream: ChatStream) {
  const events: ChatEvent[] = []
  const done = (async () => {
    for await (const event of stream) events.push(event)
  })()
  const messages = () => events.flatMap((event) => (event.__typename === 'MessageEvent' ? [event.message] : []))
  return { events, done, messages, seqs: () => messages().map((message) => message.seq) }
}

const clients: HushClient[] = []
/** The package's client as an app on Node 20 uses it: `ws` for the socket, fast retries for the test. */
function hushClient(url: string, getToken: GetToken, options: Partial<HushClientOptions> = {}): HushClient {
  const client = createHushClient({ url: `${url}/graphql`, getToken, webSocketImpl: WebSocket, retryWait: backoff({ baseMs: 50, maxMs: 400 }), ...options })
  clients.push(client)
  return client
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()))
})

async function newChat(url: string, author: TestUser, commenter: TestUser): Promise<string> {
  const post = (await mustRequest(url, CreatePostDocument, { body: 'a secret' }, author.token)).createPost
  return (await mustRequest(url, StartChatDocument, { postId: post.id }, commenter.token)).startChat.id
}
const send = (url: string, user: TestUser, chatId: string, body: string) =>
  mustRequest(url, SendMessageDocument, { chatId, clientMessageId: randomUUID(), body }, user.token)

describe('chatStream across a server stopped and restarted on the same port', () => {
  const apps: TestApp[] = []
  afterAll(async () => {
    for (const app of apps) await app.stop().catch(() => {})
  })

  it('yields every message exactly once and in order, those sent while it was disconnected included', async () => {
    const port = await freePort()
    const first = await startTestApp({ ...redisEnv(), PORT: String(port) })
    apps.push(first)
    const [author, commenter] = [await signUp(first.url), await signUp(first.url)]
    const chatId = await newChat(first.url, author, commenter)

    // What went over the wire: each subscribe of ChatEvents and the afterSeq it carried.
    const afterSeqs: unknown[] = []
    class RecordingWebSocket extends WebSocket {
      override send(data: unknown, ...rest: unknown[]): void {
        const frame = JSON.parse(String(data)) as { type: string; payload?: { operationName?: string; variables?: { afterSeq?: unknown } } }
        if (frame.type === 'subscribe' && frame.payload?.operationName === 'ChatEvents') afterSeqs.push(frame.payload.variables?.afterSeq)
        ;(super.send as (this: WebSocket, ...args: unknown[]) => void).call(this, data, ...rest)
      }
    }
    const hush = hushClient(first.url, () => author.token, { webSocketImpl: RecordingWebSocket })
    let reconnects = 0
    hush.socket.on('connected', (_socket, _payload, wasRetry) => void (wasRetry && reconnects++))
    const stream = drain(chatStream(hush, chatId, { afterSeq: 0 }))

    for (const n of range(1, 3)) await send(first.url, commenter, chatId, `m${n}`)
    await until('messages 1-3', () => stream.seqs().length === 3)

    // Down: the client's socket is closed (1001) and its reconnects are refused. Meanwhile the
    // commenter writes through another process of the same deployment (same table and Redis).
    await first.stop()
    const other = await startPeerApp(first)
    apps.push(other)
    for (const n of range(4, 6)) await send(other.url, commenter, chatId, `m${n}`)
    await sleep(300) // a few refused reconnects
    expect(stream.seqs()).toEqual([1, 2, 3])

    // Up again on the same port; the client reconnects and resubscribes from seq 3.
    const restarted = await startPeerApp(first, { PORT: String(port) })
    apps.push(restarted)
    for (const n of range(7, 9)) await send(restarted.url, commenter, chatId, `m${n}`)
    await until('messages 1-9', () => stream.seqs().length >= 9)
    await mustRequest(restarted.url, LeaveChatDocument, { chatId }, commenter.token)
    await stream.done // the stream ends with the ChatClosedEvent

    expect(stream.seqs()).toEqual(range(1, 9))
    expect(stream.messages().map((message) => message.body)).toEqual(range(1, 9).map((n) => `m${n}`))
    expect(stream.events.at(-1)).toMatchObject({ __typename: 'ChatClosedEvent', reason: 'LEFT' })
    expect(reconnects).toBeGreaterThanOrEqual(1)
    // Resubscribed with the last seq it had, not graphql-ws's resend of the first variables.
    expect(afterSeqs).toEqual([0, 3])
  })
})

describe('the client package against one server', () => {
  let app: TestApp
  let author: TestUser
  let commenter: TestUser

  beforeAll(async () => {
    app = await startTestApp()
    author = await signUp(app.url)
    commenter = await signUp(app.url)
  })
  afterAll(() => app?.stop())

  it('gets a fresh token after a 4403 and ends up subscribed', async () => {
    const chatId = await newChat(app.url, author, commenter)
    let calls = 0
    const getToken = vi.fn<GetToken>(() => (calls++ === 0 ? 'not-a-valid-token' : author.token))
    const closes: number[] = []
    const hush = hushClient(app.url, getToken, { on: { closed: (event) => void closes.push((event as { code: number }).code) } })
    const stream = drain(chatStream(hush, chatId, { afterSeq: 0 }))

    await send(app.url, commenter, chatId, 'after the refresh')
    await until('the message', () => stream.seqs().length === 1)
    expect(closes).toEqual([4403])
    expect(getToken.mock.calls.map(([context]) => context)).toEqual([{ refresh: false }, { refresh: true }])
  })

  it('retries an HTTP operation refused as UNAUTHENTICATED once, with a fresh token', async () => {
    let calls = 0
    const getToken = vi.fn<GetToken>(() => (calls++ === 0 ? 'expired-token' : author.token))
    const { viewer } = await hushClient(app.url, getToken).execute(ViewerDocument)
    expect(viewer.id).toBe(author.id)
    expect(getToken.mock.calls.map(([context]) => context)).toEqual([{ refresh: false }, { refresh: true }])
    await expect(hushClient(app.url, () => 'still-bad').execute(ViewerDocument)).rejects.toMatchObject({ name: 'HushError', code: 'UNAUTHENTICATED' })
  })

  it('retries a getToken that fails, with backoff, instead of failing the subscription', async () => {
    const chatId = await newChat(app.url, author, commenter)
    let calls = 0
    const getToken = vi.fn<GetToken>(async () => {
      if (calls++ === 0) throw new Error('token service unreachable')
      return author.token
    })
    const stream = drain(chatStream(hushClient(app.url, getToken), chatId, { afterSeq: 0 }))
    await send(app.url, commenter, chatId, 'hello')
    await until('the message', () => stream.seqs().length === 1)
    expect(getToken).toHaveBeenCalledTimes(2)
  })

  it('starts at the chat’s current seq without afterSeq, and resumes from it after a disconnect', async () => {
    const chatId = await newChat(app.url, author, commenter)
    await send(app.url, commenter, chatId, 'before')
    const hush = hushClient(app.url, () => author.token)
    let connected = 0
    hush.socket.on('connected', () => void connected++)
    const stream = drain(chatStream(hush, chatId))
    await until('the socket', () => connected === 1)
    await sleep(200) // the stream queried lastSeq (1) and subscribed
    hush.socket.terminate() // as if the network went: a 4499 close, retried
    await send(app.url, commenter, chatId, 'after')
    await until('the message', () => stream.seqs().length === 1)
    expect(stream.messages().map((message) => [message.seq, message.body])).toEqual([[2, 'after']])
    expect(connected).toBe(2)
  })

  it('throttles typing, stops it after idle, and sends nothing more once the message is sent', async () => {
    const chatId = await newChat(app.url, author, commenter)
    const hush = hushClient(app.url, () => author.token)
    const calls = vi.spyOn(hush, 'executeOnSocket')
    const typed = () => calls.mock.calls.filter(([document]) => document === SetTypingDocument).map((call) => (call[1] as { typing: boolean }).typing)
    const peer = drain(chatStream(hushClient(app.url, () => commenter.token), chatId, { afterSeq: 0 }))
    const peerTyping = () => peer.events.flatMap((event) => (event.__typename === 'TypingEvent' ? [event.typing] : []))
    await sleep(200) // the peer is subscribed

    const indicator = typing(hush, chatId, { idleMs: 600 })
    for (let i = 0; i < 20; i++) {
      indicator.keystroke()
      await sleep(20)
    }
    expect(typed()).toEqual([true]) // 20 keystrokes in 0.4 s: one setTyping within the 3 s window
    await until('the peer to see typing', () => peerTyping().includes(true))
    await until('idle to stop typing', () => typed().length === 2)
    expect(typed()).toEqual([true, false])
    await until('the peer to see it stop', () => peerTyping().at(-1) === false)

    indicator.keystroke()
    indicator.keystroke()
    await send(app.url, author, chatId, 'typed it')
    indicator.sent()
    await sleep(900) // past idleMs: no setTyping(false) after the send
    expect(typed()).toEqual([true, false, true])

    const windowed = typing(hush, chatId, { throttleMs: 200, idleMs: 10_000 })
    windowed.keystroke()
    windowed.keystroke()
    await sleep(250)
    windowed.keystroke()
    windowed.keystroke()
    windowed.stop()
    windowed.stop()
    expect(typed()).toEqual([true, false, true, true, true, false])
  })

  it('runs a subscription through the urql exchange', async () => {
    const chatId = await newChat(app.url, author, commenter)
    await send(app.url, commenter, chatId, 'for urql')
    const hush = hushClient(app.url, () => author.token)
    const urql = new UrqlClient({ url: hush.httpUrl, exchanges: [hushSubscriptionExchange(hush)] })
    const event = await new Promise<ChatEvent>((resolve, reject) => {
      const subscription = urql.subscription(ChatEventsDocument, { chatId, afterSeq: 0 }).subscribe((result) => {
        if (result.error) return reject(result.error)
        if (result.data?.chatEvents.__typename !== 'MessageEvent') return
        setTimeout(() => subscription.unsubscribe())
        resolve(result.data.chatEvents)
      })
    })
    expect(event).toMatchObject({ __typename: 'MessageEvent', message: { seq: 1, body: 'for urql', fromMe: false } })
  })

  it('runs a subscription through the Apollo link', async () => {
    const chatId = await newChat(app.url, author, commenter)
    await send(app.url, commenter, chatId, 'for apollo')
    const hush = hushClient(app.url, () => author.token)
    const apollo = new ApolloClient({ link: hushLink(hush), cache: new InMemoryCache() })
    const event = await new Promise<ChatEvent>((resolve, reject) => {
      const subscription = apollo.subscribe({ query: ChatEventsDocument, variables: { chatId, afterSeq: 0 }, fetchPolicy: 'no-cache' }).subscribe({
        next: (result) => {
          if (result.error) return reject(new Error(result.error.message, { cause: result.error }))
          if (result.data?.chatEvents.__typename !== 'MessageEvent') return
          setTimeout(() => subscription.unsubscribe())
          resolve(result.data.chatEvents)
        },
        error: (error: unknown) => reject(error instanceof Error ? error : new Error(String(error))),
      })
    })
    expect(event).toMatchObject({ __typename: 'MessageEvent', message: { seq: 1, body: 'for apollo', fromMe: false } })
    apollo.stop()
  })
})

describe('the client package against a server with TRUSTED_DOCUMENTS', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp({ TRUSTED_DOCUMENTS: path.resolve(import.meta.dirname, '../client/src/generated/persisted-documents.json') })
  })
  afterAll(() => app?.stop())

  it('sends every operation by documentId: HTTP, socket queries, typing and the chat stream', async () => {
    const anonymous = hushClient(app.url, () => null, { persistedDocuments: true })
    const [author, commenter] = [(await anonymous.execute(SignUpDocument)).signUp, (await anonymous.execute(SignUpDocument)).signUp]
    const asAuthor = hushClient(app.url, () => author.token, { persistedDocuments: true })
    const asCommenter = hushClient(app.url, () => commenter.token, { persistedDocuments: true })
    const post = (await asAuthor.execute(CreatePostDocument, { body: 'trusted' })).createPost
    const chatId = (await asCommenter.execute(StartChatDocument, { postId: post.id })).startChat.id
    const stream = drain(chatStream(asAuthor, chatId)) // its lastSeq query goes by id too
    await sleep(200)
    const onError = vi.fn()
    typing(asCommenter, chatId, { onError }).keystroke()
    await asCommenter.execute(SendMessageDocument, { chatId, clientMessageId: randomUUID(), body: 'by id' })
    await until('the message', () => stream.seqs().length === 1)
    expect(stream.messages()[0]).toMatchObject({ seq: 1, body: 'by id' })
    expect(onError).not.toHaveBeenCalled()
  })
})
