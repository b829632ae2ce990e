import { randomUUID } from 'node:crypto'
import { DeleteItemCommand } from 'dynamodb-toolbox/entity/actions/delete'
import { pino } from 'pino'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDynamoClients, type DynamoClients } from '../src/infra/dynamodb/client.js'
import { createEntities, type HushEntities } from '../src/infra/dynamodb/entities.js'
import { ChatReclaimer } from '../src/infra/dynamodb/chat-reclaimer.js'
import { DynamoChatStore } from '../src/infra/dynamodb/chat-store.js'
import { BACKSTOP_LEASE, ExpiryBackstop } from '../src/infra/dynamodb/expiry-backstop.js'
import { bucketStartOf, expiryIndexLayout } from '../src/infra/dynamodb/expiry-index.js'
import { LeaseStore } from '../src/infra/dynamodb/lease-store.js'
import { createHushTable } from '../src/infra/dynamodb/table.js'
import { ChatHistoryDocument, CreatePostDocument, SendMessageDocument, StartChatDocument } from './generated/graphql.js'
import { startPeerApp, startTestApp, type TestApp } from './support/app.js'
import { mustRequest, signUp, uploadPhoto, type TestUser } from './support/client.js'
import { itemsMentioning } from './support/dynamo.js'
import { sleep, storeChatExpiringIn, until } from './support/expiry.js'
import { storeMessage } from './support/store-message.js'

const TTL_SECONDS = 4
const kinds = (items: Array<Record<string, unknown>>) => items.map((found) => String(found._et)).sort()

describe(`expiry backstop (CHAT_TTL_SECONDS=${TTL_SECONDS}, no stream reader)`, () => {
  let first: TestApp
  let app: TestApp
  let clients: DynamoClients
  let leases: LeaseStore
  let entities: HushEntities
  let heartbeat: NodeJS.Timeout | undefined

  beforeAll(async () => {
    // The first server files the backstop's lease and runs it once, so a cursor is stored; its
    // clean stop hands the lease back.
    first = await startTestApp({ CHAT_TTL_SECONDS: String(TTL_SECONDS), EXPIRY_CASCADE: 'false' })
    clients = createDynamoClients(first.dynamodbEndpoint, first.config.dynamodb.region)
    entities = createEntities(createHushTable(clients.documentClient, first.config.dynamodb.table))
    leases = new LeaseStore(entities)
    await until(async () => (await leases.get(BACKSTOP_LEASE))?.checkpoint !== undefined, 30_000, 'the first backstop run stores its cursor')
    await first.stop()
    // The test holds the lease now, so the next server's backstop waits: nothing reclaims
    // expired chats until the test lets go (the stream cascade is off everywhere).
    const free = await leases.get(BACKSTOP_LEASE)
    expect(free?.owner).toBeUndefined()
    expect(await leases.take(free!, 'test')).toBeDefined()
    heartbeat = setInterval(() => void leases.renew(BACKSTOP_LEASE, 'test'), 2_000)
    app = await startPeerApp(first, { EXPIRY_CASCADE: 'false' })
  })
  afterAll(async () => {
    clearInterval(heartbeat)
    await app?.stop()
    clients?.client.destroy()
    clients?.streamsClient.destroy()
  })

  const startChatWithMessages = async (author: TestUser, commenter: TestUser, messages: number) => {
    const postId = (await mustRequest(app.url, CreatePostDocument, { body: 'gone tomorrow' }, author.token)).createPost.id
    const chat = (await mustRequest(app.url, StartChatDocument, { postId }, commenter.token)).startChat
    for (let i = 1; i <= messages; i++) {
      await mustRequest(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: `m${i}` }, i % 2 ? commenter.token : author.token)
    }
    return chat.id
  }
  const send = (user: TestUser, chatId: string, body: string) =>
    mustRequest(app.url, SendMessageDocument, { chatId, clientMessageId: randomUUID(), body }, user.token)

  it('reclaims every item of chats that expired while no stream reader ran, and re-files a live chat instead of deleting it', { timeout: 240_000 }, async () => {
    const [author, commenter, other] = [await signUp(app.url), await signUp(app.url), await signUp(app.url)]
    const expired = await startChatWithMessages(author, commenter, 3)
    const png = new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer())
    expect((await uploadPhoto(app.url, commenter.token, { chatId: expired }, { bytes: png, name: 'p.png', type: 'image/png' })).errors).toBeUndefined()
    const alsoExpired = await startChatWithMessages(other, commenter, 1)
    const live = await startChatWithMessages(author, other, 1)
    const liveFiledAt = (await itemsMentioning(app, live)).find((found) => found._et === 'ExpiryIndex')?.bucketStart as number

    // Keep one chat alive by a message a second while the others expire (and their TTL passes).
    let sent = 1
    const keepAlive = () => send(author, live, `keep ${++sent}`)
    for (const stop = Date.now() + (TTL_SECONDS + 4) * 1000; Date.now() < stop; await sleep(1_000)) await keepAlive()
    // TTL deletes one chat item (as DynamoDB's would, done here so the test does not wait on
    // DynamoDB Local's TTL sweep, which may or may not have deleted the other's by now). With no
    // stream reader, the rest of both chats stays.
    await entities.Chat.build(DeleteItemCommand).key({ chatId: expired }).send()
    await keepAlive()
    const stranded = kinds(await itemsMentioning(app, expired))
    for (const kind of ['Message', 'Photo', 'Membership', 'LiveChats', 'Pair', 'ExpiryIndex']) expect(stranded).toContain(kind)
    expect(stranded).not.toContain('Chat')

    // Let go of the lease: the server's backstop takes it at its next round and sweeps every
    // bucket since the stored cursor.
    clearInterval(heartbeat)
    expect(await leases.release(BACKSTOP_LEASE, 'test')).toBeDefined()
    const released = Date.now()
    const sweptMs = await until(async () => {
      await keepAlive()
      return (await itemsMentioning(app, expired)).length === 0 && (await itemsMentioning(app, alsoExpired)).length === 0
    }, 60_000, 'the backstop reclaims both expired chats')
    console.info(`backstop: both expired chats reclaimed ${sweptMs} ms after the lease was released`)
    expect((await leases.get(BACKSTOP_LEASE))?.owner).not.toBe('test')
    expect(Date.now() - released).toBeLessThan(60_000)

    // The live chat lost nothing and is filed once, under a later bucket than at its start.
    await keepAlive()
    const history = (await mustRequest(app.url, ChatHistoryDocument, { id: live, last: 100 }, other.token)).chat
    expect(history?.messages.map((message) => message.seq)).toEqual(Array.from({ length: sent }, (_, i) => i + 1))
    const filed = (await itemsMentioning(app, live)).filter((found) => found._et === 'ExpiryIndex')
    expect(filed).toHaveLength(1)
    expect(filed[0]!.bucketStart as number).toBeGreaterThan(liveFiledAt)
  })

  it('deletes an expired chat item that TTL has not deleted yet, with the rest of the chat, and re-files a chat a message kept alive', async () => {
    const layout = expiryIndexLayout(TTL_SECONDS)
    const store = new DynamoChatStore(entities, layout)
    // Real expiries a minute away, which DynamoDB Local's TTL leaves alone during the test; the
    // backstop runs as if 90 s had passed. One chat is extended by a message to an hour: its index
    // item stays where startChat filed it, so only the backstop can move it.
    const expiring = await storeChatExpiringIn(store, 60_000)
    const extended = await storeChatExpiringIn(store, 60_000)
    const now = Date.now()
    const message = { chatId: extended.chatId, seq: 3, senderId: extended.b.userId, clientMessageId: randomUUID(), body: 'still here', photoId: undefined, createdAt: now }
    await storeMessage(store, extended, message, now + 3_600_000, now)
    const extendedItems = kinds(await itemsMentioning(app, extended.chatId))

    const backstop = new ExpiryBackstop({ entities, reclaimer: new ChatReclaimer(entities, pino({ level: 'silent' })), layout, logger: pino({ level: 'silent' }), lookbackMs: 0 })
    const saved: number[] = []
    const cursor = bucketStartOf(layout, expiring.expiresAt) - layout.bucketMs
    const started = Date.now()
    const result = await backstop.run(cursor, async (at) => void saved.push(at), now + 90_000)
    console.info(`backstop run: ${result.buckets} buckets of ${layout.shards} partitions, 2 chats, ${Date.now() - started} ms`)

    expect(result).toMatchObject({ reclaimed: 1, refiled: 1 })
    expect(saved.at(-1)).toBe(result.cursor)
    expect(await itemsMentioning(app, expiring.chatId)).toEqual([])
    const kept = await itemsMentioning(app, extended.chatId)
    expect(kinds(kept)).toEqual(extendedItems)
    const chat = kept.find((found) => found._et === 'Chat')!
    expect(chat.lastSeq).toBe(3)
    expect(kept.find((found) => found._et === 'ExpiryIndex')?.bucketStart).toBe(bucketStartOf(layout, (chat.ttl as number) * 1000))
  })
})
