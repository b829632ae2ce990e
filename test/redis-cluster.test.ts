import { randomUUID } from 'node:crypto'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ChatEventsDocument,
  CreatePostDocument,
  PeerPresentDocument,
  RegisterDeviceDocument,
  SendMessageDocument,
  SetTypingDocument,
  StartChatDocument,
  type ChatEventsSubscription,
} from './generated/graphql.js'
import { startPeerApp, startTestApp, type TestApp } from './support/app.js'
import { collect, errorCode, mustRequest, request, signUp, wsClient, type TestUser } from './support/client.js'
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js'
import { startWebPushService, testTls, type WebPushService } from './support/push-services.js'
import { generateVapidKeys } from '../src/infra/push/web-push.js'
import { mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const seqsOf = (items: ChatEventsSubscription[]) => items.flatMap(({ chatEvents: e }) => (e.__typename === 'MessageEvent' ? [e.message.seq] : []))
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Calls of a command on one node, from its INFO commandstats. */
async function callsOf(cluster: RedisCluster, port: number, command: string): Promise<number> {
  const stats = await cluster.on(port).info('commandstats')
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
}

/** The master that serves `key`'s slot now. */
async function masterOf(cluster: RedisCluster, key: string): Promise<number> {
  const [someMaster] = await cluster.masters()
  const slot = Number(await cluster.on(someMaster!).cluster('KEYSLOT', key))
  const slots = await cluster.on(someMaster!).cluster('SLOTS')
  const owner = slots.find(([from, to]) => slot >= from && slot <= to)
  return owner![2]![1]
}

describe('Hush on a Redis Cluster (3 masters, 3 replicas)', () => {
  let cluster: RedisCluster
  let one: TestApp
  let two: TestApp
  let author: TestUser
  let commenter: TestUser
  let webPush: WebPushService
  const clients: Array<ReturnType<typeof wsClient>> = []

  beforeAll(async () => {
    cluster = await startRedisCluster()
    webPush = await startWebPushService()
    const caFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'hush-cluster-')), 'ca.pem')
    await writeFile(caFile, (await testTls()).ca)
    const vapid = generateVapidKeys()
    // Web Push too: its queue and the online presence live on the cluster as well.
    const push = { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, PUSH_ALLOWED_HOSTS: new URL(webPush.url).host, PUSH_CA_FILE: caFile }
    const env = { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: `hush-cluster:${randomUUID().slice(0, 8)}:`, PRESENCE_TTL_MS: '3000', ...push }
    one = await startTestApp(env)
    two = await startPeerApp(one, { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: undefined, PRESENCE_TTL_MS: '3000', ...push })
    author = await signUp(one.url)
    commenter = await signUp(two.url)
  })
  afterAll(async () => {
    await Promise.all(clients.map(async (client) => client.dispose()))
    await two?.stop()
    await one?.stop()
    await cluster?.close()
    await webPush?.close()
  })

  const newChat = async () => {
    const post = (await mustRequest(one.url, CreatePostDocument, { body: 'cluster' }, author.token)).createPost
    return (await mustRequest(two.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
  }
  const send = (app: TestApp, user: TestUser, chatId: string, body: string) =>
    mustRequest(app.url, SendMessageDocument, { chatId, clientMessageId: randomUUID(), body }, user.token)

  it('publishes each event with one SPUBLISH on the one shard of its chat’s channel, never a broadcast PUBLISH', async () => {
    const chat = await newChat()
    const channel = `${one.config.redisPrefix}chat:${chat.id}`
    const owner = await masterOf(cluster, channel)
    const ports = cluster.nodes.map((node) => node.port)
    const before = await Promise.all(ports.map(async (port) => [await callsOf(cluster, port, 'spublish'), await callsOf(cluster, port, 'publish')]))
    // No one listens to the chat: each send is one event, and nothing else is published.
    for (let i = 0; i < 10; i++) await send(i % 2 ? one : two, i % 2 ? author : commenter, chat.id, `m${i}`)
    await sleep(300)
    const after = await Promise.all(ports.map(async (port) => [await callsOf(cluster, port, 'spublish'), await callsOf(cluster, port, 'publish')]))
    const spublished = ports.map((_, i) => after[i]![0]! - before[i]![0]!)
    const published = ports.map((_, i) => after[i]![1]! - before[i]![1]!)
    expect(published.every((calls) => calls === 0)).toBe(true)
    expect(spublished.reduce((sum, calls) => sum + calls, 0)).toBe(10)
    expect(spublished[ports.indexOf(owner)]).toBe(10)
  })

  it('carries a conversation between two processes: messages, receipts, typing, presence, and rate limits on slot-safe keys', async () => {
    const chat = await newChat()
    clients.push(wsClient(one.url, author.token), wsClient(two.url, commenter.token))
    const authorStream = collect(clients.at(-2)!, ChatEventsDocument, { chatId: chat.id, afterSeq: 0 })
    const commenterStream = collect(clients.at(-1)!, ChatEventsDocument, { chatId: chat.id, afterSeq: 0 })
    await authorStream.until((items) => items.some((item) => item.chatEvents.__typename === 'PresenceEvent'))
    await mustRequest(two.url, SetTypingDocument, { chatId: chat.id, typing: true }, commenter.token)
    await authorStream.until((items) => items.some((item) => item.chatEvents.__typename === 'TypingEvent'))
    for (let i = 1; i <= 6; i++) await send(i % 2 ? one : two, i % 2 ? author : commenter, chat.id, `m${i}`)
    await authorStream.until((items) => seqsOf(items).length === 6)
    await commenterStream.until((items) => seqsOf(items).length === 6)
    // Seq 6 is the commenter's: only the author's delivery receipt, from the other process, says
    // it arrived (the author's own messages only imply its marks up to 5).
    await commenterStream.until((items) => items.some(({ chatEvents: e }) => e.__typename === 'ReceiptEvent' && e.peerDeliveredSeq === 6))
    expect((await mustRequest(one.url, PeerPresentDocument, { id: chat.id }, author.token)).chat?.peerPresent).toBe(true)
    // The limits and presence live in the cluster (a cross-slot script would have failed, and the
    // limiter fallen back to the process): their keys are there, each on its own slot.
    const keys = new Cluster(cluster.seeds.split(',').map((seed) => ({ host: '127.0.0.1', port: Number(seed.split(':')[1]) })))
    try {
      const prefix = one.config.redisPrefix
      expect(await keys.exists(`${prefix}rate:{send:${commenter.id}}`)).toBe(1)
      expect(await keys.hlen(`${prefix}presence:{${chat.id} ${commenter.id}}`)).toBe(1)
    } finally {
      keys.disconnect()
    }
  })

  it('loses, repeats and reorders nothing acknowledged when the master of a chat’s channel dies mid-conversation, and rebuilds presence', async () => {
    const chat = await newChat()
    const channel = `${one.config.redisPrefix}chat:${chat.id}`
    clients.push(wsClient(two.url, commenter.token))
    const stream = collect(clients.at(-1)!, ChatEventsDocument, { chatId: chat.id, afterSeq: 0 })
    await sleep(500)
    const acknowledged: number[] = []
    let sending = true
    const sender = (async () => {
      for (let i = 0; sending; i++) {
        const answer = await request(one.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: `m${i}` }, author.token)
        if (!answer.errors) acknowledged.push(answer.data!.sendMessage.seq)
        else expect(errorCode(answer)).toBe('RATE_LIMITED')
        await sleep(100)
      }
    })()
    await sleep(1_000)
    const victim = await masterOf(cluster, channel)
    await cluster.kill(victim)
    expect(await masterOf(cluster, channel)).not.toBe(victim)
    await sleep(2_000)
    sending = false
    await sender
    expect(acknowledged.length).toBeGreaterThan(20)
    await stream.until((items) => seqsOf(items).length === acknowledged.length, 15_000)
    expect(seqsOf(stream.items)).toEqual(range(1, acknowledged.length))
    // The commenter's subscription counts as present again on the new master.
    expect((await mustRequest(one.url, PeerPresentDocument, { id: chat.id }, author.token)).chat?.peerPresent).toBe(true)
  })

  it('queues pushes on the cluster: an offline user gets exactly one push per event from two processes', async () => {
    // A user of their own: the other tests' subscriptions keep `author` online.
    const offline = await signUp(one.url)
    const subscription = webPush.subscribe()
    await mustRequest(one.url, RegisterDeviceDocument, { input: { platform: 'WEB_PUSH', webPush: { endpoint: subscription.endpoint, ...subscription.keys } } }, offline.token)
    const post = (await mustRequest(one.url, CreatePostDocument, { body: 'push' }, offline.token)).createPost
    const chat = (await mustRequest(two.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
    const onEndpoint = () => webPush.received.filter((push) => push.endpoint === subscription.endpoint)
    const deadline = Date.now() + 15_000
    while (onEndpoint().length < 1 && Date.now() < deadline) await sleep(50)
    await sleep(5_500) // past the collapse window (5 s): the message is a push of its own
    await mustRequest(two.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: 'pushed' }, commenter.token)
    while (onEndpoint().length < 2 && Date.now() < deadline + 10_000) await sleep(50)
    await sleep(1_000)
    expect(onEndpoint().map((push) => (push.payload as { kind: string; unread: number }).kind)).toEqual(['chatStarted', 'message'])
  })
})
