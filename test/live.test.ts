import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChatBusEvent } from '../src/domain/events.js'
import { topics } from '../src/domain/events.js'
import {
  ChatDocument,
  ChatHistoryDocument,
  ChatEventsDocument,
  ChatsPageDocument,
  CreatePostDocument,
  LeaveChatDocument,
  MarkReadDocument,
  NotificationsDocument,
  PeerPresentDocument,
  SendMessageDocument,
  SetTypingDocument,
  StartChatDocument,
  type ChatEventsSubscription,
} from './generated/graphql.js'
import { redisEnv, startPeerApp, startTestApp, type TestApp } from './support/app.js'
import { collect, mustRequest, openAckedSocket, request, signUp, wsClient, type TestUser } from './support/client.js'
import { appendBehindTheBusBack } from './support/dynamo.js'

type ChatEvent = ChatEventsSubscription['chatEvents']
const seqsOf = (items: ChatEventsSubscription[]) =>
  items.flatMap(({ chatEvents: e }) => (e.__typename === 'MessageEvent' ? [e.message.seq] : []))
const ofType = <K extends ChatEvent['__typename']>(items: ChatEventsSubscription[], type: K) =>
  items.map((item) => item.chatEvents).filter((e): e is Extract<ChatEvent, { __typename: K }> => e.__typename === type)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/**
 * Two server instances with their own Redis connections on one Redis and one table; the author
 * is connected to `one`, the commenter to `two`.
 */
describe('live events across two server processes', () => {
  let one: TestApp
  let two: TestApp
  let author: TestUser
  let commenter: TestUser
  const clients: Array<ReturnType<typeof wsClient>> = []
  const socket = (app: TestApp, user: TestUser) => {
    const client = wsClient(app.url, user.token)
    clients.push(client)
    return client
  }
  const newChat = async () => {
    const post = (await mustRequest(one.url, CreatePostDocument, { body: 'live' }, author.token)).createPost
    return (await mustRequest(two.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
  }
  const send = (app: TestApp, user: TestUser, chatId: string, body: string) =>
    mustRequest(app.url, SendMessageDocument, { chatId, clientMessageId: randomUUID(), body }, user.token)

  beforeAll(async () => {
    one = await startTestApp({ ...redisEnv(), PRESENCE_TTL_MS: '3000' })
    two = await startPeerApp(one)
    author = await signUp(one.url)
    commenter = await signUp(two.url)
  })
  afterAll(async () => {
    await Promise.all(clients.map(async (client) => client.dispose()))
    await two.stop()
    await one.stop()
  })

  it('replays after afterSeq, then streams both sides live, in order, without gap or duplicate, to every device', async () => {
    const chat = await newChat()
    for (let i = 1; i <= 3; i++) await send(two, commenter, chat.id, `early ${i}`)
    const authorPhone = collect(socket(one, author), ChatEventsDocument, { chatId: chat.id, afterSeq: 1 })
    const commenterLaptop = collect(socket(one, commenter), ChatEventsDocument, { chatId: chat.id })
    await authorPhone.until((items) => seqsOf(items).length === 2)
    // Sends from both sides on both processes while the subscriptions are live.
    await Promise.all(range(4, 23).map((i) => (i % 2 ? send(one, author, chat.id, `m${i}`) : send(two, commenter, chat.id, `m${i}`))))
    await authorPhone.until((items) => seqsOf(items).length === 22)
    expect(seqsOf(authorPhone.items)).toEqual(range(2, 23))
    await commenterLaptop.until((items) => seqsOf(items).length === 20)
    expect(seqsOf(commenterLaptop.items)).toEqual(range(4, 23))
    const fromMe = ofType(commenterLaptop.items, 'MessageEvent').map((e) => e.message.fromMe)
    expect(fromMe).toContain(true)
    expect(fromMe).toContain(false)
  })

  it('fills a gap from DynamoDB when a Redis event was lost: seq n+1 never comes before seq n', async () => {
    const chat = await newChat()
    const watcher = collect(socket(two, commenter), ChatEventsDocument, { chatId: chat.id, afterSeq: 0 })
    await send(one, author, chat.id, 'one')
    await watcher.until((items) => seqsOf(items).length === 1)
    // Seq 2 is stored but its event is never published, as if Redis had dropped it.
    await appendBehindTheBusBack(one, chat.id, 'lost on the bus')
    await send(one, author, chat.id, 'three')
    await watcher.until((items) => seqsOf(items).length === 3)
    expect(ofType(watcher.items, 'MessageEvent').map((e) => [e.message.seq, e.message.body])).toEqual([
      [1, 'one'],
      [2, 'lost on the bus'],
      [3, 'three'],
    ])
  })

  it('authorises in subscribe: NOT_FOUND for a stranger, as for a chat that does not exist', async () => {
    const chat = await newChat()
    const stranger = await signUp(one.url)
    for (const chatId of [chat.id, 'no-such-chat']) {
      const attempt = collect(socket(one, stranger), ChatEventsDocument, { chatId })
      await attempt.until(() => attempt.errors.length > 0 || attempt.completed).catch(() => undefined)
      expect(JSON.stringify(attempt.errors)).toContain('NOT_FOUND')
    }
  })

  it('notifies every device of the user, on either process: chat started, new message with unread count, chat closed', async () => {
    const onOne = collect(socket(one, author), NotificationsDocument)
    const onTwo = collect(socket(two, author), NotificationsDocument)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const chat = await newChat()
    await send(two, commenter, chat.id, 'hello')
    await send(two, commenter, chat.id, 'are you there?')
    await mustRequest(two.url, LeaveChatDocument, { chatId: chat.id }, commenter.token)
    for (const device of [onOne, onTwo]) {
      const items = await device.until((items) => items.filter((i) => i.notifications.chatId === chat.id).length === 4)
      const mine = items.map((item) => item.notifications).filter((n) => n.chatId === chat.id)
      expect(mine.map((n) => n.__typename)).toEqual([
        'ChatStartedNotification',
        'NewMessageNotification',
        'NewMessageNotification',
        'ChatClosedNotification',
      ])
      expect(mine[0]).toMatchObject({ peer: { role: 'COMMENTER', alias: chat.me.alias } })
      expect(mine[2]).toMatchObject({ unreadCount: 2, message: { seq: 2, body: 'are you there?', fromMe: false } })
      expect(mine[3]).toMatchObject({ reason: 'LEFT' })
    }
    onOne.stop()
    onTwo.stop()
  })

  it('shows the peer typing, and sends typing=false itself after 6 s, on a message, and when the typist leaves', async () => {
    const chat = await newChat()
    const watcher = collect(socket(one, author), ChatEventsDocument, { chatId: chat.id })
    const typist = socket(two, commenter)
    const typistEvents = collect(typist, ChatEventsDocument, { chatId: chat.id })
    await watcher.until((items) => ofType(items, 'PresenceEvent').length > 0)
    const typing = () => ofType(watcher.items, 'TypingEvent').map((e) => e.typing)

    await mustRequest(two.url, SetTypingDocument, { chatId: chat.id, typing: true }, commenter.token)
    await watcher.until(() => typing().length === 1)
    const started = Date.now()
    await watcher.until(() => typing().length === 2, 9_000)
    expect(Date.now() - started).toBeGreaterThan(5_000)
    expect(typing()).toEqual([true, false])

    // A chat side's typing changes reach the peer at most once per 500 ms: wait that long.
    await sleep(600)
    await mustRequest(two.url, SetTypingDocument, { chatId: chat.id, typing: true }, commenter.token)
    await watcher.until(() => typing().length === 3)
    await send(two, commenter, chat.id, 'done typing')
    await watcher.until(() => typing().length === 4)
    expect(typing()).toEqual([true, false, true, false])

    await sleep(600)
    await mustRequest(two.url, SetTypingDocument, { chatId: chat.id, typing: true }, commenter.token)
    await watcher.until(() => typing().length === 5)
    typistEvents.stop()
    await watcher.until(() => typing().length === 6)
    expect(typing()).toEqual([true, false, true, false, true, false])
    // The typist never hears about its own typing.
    expect(ofType(typistEvents.items, 'TypingEvent')).toEqual([])
  })

  it('sends receipts: delivered when pushed to the recipient live, read on markRead', async () => {
    const chat = await newChat()
    const sender = collect(socket(two, commenter), ChatEventsDocument, { chatId: chat.id })
    await sender.until(() => true)
    await send(two, commenter, chat.id, 'before the recipient is here')
    const recipient = collect(socket(one, author), ChatEventsDocument, { chatId: chat.id, afterSeq: 0 })
    await recipient.until((items) => seqsOf(items).length === 1)
    await sender.until((items) => ofType(items, 'ReceiptEvent').some((r) => r.peerDeliveredSeq === 1))
    await send(two, commenter, chat.id, 'while they are here')
    await sender.until((items) => ofType(items, 'ReceiptEvent').some((r) => r.peerDeliveredSeq === 2))
    // The sender's messages are its receipts too (a send stores its sender's marks up to it).
    await recipient.until((items) => ofType(items, 'ReceiptEvent').length > 0)
    // The live receipt is sent at once and stored lazily; closing the stream stores it.
    recipient.stop()
    const storedMark = async () => (await mustRequest(two.url, ChatDocument, { id: chat.id }, commenter.token)).chat?.peerDeliveredSeq
    for (let i = 0; i < 20 && (await storedMark()) !== 2; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await storedMark()).toBe(2)
    await mustRequest(one.url, MarkReadDocument, { chatId: chat.id, seq: 2 }, author.token)
    await sender.until((items) => ofType(items, 'ReceiptEvent').some((r) => r.peerReadSeq === 2))
    // The recipient hears only of the sender's marks, never of its own markRead.
    expect(ofType(recipient.items, 'ReceiptEvent').map((r) => [r.peerDeliveredSeq, r.peerReadSeq])).toEqual([[2, 2]])
  })

  it('tells the peer of a read mark that a send raised: a live stream ends where the chat query is, on both processes', async () => {
    const chat = await newChat()
    // The commenter watches from both processes.
    const onTwo = collect(socket(two, commenter), ChatEventsDocument, { chatId: chat.id })
    const onOne = collect(socket(one, commenter), ChatEventsDocument, { chatId: chat.id })
    await Promise.all([onTwo, onOne].map((stream) => stream.until(() => true)))
    await new Promise((resolve) => setTimeout(resolve, 200))
    for (let i = 1; i <= 3; i++) await send(two, commenter, chat.id, `c${i}`)
    // The author gets them (a history read raises its delivered mark to 3), replies, which stores
    // its read mark at 4, then marks an older seq read: that moves nothing and publishes nothing.
    await mustRequest(one.url, ChatHistoryDocument, { id: chat.id, afterSeq: 0 }, author.token)
    await send(one, author, chat.id, 'a reply reads everything before it')
    await mustRequest(one.url, MarkReadDocument, { chatId: chat.id, seq: 2 }, author.token)
    const queried = (await mustRequest(two.url, ChatDocument, { id: chat.id }, commenter.token)).chat!
    expect([queried.peerDeliveredSeq, queried.peerReadSeq]).toEqual([4, 4])
    for (const stream of [onTwo, onOne]) {
      await stream.until((items) => seqsOf(items).length === 4)
      const marks = () => ofType(stream.items, 'ReceiptEvent').map((r) => [r.peerDeliveredSeq, r.peerReadSeq]).at(-1)
      await stream.until(() => marks()?.[1] === queried.peerReadSeq, 2_000).catch(() => undefined)
      expect(marks()).toEqual([queried.peerDeliveredSeq, queried.peerReadSeq])
    }
  })

  it('tracks presence across processes: true when the peer opens chatEvents, false when its last one closes', async () => {
    const chat = await newChat()
    const watcher = collect(socket(two, commenter), ChatEventsDocument, { chatId: chat.id })
    await watcher.until(() => true)
    const peerPresent = async () => (await mustRequest(two.url, PeerPresentDocument, { id: chat.id }, commenter.token)).chat?.peerPresent
    expect(await peerPresent()).toBe(false)
    const phone = collect(socket(one, author), ChatEventsDocument, { chatId: chat.id })
    const laptop = collect(socket(two, author), ChatEventsDocument, { chatId: chat.id })
    await watcher.until((items) => ofType(items, 'PresenceEvent').length === 1)
    expect(await peerPresent()).toBe(true)
    phone.stop()
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(ofType(watcher.items, 'PresenceEvent').map((e) => e.peerPresent)).toEqual([true])
    laptop.stop()
    await watcher.until((items) => ofType(items, 'PresenceEvent').length === 2)
    expect(ofType(watcher.items, 'PresenceEvent').map((e) => e.peerPresent)).toEqual([true, false])
    expect(await peerPresent()).toBe(false)
  })

  it('sends ChatClosedEvent(LEFT) to both sides and completes the subscriptions', async () => {
    const chat = await newChat()
    const a = collect(socket(one, author), ChatEventsDocument, { chatId: chat.id })
    const b = collect(socket(two, commenter), ChatEventsDocument, { chatId: chat.id })
    await a.until((items) => ofType(items, 'PresenceEvent').length > 0)
    await mustRequest(one.url, LeaveChatDocument, { chatId: chat.id }, author.token)
    for (const side of [a, b]) {
      await side.until(() => side.completed)
      expect(ofType(side.items, 'ChatClosedEvent')).toEqual([{ __typename: 'ChatClosedEvent', chatId: chat.id, reason: 'LEFT' }])
    }
    const late = await request(one.url, SetTypingDocument, { chatId: chat.id, typing: true }, author.token)
    expect(late.errors?.[0]?.extensions?.code).toBe('CHAT_CLOSED')
  })

  it('publishes each event to Redis once, and leaks no channel or listener after 1,000 subscriptions', async () => {
    const admin = new Redis(one.config.redisUrl!)
    try {
      const chats = await Promise.all(range(1, 10).map(() => newChat()))
      const client = socket(one, author)
      const baseline = one.events.activeTopics()
      const waitForTopics = async (count: number) => {
        for (let i = 0; i < 400 && one.events.activeTopics() !== count; i++) await new Promise((r) => setTimeout(r, 50))
        expect(one.events.activeTopics()).toBe(count)
      }
      let opened = 0
      for (let round = 0; round < 7; round++) {
        const open = range(1, 150).map((i) => collect(client, ChatEventsDocument, { chatId: chats[i % 10]!.id }))
        opened += open.length
        await waitForTopics(baseline + 10)
        const [, subscribers] = (await admin.pubsub('NUMSUB', `${one.config.redisPrefix}${topics.chat(chats[0]!.id)}`)) as [string, number]
        // One Redis subscription per channel per process, however many local subscribers.
        expect(Number(subscribers)).toBe(1)
        for (const c of open) c.stop()
        await waitForTopics(baseline)
        expect(open.filter((c) => c.errors.length > 0)).toEqual([])
      }
      expect(opened).toBeGreaterThanOrEqual(1_000)
      for (const chat of chats) {
        const [, subscribers] = (await admin.pubsub('NUMSUB', `${one.config.redisPrefix}${topics.chat(chat.id)}`)) as [string, number]
        expect(Number(subscribers)).toBe(0)
      }

      // Exactly one PUBLISH per event, whatever the number of subscribers.
      const chat = chats[0]!
      const watchers = range(1, 5).map(() => collect(client, ChatEventsDocument, { chatId: chat.id }))
      await Promise.all(watchers.map((w) => w.until(() => true)))
      await new Promise((resolve) => setTimeout(resolve, 200))
      const monitor = await new Redis(one.config.redisUrl!).monitor()
      const published: string[] = []
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args[0]?.toLowerCase() === 'publish' && args[1]?.includes(chat.id)) published.push(args[2]!)
      })
      await mustRequest(one.url, SetTypingDocument, { chatId: chat.id, typing: true }, author.token)
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect(published.filter((p) => p.includes('"typing"'))).toHaveLength(1)

      // A message is one event too, though both users' notifications on both processes and the
      // recipient's chatEvents hear it; the recipient's delivery receipt is an event of its own.
      const notified = collect(socket(one, author), NotificationsDocument)
      const commenterEvents = collect(socket(two, commenter), ChatEventsDocument, { chatId: chat.id })
      const listeners = [
        notified,
        commenterEvents,
        collect(socket(two, author), NotificationsDocument),
        collect(socket(two, commenter), NotificationsDocument),
      ]
      await new Promise((resolve) => setTimeout(resolve, 300))
      published.length = 0
      const allPublished: string[] = []
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args[0]?.toLowerCase() === 'publish' && args[1]?.startsWith(one.config.redisPrefix)) allPublished.push(args[2]!)
      })
      await send(two, commenter, chat.id, 'one event')
      await notified.until((items) => items.some((i) => i.notifications.__typename === 'NewMessageNotification'))
      await commenterEvents.until((items) => seqsOf(items).length === 1)
      await new Promise((resolve) => setTimeout(resolve, 500))
      monitor.disconnect()
      const kinds = allPublished.map((p) => (JSON.parse(p) as { kind: string }).kind)
      expect(kinds.filter((kind) => kind === 'message')).toHaveLength(1)
      expect(kinds.filter((kind) => kind !== 'receipt')).toEqual(['message'])
      expect(kinds.filter((kind) => kind === 'receipt').length).toBeLessThanOrEqual(1)
      for (const w of [...watchers, ...listeners]) w.stop()
    } finally {
      admin.disconnect()
    }
  })
})

describe('expiry and slow clients', () => {
  it('sends ChatClosedEvent(EXPIRED) at the moment the chat expires, then completes', async () => {
    const app = await startTestApp({ CHAT_TTL_SECONDS: '3' })
    const client = wsClient(app.url, (await signUp(app.url)).token)
    try {
      const author = await signUp(app.url)
      const commenter = await signUp(app.url)
      const post = (await mustRequest(app.url, CreatePostDocument, { body: 'short' }, author.token)).createPost
      const chat = (await mustRequest(app.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
      const events = collect(wsClient(app.url, author.token), ChatEventsDocument, { chatId: chat.id, afterSeq: 0 })
      await events.until(() => true)
      await mustRequest(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: 'x', body: 'extends by 3 s' }, commenter.token)
      const { chat: live } = await mustRequest(app.url, PeerPresentDocument, { id: chat.id }, commenter.token)
      expect(live).not.toBeNull()
      await events.until(() => events.completed, 8_000)
      const closed = ofType(events.items, 'ChatClosedEvent')
      expect(closed).toEqual([{ __typename: 'ChatClosedEvent', chatId: chat.id, reason: 'EXPIRED' }])
      expect(seqsOf(events.items)).toEqual([1])
    } finally {
      await client.dispose()
      await app.stop()
    }
  })

  it('cuts off a client that stops reading (1013, reconnect) before its buffer passes the bound', async () => {
    const app = await startTestApp({ MAX_QUEUED_BYTES: '65536' })
    try {
      const author = await signUp(app.url)
      const commenter = await signUp(app.url)
      const post = (await mustRequest(app.url, CreatePostDocument, { body: 'flood' }, author.token)).createPost
      const chat = (await mustRequest(app.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
      const raw = await openAckedSocket(app.url, author.token)
      const { print } = await import('graphql')
      raw.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: print(ChatEventsDocument), variables: { chatId: chat.id } } }))
      await new Promise((resolve) => setTimeout(resolve, 300))
      const closed = new Promise<number>((resolve) => raw.once('close', (code) => resolve(code)))
      // The client stops reading; the server keeps producing receipt events for it (each one
      // moves the peer's marks, so none is coalesced away).
      ;(raw as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause()
      const receipt = (seq: number): ChatBusEvent => ({ kind: 'receipt', chatId: chat.id, userId: commenter.id, readSeq: 0, deliveredSeq: seq, stored: false })
      let sent = 0
      const deadline = Date.now() + 20_000
      let cut = false
      void closed.then(() => (cut = true))
      const serverSide = (app as unknown as { events: { publish(t: string, e: ChatBusEvent): Promise<void> } }).events
      while (!cut && Date.now() < deadline && sent < 200_000) {
        for (let i = 0; i < 200; i++) void serverSide.publish(topics.chat(chat.id), receipt(sent + i + 1))
        sent += 200
        await new Promise((resolve) => setImmediate(resolve))
        if (app.events.activeTopics() === 0) break
      }
      ;(raw as unknown as { _socket: { resume(): void } })._socket.resume()
      expect(await closed).toBe(1013)
      expect(sent).toBeLessThan(200_000)
    } finally {
      await app.stop()
    }
  })
})

describe('a user with more chats than one page', () => {
  it('pages through all 210 chats and is notified of a new message in every one', async () => {
    const app = await startTestApp({ MAX_LIVE_CHATS: '250' })
    let listener: ReturnType<typeof wsClient> | undefined
    try {
      const user = await signUp(app.url)
      const author = await signUp(app.url)
      const chatIds: string[] = []
      // Ten at a time: DynamoDB Local writes a few hundred items a second.
      for (let batch = 0; batch < 21; batch++) {
        chatIds.push(
          ...(await Promise.all(
            Array.from({ length: 10 }, async (_, i) => {
              const post = (await mustRequest(app.url, CreatePostDocument, { body: `p${batch}.${i}` }, author.token)).createPost.id
              return (await mustRequest(app.url, StartChatDocument, { postId: post }, user.token)).startChat.id
            }),
          )),
        )
      }
      const paged: string[] = []
      let after: string | undefined
      for (let page = 0; page < 5; page++) {
        const { chats } = await mustRequest(app.url, ChatsPageDocument, { first: 100, after }, user.token)
        paged.push(...chats.map((chat) => chat.id))
        if (chats.length < 100) break
        after = chats.at(-1)!.cursor
      }
      expect(paged).toHaveLength(210)
      expect(new Set(paged)).toEqual(new Set(chatIds))

      listener = wsClient(app.url, user.token)
      const notifications = collect(listener, NotificationsDocument)
      await sleep(1_500)
      for (let batch = 0; batch < 21; batch++) {
        await Promise.all(
          chatIds
            .slice(batch * 10, batch * 10 + 10)
            .map((chatId) => mustRequest(app.url, SendMessageDocument, { chatId, clientMessageId: randomUUID(), body: 'hi' }, author.token)),
        )
      }
      await notifications.until((items) => items.filter((item) => item.notifications.__typename === 'NewMessageNotification').length === 210, 20_000)
      const notified = new Set(notifications.items.map((item) => item.notifications.chatId))
      expect(notified).toEqual(new Set(chatIds))
    } finally {
      await listener?.dispose()
      await app.stop()
    }
  })
})
