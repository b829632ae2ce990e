import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import sharp from 'sharp'
import {
  AddCommentDocument,
  ChatEventsDocument,
  ChatPhotosDocument,
  NotificationsDocument,
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
import { collect, mustRequest, request, signUp, uploadPhoto, wsClient, type GraphQLResponse, type TestUser } from './support/client.js'

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

describe('anonymity: links between posts, comments and chats', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
  })
  afterAll(() => app.stop())

  /** What a startChat answer says, without what differs between any two chats (ids, aliases, times). */
  const shapeOf = (chat: { status: string; lastSeq: number; unreadCount: number; peerDeliveredSeq: number; peerReadSeq: number; me: { role: string }; peer: { role: string } }) => ({
    status: chat.status,
    lastSeq: chat.lastSeq,
    unreadCount: chat.unreadCount,
    peerDeliveredSeq: chat.peerDeliveredSeq,
    peerReadSeq: chat.peerReadSeq,
    me: chat.me.role,
    peer: chat.peer.role,
  })

  it('answers alike whoever wrote the post or comment, after a block too: the block works one way and is never revealed', async () => {
    const [a, b, stranger, third] = await Promise.all([signUp(app.url), signUp(app.url), signUp(app.url), signUp(app.url)])
    const post = async (user: TestUser) => (await mustRequest(app.url, CreatePostDocument, { body: 'p' }, user.token)).createPost.id
    const start = (user: TestUser, postId: string, commentId?: string) => request(app.url, StartChatDocument, { postId, commentId }, user.token)
    const blocked = (await mustRequest(app.url, StartChatDocument, { postId: await post(a) }, b.token)).startChat
    await mustRequest(app.url, BlockChatDocument, { chatId: blocked.id }, a.token)

    // The blocker reaches the blocked one's other post, and comment elsewhere, as a stranger's.
    const thirdsPost = await post(third)
    const bComment = (await mustRequest(app.url, AddCommentDocument, { postId: thirdsPost, body: 'b' }, b.token)).addComment.id
    const strangerComment = (await mustRequest(app.url, AddCommentDocument, { postId: thirdsPost, body: 's' }, stranger.token)).addComment.id
    const answers = [await start(a, await post(b)), await start(a, await post(stranger))]
    answers.push(await start(a, thirdsPost, bComment), await start(a, thirdsPost, strangerComment))
    for (const answer of answers) expect(answer.errors).toBeUndefined()
    expect(shapeOf(answers[0]!.data!.startChat)).toEqual(shapeOf(answers[1]!.data!.startChat))
    expect(shapeOf(answers[2]!.data!.startChat)).toEqual(shapeOf(answers[3]!.data!.startChat))

    // The blocked one's start on the blocker's post answers as on a stranger's, and so does a send.
    const hidden = await start(b, await post(a))
    const open = await start(b, await post(stranger))
    expect(hidden.errors).toBeUndefined()
    expect(shapeOf(hidden.data!.startChat)).toEqual(shapeOf(open.data!.startChat))
    const sends = await Promise.all(
      [hidden, open].map((answer) =>
        request(app.url, SendMessageDocument, { chatId: answer.data!.startChat.id, clientMessageId: 'x', body: 'hello?' }, b.token),
      ),
    )
    expect(sends.map((send) => [send.errors, send.data?.sendMessage.seq])).toEqual([
      [undefined, 1],
      [undefined, 1],
    ])
    // Only the stranger was told.
    expect((await mustRequest(app.url, ChatsDocument, {}, a.token)).chats.map((chat) => chat.id)).not.toContain(hidden.data!.startChat.id)
    expect((await mustRequest(app.url, ChatsDocument, {}, stranger.token)).chats.map((chat) => chat.id)).toContain(open.data!.startChat.id)
  })

  it("answers alike whether the writer is at the live-chat limit: a full user's posts and comments cannot be listed", async () => {
    const full = await startTestApp({ MAX_LIVE_CHATS: '2' })
    try {
      const [busy, stranger, third, filler] = [await signUp(full.url), await signUp(full.url), await signUp(full.url), await signUp(full.url)]
      const post = async (user: TestUser) => (await mustRequest(full.url, CreatePostDocument, { body: 'p' }, user.token)).createPost.id
      const comment = async (user: TestUser, postId: string) => (await mustRequest(full.url, AddCommentDocument, { postId, body: 'c' }, user.token)).addComment.id
      const filled = []
      for (let i = 0; i < 2; i++) filled.push((await mustRequest(full.url, StartChatDocument, { postId: await post(busy) }, filler.token)).startChat.id)
      const thirdsPost = await post(third)
      // One prober per start, so that no prober's own limit is in play.
      const start = async (postId: string, commentId?: string) => request(full.url, StartChatDocument, { postId, commentId }, (await signUp(full.url)).token)
      const answers = [await start(await post(busy)), await start(await post(stranger))]
      answers.push(await start(thirdsPost, await comment(busy, thirdsPost)), await start(thirdsPost, await comment(stranger, thirdsPost)))
      for (const answer of answers) expect(answer.errors).toBeUndefined()
      expect(shapeOf(answers[0]!.data!.startChat)).toEqual(shapeOf(answers[1]!.data!.startChat))
      expect(shapeOf(answers[2]!.data!.startChat)).toEqual(shapeOf(answers[3]!.data!.startChat))
      // The busy user still holds their two chats: the ones past the limit are hidden from them.
      expect((await mustRequest(full.url, ChatsDocument, {}, busy.token)).chats.map((chat) => chat.id).sort()).toEqual(filled.sort())
      expect((await mustRequest(full.url, ChatsDocument, {}, stranger.token)).chats).toHaveLength(2)
    } finally {
      await full.stop()
    }
  })

  it('shows openly, to everyone alike, which comments of a post share a writer, and which are the author’s: exactly what chats would tell', async () => {
    const [author, c, reader] = await Promise.all([signUp(app.url), signUp(app.url), signUp(app.url)])
    const postId = (await mustRequest(app.url, CreatePostDocument, { body: 'p' }, author.token)).createPost.id
    const comment = async (user: TestUser, body: string) => (await mustRequest(app.url, AddCommentDocument, { postId, body }, user.token)).addComment.id
    const [c1, c2, byAuthor] = [await comment(c, 'one'), await comment(c, 'two'), await comment(author, 'op')]
    const seenBy = async (user: TestUser) => (await mustRequest(app.url, PostDocument, { id: postId }, user.token)).post!.comments
    const forReader = await seenBy(reader)
    const forC = await seenBy(c)
    const strip = (comments: typeof forReader) => comments.map(({ id, authorAlias, byPostAuthor }) => ({ id, authorAlias, byPostAuthor }))
    expect(strip(forReader)).toEqual(strip(forC))
    const [one, two, op] = forReader
    expect(one!.authorAlias).toBe(two!.authorAlias)
    expect(op!.authorAlias).not.toBe(one!.authorAlias)
    expect([one!.byPostAuthor, two!.byPostAuthor, op!.byPostAuthor]).toEqual([false, false, true])
    // The chats the reader can start agree with that, and say no more.
    const chatOf = async (commentId?: string) => (await mustRequest(app.url, StartChatDocument, { postId, commentId }, reader.token)).startChat.id
    expect(await chatOf(c1)).toBe(await chatOf(c2))
    expect(await chatOf(byAuthor)).toBe(await chatOf())
    expect(await chatOf(c1)).not.toBe(await chatOf())
    // On another post the same writer has another alias.
    const other = (await mustRequest(app.url, CreatePostDocument, { body: 'q' }, author.token)).createPost.id
    await mustRequest(app.url, AddCommentDocument, { postId: other, body: 'three' }, c.token)
    const elsewhere = (await mustRequest(app.url, PostDocument, { id: other }, reader.token)).post!.comments[0]!
    expect(elsewhere.authorAlias).not.toBe(one!.authorAlias)
  })

  it('shows a clientMessageId to its sender only, and nothing of A in anything B receives live, photos included', async () => {
    const [a, b] = [await signUp(app.url), await signUp(app.url)]
    const postId = (await mustRequest(app.url, CreatePostDocument, { body: 'p' }, b.token)).createPost.id
    const chat = (await mustRequest(app.url, StartChatDocument, { postId }, a.token)).startChat
    const bClient = wsClient(app.url, b.token)
    const frames: string[] = []
    try {
      const events = collect(bClient, ChatEventsDocument, { chatId: chat.id })
      const notifications = collect(bClient, NotificationsDocument)
      await new Promise((resolve) => setTimeout(resolve, 300))
      const deviceBound = `a-device-${a.id}-${randomUUID()}`
      const sent = await mustRequest(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: deviceBound, body: 'hi' }, a.token)
      expect(sent.sendMessage.clientMessageId).toBe(deviceBound)
      const png = new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).png().toBuffer())
      const photo = await uploadPhoto(app.url, a.token, { chatId: chat.id }, { bytes: png, name: 'a.png', type: 'image/png' })
      await mustRequest(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: `${deviceBound}-2`, photoId: photo.data!.uploadPhoto.id }, a.token)
      await events.until((items) => items.filter((item) => item.chatEvents.__typename === 'MessageEvent').length === 2)
      await notifications.until((items) => items.filter((item) => item.notifications.__typename === 'NewMessageNotification').length === 2)
      const history = await request(app.url, ChatHistoryDocument, { id: chat.id }, b.token)
      const photos = await request(app.url, ChatPhotosDocument, { id: chat.id }, b.token)
      const url = photos.data!.chat!.messages[1]!.photo!.url!
      expect(url).toMatch(/^http/)
      frames.push(JSON.stringify(events.items), JSON.stringify(notifications.items), history.raw, photos.raw, url, decodeURIComponent(url))
      const seen = frames.join('\n')
      for (const secret of [a.id, a.id.slice(2), a.token, a.token.split('.')[2]!, deviceBound]) expect(seen).not.toContain(secret)
      // The peer gets the message id in its place.
      const message = history.data!.chat!.messages[0]!
      expect(message.clientMessageId).toBe(message.id)
    } finally {
      await bClient.dispose()
    }
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
