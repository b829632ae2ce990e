import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ChatEventsDocument,
  CreatePostDocument,
  PeerPresentDocument,
  SendMessageDocument,
  StartChatDocument,
  type ChatEventsSubscription,
} from './generated/graphql.js'
import { redisEnv, startPeerApp, startTestApp, testEnv, type TestApp } from './support/app.js'
import { collect, mustRequest, request, signUp, wsClient } from './support/client.js'
import { startRedisServer } from './support/redis-server.js'
import { freePort, spawnServer, within } from './support/process.js'

const seqsOf = (items: ChatEventsSubscription[]) =>
  items.flatMap(({ chatEvents: e }) => (e.__typename === 'MessageEvent' ? [e.message.seq] : []))
const presenceOf = (items: ChatEventsSubscription[]) =>
  items.flatMap(({ chatEvents: e }) => (e.__typename === 'PresenceEvent' ? [e.peerPresent] : []))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('faults', () => {
  it('survives a Redis restart mid-conversation: processes reconnect and resubscribe, a reconnecting client misses nothing', async () => {
    const port = await freePort()
    let redis = await startRedisServer(port)
    const env = { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PREFIX: `hush-fault:${randomUUID()}:` }
    const one = await startTestApp(env)
    const two = await startPeerApp(one)
    const clients: Array<ReturnType<typeof wsClient>> = []
    try {
      const author = await signUp(one.url)
      const commenter = await signUp(two.url)
      const post = (await mustRequest(one.url, CreatePostDocument, { body: 'fault' }, author.token)).createPost
      const chat = (await mustRequest(two.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
      const send = (body: string) => mustRequest(one.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body }, author.token)
      clients.push(wsClient(two.url, commenter.token))
      const live = collect(clients[0]!, ChatEventsDocument, { chatId: chat.id, afterSeq: 0 })
      await send('before')
      await live.until((items) => seqsOf(items).length === 1)

      redis.kill('SIGKILL')
      await new Promise((resolve) => redis.once('exit', resolve))
      // Sends still succeed: the message is durable in DynamoDB; only its event may be lost.
      await within(send('while Redis is down'), 15_000, 'send without Redis')
      redis = await startRedisServer(port)
      for (let i = 0; i < 100 && (await fetch(`${one.url}/readyz`)).status !== 200; i++) await sleep(100)
      for (let i = 0; i < 100 && (await fetch(`${two.url}/readyz`)).status !== 200; i++) await sleep(100)
      await sleep(500)

      // The old subscription was resubscribed: a new message arrives, after the one it missed.
      await send('after the restart')
      await live.until((items) => seqsOf(items).length === 3, 15_000)
      expect(seqsOf(live.items)).toEqual([1, 2, 3])
      // A client that reconnects with afterSeq gets everything it missed.
      clients.push(wsClient(one.url, commenter.token))
      const resumed = collect(clients[1]!, ChatEventsDocument, { chatId: chat.id, afterSeq: 1 })
      await resumed.until((items) => seqsOf(items).length === 2)
      expect(seqsOf(resumed.items)).toEqual([2, 3])
    } finally {
      await Promise.all(clients.map(async (client) => client.dispose()))
      await two.stop()
      await one.stop()
      redis.kill('SIGKILL')
    }
  })

  it('after a 20 s Redis outage, every open stream catches up from the store at once, and the limits held meanwhile', async () => {
    const port = await freePort()
    let redis = await startRedisServer(port)
    const env = { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PREFIX: `hush-outage:${randomUUID()}:`, RATE_LIMIT_SEND: '2/s burst 3' }
    const one = await startTestApp(env)
    const two = await startPeerApp(one, env)
    const clients: Array<ReturnType<typeof wsClient>> = []
    try {
      const author = await signUp(one.url)
      const commenter = await signUp(two.url)
      const post = (await mustRequest(one.url, CreatePostDocument, { body: 'outage' }, author.token)).createPost
      const chat = (await mustRequest(two.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
      const send = (body: string) =>
        request(one.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body }, author.token)
      clients.push(wsClient(two.url, commenter.token), wsClient(one.url, commenter.token))
      // Two streams of the peer, one on each process: neither hears anything while Redis is down.
      const streams = clients.map((client) => collect(client, ChatEventsDocument, { chatId: chat.id, afterSeq: 0 }))
      expect((await send('before')).errors).toBeUndefined()
      for (const stream of streams) await stream.until((items) => seqsOf(items).length === 1)

      redis.kill('SIGKILL')
      await new Promise((resolve) => redis.once('exit', resolve))
      const downAt = Date.now()
      // A device that leaves and one that comes during the outage are no fault of the server's.
      await clients[1]!.dispose()
      clients.push(wsClient(two.url, commenter.token))
      const arriving = collect(clients[2]!, ChatEventsDocument, { chatId: chat.id, afterSeq: 0 })
      // Sends are acknowledged (durable in DynamoDB) at the send limit, which each process now
      // applies alone: a burst of 3, then refusals with a retry hint.
      const acknowledged: number[] = []
      const refused: unknown[] = []
      while (Date.now() - downAt < 20_000) {
        for (const answer of await Promise.all(Array.from({ length: 5 }, (_, i) => send(`during ${acknowledged.length} ${i}`)))) {
          if (answer.errors) refused.push(answer.errors[0]?.extensions)
          else acknowledged.push(answer.data!.sendMessage.seq)
        }
        await sleep(1_500)
      }
      acknowledged.sort((x, y) => x - y)
      expect(acknowledged.length).toBeGreaterThan(10)
      expect(acknowledged.length).toBeLessThan(60)
      expect(refused.length).toBeGreaterThan(0)
      expect(refused[0]).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) as unknown })
      expect(seqsOf(streams[0]!.items)).toEqual([1])

      redis = await startRedisServer(port)
      const backAt = Date.now()
      const everything = [1, ...acknowledged]
      // No new message: the streams catch up by themselves once the bus is back.
      for (const stream of [streams[0]!, arriving]) {
        await stream.until((items) => seqsOf(items).length === everything.length, 10_000)
        expect(seqsOf(stream.items)).toEqual(everything)
      }
      const caughtUpMs = Date.now() - backAt
      console.info(`every stream caught up ${caughtUpMs} ms after Redis answered again`)
      expect(caughtUpMs).toBeLessThan(2_000)
    } finally {
      await Promise.all(clients.map(async (client) => client.dispose()))
      await two.stop()
      await one.stop()
      redis.kill('SIGKILL')
    }
  })

  describe('a server process that dies', () => {
    let app: TestApp
    beforeAll(async () => {
      app = await startTestApp({ ...redisEnv(), PRESENCE_TTL_MS: '2000' })
    })
    afterAll(() => app.stop())

    it('stops counting its subscribers as present within the presence TTL', async () => {
      const author = await signUp(app.url)
      const commenter = await signUp(app.url)
      const post = (await mustRequest(app.url, CreatePostDocument, { body: 'doomed' }, author.token)).createPost
      const chat = (await mustRequest(app.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
      const doomed = spawnServer(
        testEnv({
          LOG_LEVEL: 'info',
          DYNAMODB_REGION: app.config.dynamodb.region,
          DYNAMODB_TABLE: app.config.dynamodb.table,
          REDIS_URL: app.config.redisUrl,
          REDIS_PREFIX: app.config.redisPrefix,
          PRESENCE_TTL_MS: '2000',
        }),
      )
      const watcherClient = wsClient(app.url, commenter.token)
      const doomedClient = wsClient(await within(doomed.url, 30_000, 'second process'), author.token)
      try {
        const watcher = collect(watcherClient, ChatEventsDocument, { chatId: chat.id })
        await sleep(300)
        collect(doomedClient, ChatEventsDocument, { chatId: chat.id })
        await watcher.until((items) => presenceOf(items).length === 1)
        const peerPresent = async () => (await mustRequest(app.url, PeerPresentDocument, { id: chat.id }, commenter.token)).chat?.peerPresent
        expect(await peerPresent()).toBe(true)
        doomed.child.kill('SIGKILL')
        const killedAt = Date.now()
        await watcher.until((items) => presenceOf(items).length === 2, 10_000)
        expect(presenceOf(watcher.items)).toEqual([true, false])
        expect(Date.now() - killedAt).toBeLessThan(5_000)
        expect(await peerPresent()).toBe(false)
      } finally {
        doomed.child.kill('SIGKILL')
        await watcherClient.dispose()
        await Promise.resolve(doomedClient.dispose()).catch(() => undefined)
      }
    })
  })
})
