import { spawn, type ChildProcess } from 'node:child_process'
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
import { collect, mustRequest, signUp, wsClient } from './support/client.js'
import { freePort, spawnServer, within } from './support/process.js'

const seqsOf = (items: ChatEventsSubscription[]) =>
  items.flatMap(({ chatEvents: e }) => (e.__typename === 'MessageEvent' ? [e.message.seq] : []))
const presenceOf = (items: ChatEventsSubscription[]) =>
  items.flatMap(({ chatEvents: e }) => (e.__typename === 'PresenceEvent' ? [e.peerPresent] : []))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A Redis of this test's own, so that restarting it disturbs no other suite. */
function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve(child)
    })
  })
}

describe('faults', () => {
  it('survives a Redis restart mid-conversation: processes reconnect and resubscribe, a reconnecting client misses nothing', async () => {
    const port = await freePort()
    let redis = await startRedis(port)
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
      redis = await startRedis(port)
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
      await Promise.all(clients.map((client) => client.dispose()))
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
