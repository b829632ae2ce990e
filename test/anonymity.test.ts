import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AddCommentDocument,
  BlockChatDocument,
  ChatDocument,
  ChatHistoryDocument,
  ChatsDocument,
  CreatePostDocument,
  FeedDocument,
  LeaveChatDocument,
  MarkReadDocument,
  PostDocument,
  SendMessageDocument,
  StartChatDocument,
  ViewerDocument,
} from './generated/graphql.js'
import { startPeerApp, startTestApp, type TestApp } from './support/app.js'
import { mustRequest, request, signUp, type GraphQLResponse } from './support/client.js'

describe('anonymity', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
  })
  afterAll(() => app.stop())

  it('never shows B anything carrying A’s user id or token, through every post and chat operation', async () => {
    const a = await signUp(app.url)
    const b = await signUp(app.url)
    const seenByB: GraphQLResponse<unknown>[] = []
    const asB = async <T, V extends Record<string, unknown>>(...args: Parameters<typeof request<T, V>>) => {
      const response = await request<T, V>(...args)
      seenByB.push(response)
      return response
    }

    const post = (await mustRequest(app.url, CreatePostDocument, { body: 'A’s secret' }, a.token)).createPost
    const comment = (await mustRequest(app.url, AddCommentDocument, { postId: post.id, body: 'A comments too' }, a.token)).addComment
    await asB(app.url, FeedDocument, { first: 10 }, b.token)
    await asB(app.url, PostDocument, { id: post.id }, b.token)
    const bPost = (await asB(app.url, CreatePostDocument, { body: 'B’s secret' }, b.token)).data!.createPost
    await mustRequest(app.url, AddCommentDocument, { postId: bPost.id, body: 'A on B’s post' }, a.token)
    await asB(app.url, PostDocument, { id: bPost.id }, b.token)

    const chat = (await asB(app.url, StartChatDocument, { postId: post.id }, b.token)).data!.startChat
    await asB(app.url, StartChatDocument, { postId: post.id, commentId: comment.id }, b.token)
    await mustRequest(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: `hi, I am ${'A'}` }, a.token)
    await asB(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: 'hi A' }, b.token)
    await asB(app.url, ChatDocument, { id: chat.id }, b.token)
    await asB(app.url, ChatsDocument, {}, b.token)
    await asB(app.url, ChatHistoryDocument, { id: chat.id }, b.token)
    await asB(app.url, MarkReadDocument, { chatId: chat.id, seq: 2 }, b.token)
    await asB(app.url, MarkReadDocument, { chatId: chat.id, seq: 99 }, b.token)
    await asB(app.url, SendMessageDocument, { chatId: 'nope', clientMessageId: 'x', body: 'x' }, b.token)
    await asB(app.url, ViewerDocument, {}, b.token)
    await mustRequest(app.url, LeaveChatDocument, { chatId: chat.id }, a.token)
    await asB(app.url, ChatDocument, { id: chat.id }, b.token)
    await asB(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: 'closed?' }, b.token)
    await asB(app.url, BlockChatDocument, { chatId: chat.id, reason: 'testing' }, b.token)
    await asB(app.url, StartChatDocument, { postId: post.id }, b.token)

    expect(seenByB.length).toBeGreaterThan(15)
    const everything = seenByB.map((response) => response.raw).join('\n')
    // The whole id, its random part, and the token (or its signature) never appear.
    for (const secret of [a.id, a.id.slice(2), a.token, a.token.split('.')[2]!]) {
      expect(everything).not.toContain(secret)
    }
    // B sees an alias for A, not an identity, and B's own id only in its own viewer.
    expect(everything).toContain(b.id)
    expect(seenByB.filter((response) => response.raw.includes(b.id))).toHaveLength(1)
  })
})

describe('two server processes on one table', () => {
  it('still give 50 concurrent sends split across them exactly seqs 1..50 (optimistic transactions, no local lock)', async () => {
    const one = await startTestApp()
    const two = await startPeerApp(one)
    try {
      const author = await signUp(one.url)
      const commenter = await signUp(two.url)
      const post = (await mustRequest(one.url, CreatePostDocument, { body: 'p' }, author.token)).createPost
      const chat = (await mustRequest(two.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
      const sends = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          request(i % 2 ? one.url : two.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: `m${i}` }, i % 3 ? author.token : commenter.token),
        ),
      )
      expect(sends.filter((send) => send.errors)).toEqual([])
      expect(sends.map((send) => send.data!.sendMessage.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      const { chat: stored } = await mustRequest(one.url, ChatHistoryDocument, { id: chat.id, afterSeq: 0, last: 100 }, author.token)
      expect(stored?.messages.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    } finally {
      await two.stop()
      await one.stop()
    }
  })
})
