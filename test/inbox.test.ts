import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ChatEventsDocument,
  CreatePostDocument,
  InboxDocument,
  LeaveChatDocument,
  SendMessageDocument,
  StartChatDocument,
  type ChatEventsSubscription,
} from './generated/graphql.js'
import { startTestApp, type TestApp } from './support/app.js'
import { collect, errorCode, mustRequest, request, signUp, wsClient, type TestUser } from './support/client.js'

const TTL_SECONDS = 10
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('catching up in one request (inbox)', () => {
  let app: TestApp
  let me: TestUser

  beforeAll(async () => {
    app = await startTestApp({ CHAT_TTL_SECONDS: String(TTL_SECONDS) })
    me = await signUp(app.url)
  })
  afterAll(() => app?.stop())

  async function chatWithMe() {
    const peer = await signUp(app.url)
    const post = (await mustRequest(app.url, CreatePostDocument, { body: 'catch up' }, me.token)).createPost
    const chat = (await mustRequest(app.url, StartChatDocument, { postId: post.id }, peer.token)).startChat
    const send = (body: string) => mustRequest(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body }, peer.token)
    return { peer, chat, send }
  }

  it('gives a user back from offline every chat with new messages, the left and the expired in one request, then live events without a gap', async () => {
    const expiring = await chatWithMe()
    const startedAt = Date.now()
    await sleep(4_000)
    const [a, b, c, left] = [await chatWithMe(), await chatWithMe(), await chatWithMe(), await chatWithMe()]
    const before = (await mustRequest(app.url, InboxDocument, {}, me.token)).inbox
    expect(before.chats).toHaveLength(5)

    // Offline: messages in three chats, a leave, an expiry.
    for (const [chat, count] of [[a, 3], [b, 1], [c, 2]] as const) for (let i = 1; i <= count; i++) await chat.send(`${chat.chat.id} #${i}`)
    await mustRequest(app.url, LeaveChatDocument, { chatId: left.chat.id }, left.peer.token)
    await sleep(Math.max(0, startedAt + TTL_SECONDS * 1000 + 500 - Date.now()))

    const back = await request(app.url, InboxDocument, { since: before.cursor, last: 10 }, me.token)
    const inbox = back.data!.inbox
    expect(inbox.expired).toEqual([expiring.chat.id])
    const byId = new Map(inbox.chats.map((chat) => [chat.id, chat]))
    expect([...byId.keys()].sort()).toEqual([a.chat.id, b.chat.id, c.chat.id, left.chat.id].sort())
    expect([a, b, c].map(({ chat }) => [byId.get(chat.id)!.unreadCount, byId.get(chat.id)!.messages.map((m) => m.body)])).toEqual([
      [3, [`${a.chat.id} #1`, `${a.chat.id} #2`, `${a.chat.id} #3`]],
      [1, [`${b.chat.id} #1`]],
      [2, [`${c.chat.id} #1`, `${c.chat.id} #2`]],
    ])
    expect(byId.get(left.chat.id)!.status).toBe('LEFT')
    // Nothing in the answer names the peers.
    for (const { peer } of [a, b, c, left]) expect(back.raw).not.toContain(peer.id)

    // Then live, from the last seq the answer gave: the next message and nothing twice.
    const client = wsClient(app.url, me.token)
    const events = collect(client, ChatEventsDocument, { chatId: a.chat.id, afterSeq: byId.get(a.chat.id)!.lastSeq })
    await sleep(300)
    await a.send('live')
    const items = await events.until((got) => got.some((e) => e.chatEvents.__typename === 'MessageEvent'))
    const messages = items.flatMap(({ chatEvents: e }: ChatEventsSubscription) => (e.__typename === 'MessageEvent' ? [[e.message.seq, e.message.body]] : []))
    expect(messages).toEqual([[4, 'live']])
    await client.dispose()

    const after = (await mustRequest(app.url, InboxDocument, { since: inbox.cursor }, me.token)).inbox
    expect(after.chats.map((chat) => [chat.id, chat.lastSeq])).toEqual([[a.chat.id, 4]])
    expect(after.expired).toEqual([])
  })

  it('refuses a cursor that is not the caller’s own with BAD_USER_INPUT', async () => {
    await chatWithMe()
    const { cursor } = (await mustRequest(app.url, InboxDocument, {}, me.token)).inbox
    const stranger = await signUp(app.url)
    expect(errorCode(await request(app.url, InboxDocument, { since: cursor }, stranger.token))).toBe('BAD_USER_INPUT')
    expect(errorCode(await request(app.url, InboxDocument, { since: `${cursor}x` }, me.token))).toBe('BAD_USER_INPUT')
  })
})
