import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { Writable } from 'node:stream'
import { print, type FormattedExecutionResult } from 'graphql'
import { pino } from 'pino'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import {
  AddCommentDocument,
  ChatEventsDocument,
  CreatePostDocument,
  FeedDocument,
  MarkReadDocument,
  SendMessageDocument,
  SetTypingDocument,
  SignUpDocument,
  StartChatDocument,
  type ChatEventsSubscription,
  type SignUpMutation,
} from './generated/graphql.js'
import { createApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { topics } from '../src/domain/events.js'
import { redisEnv, startPeerApp, startTestApp, testEnv, type TestApp } from './support/app.js'
import { collect, errorCode, mustRequest, request, signUp, uploadPhoto, wsClient, type GraphQLResponse, type TestUser } from './support/client.js'
import { RawSocket } from './support/conformance/raw-socket.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The retry hint of a RATE_LIMITED answer (and that it is one). */
function retryAfterMs(response: GraphQLResponse<unknown>): number {
  expect(errorCode(response)).toBe('RATE_LIMITED')
  const hint = response.errors?.[0]?.extensions?.retryAfterMs
  expect(hint).toEqual(expect.any(Number))
  return hint as number
}

/** A signUp from `address` as a proxy in front of Hush would forward it. */
function signUpVia(app: TestApp, forwardedFor?: string): Promise<GraphQLResponse<unknown>> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query: print(SignUpDocument) })
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    if (forwardedFor) headers['x-forwarded-for'] = forwardedFor
    const req = http.request(`${app.url}/graphql`, { method: 'POST', headers }, (res) => {
      let raw = ''
      res.on('data', (chunk: Buffer) => (raw += chunk.toString()))
      res.on('end', () => {
        const parsed = JSON.parse(raw) as { data?: unknown; errors?: GraphQLResponse<unknown>['errors'] }
        resolve({ status: res.statusCode ?? 0, data: parsed.data, errors: parsed.errors, raw })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function chatBetween(app: TestApp, author: TestUser, commenter: TestUser): Promise<string> {
  const post = (await mustRequest(app.url, CreatePostDocument, { body: 'limits' }, author.token)).createPost
  return (await mustRequest(app.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat.id
}

describe('rate limits', () => {
  it('limits sends per user across processes with a token bucket in Redis, and startChat per minute', async () => {
    const limits = { RATE_LIMIT_SEND: '2/s burst 4', RATE_LIMIT_START_CHAT: '3/min burst 3' }
    const one = await startTestApp({ ...redisEnv(), ...limits })
    const two = await startPeerApp(one, limits)
    try {
      const author = await signUp(one.url)
      const commenter = await signUp(one.url)
      const posts: string[] = []
      for (let i = 0; i < 4; i++) posts.push((await mustRequest(one.url, CreatePostDocument, { body: `p${i}` }, author.token)).createPost.id)
      const chats: string[] = []
      for (const post of posts.slice(0, 3)) chats.push((await mustRequest(one.url, StartChatDocument, { postId: post }, commenter.token)).startChat.id)
      // About a minute's wait for the next start: 3 per minute.
      expect(retryAfterMs(await request(two.url, StartChatDocument, { postId: posts[3]! }, commenter.token))).toBeGreaterThan(10_000)

      const send = (url: string) => request(url, SendMessageDocument, { chatId: chats[0]!, clientMessageId: randomUUID(), body: 'x' }, commenter.token)
      const burst = await Promise.all([send(one.url), send(two.url), send(one.url), send(two.url), send(one.url), send(two.url)])
      expect(burst.filter((r) => r.errors === undefined)).toHaveLength(4)
      const refused = burst.filter((r) => r.errors !== undefined)
      expect(refused).toHaveLength(2)
      // At 2 a second the next token is at most half a second away.
      for (const response of refused) expect(retryAfterMs(response)).toBeLessThanOrEqual(500)
      // Another user has a bucket of their own.
      const other = await request(one.url, SendMessageDocument, { chatId: chats[0]!, clientMessageId: randomUUID(), body: 'y' }, author.token)
      expect(other.errors).toBeUndefined()
      await sleep(600)
      expect((await send(two.url)).errors).toBeUndefined()
    } finally {
      await two.stop()
      await one.stop()
    }
  })

  it('limits signUp per client address, believing X-Forwarded-For only from a trusted proxy', async () => {
    const direct = await startTestApp({ RATE_LIMIT_SIGNUP: '2/h burst 2' })
    const proxied = await startTestApp({ RATE_LIMIT_SIGNUP: '2/h burst 2', TRUSTED_PROXIES: 'loopback' })
    try {
      // Ten signUps in one request (aliases) get no tokens past what the bucket holds: the third
      // is refused, and signUp being non-null, so is the whole answer.
      const aliased = `mutation { ${Array.from({ length: 10 }, (_, i) => `s${i}: signUp { token }`).join(' ')} }`
      const many = await fetch(`${direct.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: aliased }) })
      const answer = (await many.json()) as { data: Record<string, unknown> | null; errors: Array<{ extensions: { code: string } }> }
      expect(answer.data).toBeNull()
      expect(answer.errors[0]?.extensions.code).toBe('RATE_LIMITED')
      // Straight from a client, X-Forwarded-For is the client's own word: ignored.
      expect(retryAfterMs(await signUpVia(direct, '203.0.113.3'))).toBeGreaterThan(60_000)

      // Behind a trusted proxy (loopback here), each forwarded client has a bucket of its own.
      for (const client of ['198.51.100.7', '198.51.100.7']) expect((await signUpVia(proxied, client)).errors).toBeUndefined()
      retryAfterMs(await signUpVia(proxied, '198.51.100.7'))
      expect((await signUpVia(proxied, '198.51.100.8')).errors).toBeUndefined()
      // The client address is the nearest one the trusted proxies did not add.
      expect((await signUpVia(proxied, '198.51.100.9, 127.0.0.1')).errors).toBeUndefined()
      retryAfterMs(await signUpVia(proxied, '10.9.9.9, 198.51.100.7'))
    } finally {
      await proxied.stop()
      await direct.stop()
    }
  })

  it('limits markRead, createPost, addComment and uploads (by count and by bytes), each with a retry hint', async () => {
    const app = await startTestApp({
      RATE_LIMIT_MARK_READ: '1/min burst 2',
      RATE_LIMIT_CREATE_POST: '1/h burst 2',
      RATE_LIMIT_ADD_COMMENT: '1/h burst 2',
      RATE_LIMIT_UPLOAD: '1/min burst 3',
      RATE_LIMIT_UPLOAD_BYTES: '1KB/h burst 40KB',
    })
    try {
      const author = await signUp(app.url)
      const commenter = await signUp(app.url)
      const chatId = await chatBetween(app, author, commenter)
      const post = (await mustRequest(app.url, CreatePostDocument, { body: 'second' }, author.token)).createPost.id
      expect(retryAfterMs(await request(app.url, CreatePostDocument, { body: 'third' }, author.token))).toBeGreaterThan(60_000)
      for (let i = 0; i < 2; i++) await mustRequest(app.url, AddCommentDocument, { postId: post, body: `c${i}` }, commenter.token)
      retryAfterMs(await request(app.url, AddCommentDocument, { postId: post, body: 'c3' }, commenter.token))
      await mustRequest(app.url, SendMessageDocument, { chatId, clientMessageId: randomUUID(), body: 'read me' }, commenter.token)
      for (let i = 0; i < 2; i++) await mustRequest(app.url, MarkReadDocument, { chatId, seq: 1 }, author.token)
      retryAfterMs(await request(app.url, MarkReadDocument, { chatId, seq: 1 }, author.token))

      // Noise compresses badly: a 100×100 PNG of it is about 30 KB.
      const noise = Buffer.from(Array.from({ length: 100 * 100 * 3 }, () => Math.floor(Math.random() * 256)))
      const bytes = new Uint8Array(await sharp(noise, { raw: { width: 100, height: 100, channels: 3 } }).png().toBuffer())
      expect(bytes.byteLength).toBeGreaterThan(20_000)
      const upload = () => uploadPhoto(app.url, author.token, { chatId }, { bytes, name: 'noise.png', type: 'image/png' })
      expect((await upload()).errors).toBeUndefined()
      // The second would pass the 40 KB of bytes, though the count allows it.
      retryAfterMs(await upload())
      // And the count: three small photos pass, the fourth is refused though its bytes would fit.
      const tiny = new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).png().toBuffer())
      const small = () => uploadPhoto(app.url, commenter.token, { chatId }, { bytes: tiny, name: 'red.png', type: 'image/png' })
      for (let i = 0; i < 3; i++) expect((await small()).errors).toBeUndefined()
      expect(retryAfterMs(await small())).toBeGreaterThan(10_000)
    } finally {
      await app.stop()
    }
  })

  it('coalesces a typist toggling as fast as it can into at most one change per 500 ms at the peer, ending in its last state', async () => {
    const app = await startTestApp()
    const clients: Array<ReturnType<typeof wsClient>> = []
    try {
      const author = await signUp(app.url)
      const commenter = await signUp(app.url)
      const chatId = await chatBetween(app, author, commenter)
      clients.push(wsClient(app.url, author.token), wsClient(app.url, commenter.token))
      const watcher = collect(clients[0]!, ChatEventsDocument, { chatId })
      await sleep(300)
      const typingOf = (items: ChatEventsSubscription[]) =>
        items.flatMap(({ chatEvents: e }) => (e.__typename === 'TypingEvent' ? [e.typing] : []))
      const started = Date.now()
      // 400 toggles in about two seconds over the typist's socket, ending with typing=true.
      let toggles = 0
      while (Date.now() - started < 2_000) {
        const batch = Array.from({ length: 20 }, (_, i) => {
          toggles++
          return new Promise((resolve, reject) =>
            clients[1]!.subscribe({ query: print(SetTypingDocument), variables: { chatId, typing: (toggles + i) % 2 === 0 } }, { next: () => {}, error: reject, complete: () => resolve(undefined) }),
          )
        })
        await Promise.all(batch)
      }
      await mustRequest(app.url, SetTypingDocument, { chatId, typing: true }, commenter.token)
      const elapsed = Date.now() - started
      await sleep(1_200)
      const seen = typingOf(watcher.items)
      expect(toggles).toBeGreaterThan(100)
      expect(seen.length).toBeLessThanOrEqual(Math.ceil(elapsed / 500) + 3)
      expect(seen.at(-1)).toBe(true)
    } finally {
      await Promise.all(clients.map(async (client) => client.dispose()))
      await app.stop()
    }
  })
})

describe('socket budgets', () => {
  it('holds an operation’s place until its work ends, whatever the client completes', async () => {
    const app = await startTestApp({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '5' })
    try {
      const user = await signUp(app.url)
      const socket = await RawSocket.open(`${app.url.replace('http', 'ws')}/graphql`)
      await socket.init({ authorization: `Bearer ${user.token}` })
      const query = 'mutation ($body: String!) { createPost(body: $body) { id } }'
      // 60 creates, each completed at once, read by the server in one go.
      const frames = Array.from({ length: 60 }, (_, i) => [
        { id: `p${i}`, type: 'subscribe', payload: { query, variables: { body: `burst ${i}` } } },
        { id: `p${i}`, type: 'complete' },
      ]).flat()
      socket.sendTogether(...frames)
      await sleep(2_000)
      const { feed } = await mustRequest(app.url, FeedDocument, { first: 100 }, user.token)
      expect(feed.edges.filter((edge) => edge.node.body.startsWith('burst '))).toHaveLength(5)
      socket.close()
    } finally {
      await app.stop()
    }
  })

  it('refuses subscribe and complete churn past the socket’s rate, and the peer sees presence change at most once a second', async () => {
    const app = await startTestApp({ RATE_LIMIT_SOCKET_OPERATIONS: '10/s burst 40' })
    const clients: Array<ReturnType<typeof wsClient>> = []
    try {
      const author = await signUp(app.url)
      const commenter = await signUp(app.url)
      const chatId = await chatBetween(app, author, commenter)
      clients.push(wsClient(app.url, author.token))
      const watcher = collect(clients[0]!, ChatEventsDocument, { chatId })
      await sleep(300)
      const socket = await RawSocket.open(`${app.url.replace('http', 'ws')}/graphql`)
      await socket.init({ authorization: `Bearer ${commenter.token}` })
      const started = Date.now()
      let refused = 0
      for (let cycle = 0; cycle < 100; cycle++) {
        socket.send({ id: `c${cycle}`, type: 'subscribe', payload: { query: print(ChatEventsDocument), variables: { chatId } } })
        await sleep(5)
        socket.send({ id: `c${cycle}`, type: 'complete' })
      }
      await sleep(1_500)
      const elapsed = Date.now() - started
      for (const frame of socket.frames) {
        if (frame.type === 'error' && JSON.stringify(frame.payload).includes('RATE_LIMITED')) refused++
      }
      expect(refused).toBeGreaterThan(10)
      const presence = watcher.items.filter(({ chatEvents: e }) => e.__typename === 'PresenceEvent')
      expect(presence.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1_000) + 1)
      socket.close()
    } finally {
      await Promise.all(clients.map(async (client) => client.dispose()))
      await app.stop()
    }
  })
})

describe('a socket’s byte budget', () => {
  it('cuts off each stalled socket once, at warn and without a stack, however many subscriptions it holds', async () => {
    const lines: Array<{ level: number; msg: string; err?: unknown; queuedBytes?: number; unsentBytes?: number }> = []
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as (typeof lines)[number])
        done()
      },
    })
    const config = loadConfig(testEnv({ MAX_QUEUED_BYTES: '65536' }))
    const app = createApp(config, pino({ level: 'warn' }, sink))
    const { url, events } = await app.start()
    const sockets: RawSocket[] = []
    try {
      const author = await signUp(url)
      const commenter = await signUp(url)
      const post = (await mustRequest(url, CreatePostDocument, { body: 'stall' }, author.token)).createPost.id
      const chatId = (await mustRequest(url, StartChatDocument, { postId: post }, commenter.token)).startChat.id
      // Three sockets of the author, 60 subscriptions each, then none of them reads.
      for (let i = 0; i < 3; i++) {
        const socket = await RawSocket.open(`${url.replace('http', 'ws')}/graphql`)
        await socket.init({ authorization: `Bearer ${author.token}` })
        for (let n = 0; n < 60; n++) socket.send({ id: `s${n}`, type: 'subscribe', payload: { query: print(ChatEventsDocument), variables: { chatId } } })
        sockets.push(socket)
      }
      await sleep(1_000)
      for (const socket of sockets) socket.pauseReading()
      // The peer's receipts move forward, so each reaches every subscription.
      for (let seq = 1; seq <= 3_000 && events.activeTopics() > 0; seq++) {
        void events.publish(topics.chat(chatId), { kind: 'receipt', chatId, userId: commenter.id, readSeq: 0, deliveredSeq: seq, stored: false })
        if (seq % 50 === 0) await sleep(5)
      }
      await sleep(500)
      // Every subscription ended when its socket was cut off, not when the client read the close.
      expect(events.activeTopics()).toBe(0)
      const cutOffs = lines.filter((line) => line.msg === 'slow WebSocket client cut off (1013)')
      expect(cutOffs).toHaveLength(3)
      for (const line of cutOffs) {
        expect(line.level).toBe(40)
        expect(line.err).toBeUndefined()
        // What one socket held stayed near its budget: at most one frame past it.
        expect(line.queuedBytes! + line.unsentBytes!).toBeLessThan(65_536 + 4_096)
      }
      expect(lines.filter((line) => line.level >= 50)).toEqual([])
      for (const socket of sockets) socket.resumeReading()
      for (const socket of sockets) expect((await socket.waitClose(15_000)).code).toBe(1013)
    } finally {
      for (const socket of sockets) socket.close()
      await app.stop()
    }
  })
})

describe('request bodies', () => {
  it('refuses a JSON body of unknown length (chunked) with 411 before reading it, and answers a declared one', async () => {
    const app = await startTestApp()
    try {
      const post = (body: string, headers: Record<string, string>) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = http.request(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
            let text = ''
            res.on('data', (chunk: Buffer) => (text += chunk.toString()))
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
          })
          req.on('error', reject)
          req.end(body)
        })
      const query = JSON.stringify({ query: 'mutation { signUp { token } }' })
      const chunked = await post(query, { 'transfer-encoding': 'chunked' })
      expect(chunked.status).toBe(411)
      expect((JSON.parse(chunked.text) as FormattedExecutionResult).errors?.[0]?.extensions?.code).toBe('BAD_REQUEST')
      const declared = await post(query, { 'content-length': String(Buffer.byteLength(query)) })
      expect(declared.status).toBe(200)
      expect((JSON.parse(declared.text) as FormattedExecutionResult<SignUpMutation>).data?.signUp.token).toEqual(expect.any(String))
    } finally {
      await app.stop()
    }
  })
})
