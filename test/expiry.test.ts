import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ChatDocument,
  ChatHistoryDocument,
  ChatsDocument,
  CreatePostDocument,
  MarkReadDocument,
  SendMessageDocument,
  StartChatDocument,
} from './generated/graphql.js'
import { startTestApp, type TestApp } from './support/app.js'
import { errorCode, mustRequest, request, signUp } from './support/client.js'
import { itemsMentioning } from './support/dynamo.js'

const TTL_SECONDS = 4
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe(`expiry (CHAT_TTL_SECONDS=${TTL_SECONDS})`, () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp({ CHAT_TTL_SECONDS: String(TTL_SECONDS) })
  })
  afterAll(() => app.stop())

  it('keeps the whole chat while messages come, hides it from both sides at once when it expires, then reclaims every item by TTL', { timeout: 180_000 }, async () => {
    const author = await signUp(app.url)
    const commenter = await signUp(app.url)
    const postId = (await mustRequest(app.url, CreatePostDocument, { body: 'ephemeral' }, author.token)).createPost.id
    const chat = (await mustRequest(app.url, StartChatDocument, { postId }, commenter.token)).startChat

    // Six messages over ~7.5 s, longer than the TTL: every message extends the whole chat.
    let lastExpiresAt = 0
    for (let i = 1; i <= 6; i++) {
      const sender = i % 2 ? commenter : author
      await mustRequest(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: `m${i}` }, sender.token)
      const { chat: seen } = await mustRequest(app.url, ChatHistoryDocument, { id: chat.id }, author.token)
      expect(seen?.messages.map((m) => m.seq)).toEqual(Array.from({ length: i }, (_, k) => k + 1))
      const { chat: current } = await mustRequest(app.url, ChatDocument, { id: chat.id }, commenter.token)
      expect(Date.parse(current!.expiresAt)).toBeGreaterThan(lastExpiresAt)
      lastExpiresAt = Date.parse(current!.expiresAt)
      await sleep(1_250)
    }
    // The chat, its six messages and the two memberships (at least).
    expect((await itemsMentioning(app, chat.id)).length).toBeGreaterThanOrEqual(1 + 6 + 2)

    // At the expiry instant it is gone on every read path, for both, before anything is deleted.
    await sleep(Math.max(0, lastExpiresAt - Date.now()) + 50)
    const storedAtExpiry = (await itemsMentioning(app, chat.id)).length
    for (const user of [author, commenter]) {
      expect((await mustRequest(app.url, ChatDocument, { id: chat.id }, user.token)).chat).toBeNull()
      expect((await mustRequest(app.url, ChatHistoryDocument, { id: chat.id }, user.token)).chat).toBeNull()
      expect((await mustRequest(app.url, ChatsDocument, {}, user.token)).chats).toEqual([])
      expect(errorCode(await request(app.url, MarkReadDocument, { chatId: chat.id, seq: 1 }, user.token))).toBe('NOT_FOUND')
      const late = await request(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: 'late' }, user.token)
      expect(errorCode(late)).toBe('NOT_FOUND')
    }
    expect(storedAtExpiry).toBeGreaterThan(0)

    // A new start after expiry is a fresh chat.
    const fresh = (await mustRequest(app.url, StartChatDocument, { postId }, commenter.token)).startChat
    expect(fresh.id).not.toBe(chat.id)
    expect(fresh.lastSeq).toBe(0)

    // DynamoDB TTL deletes the chat item; the stream cascade deletes the rest: nothing is left.
    // Meanwhile the fresh chat is kept alive by its messages and must lose nothing.
    // DynamoDB Local runs TTL every few seconds, later on a busy machine.
    const deadline = Date.now() + 110_000
    let left = await itemsMentioning(app, chat.id)
    let kept = 0
    while (left.length > 0 && Date.now() < deadline) {
      await mustRequest(app.url, SendMessageDocument, { chatId: fresh.id, clientMessageId: randomUUID(), body: `keep ${++kept}` }, author.token)
      await sleep(1_000)
      left = await itemsMentioning(app, chat.id)
    }
    expect(left.map((item) => `${String(item.pk)} ${String(item.sk)}`)).toEqual([])
    const again = (await mustRequest(app.url, StartChatDocument, { postId }, commenter.token)).startChat
    expect(again.id).toBe(fresh.id)
    const freshHistory = (await mustRequest(app.url, ChatHistoryDocument, { id: fresh.id, last: 100 }, commenter.token)).chat
    expect(freshHistory?.messages.map((m) => m.seq)).toEqual(Array.from({ length: kept }, (_, i) => i + 1))
  })
})
