import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AddCommentDocument,
  BlockChatDocument,
  ChatDocument,
  ChatHistoryDocument,
  ChatsDocument,
  CreatePostDocument,
  LeaveChatDocument,
  MarkReadDocument,
  SendMessageDocument,
  StartChatDocument,
} from './generated/graphql.js'
import { startTestApp, type TestApp } from './support/app.js'
import { errorCode, mustRequest, request, signUp, type TestUser } from './support/client.js'
import { claimBehindTheServersBack, itemsMentioning } from './support/dynamo.js'

describe('chats', () => {
  let app: TestApp
  let author: TestUser
  let commenter: TestUser
  let postId: string

  const newPost = async (user: TestUser, body = 'a secret') =>
    (await mustRequest(app.url, CreatePostDocument, { body }, user.token)).createPost.id
  const start = async (user: TestUser, post: string, commentId?: string) =>
    (await mustRequest(app.url, StartChatDocument, { postId: post, commentId }, user.token)).startChat
  const send = (user: TestUser, chatId: string, body: string, clientMessageId: string = randomUUID()) =>
    request(app.url, SendMessageDocument, { chatId, clientMessageId, body }, user.token)
  const history = async (user: TestUser, id: string, args: { afterSeq?: number; beforeSeq?: number; last?: number } = {}) =>
    (await mustRequest(app.url, ChatHistoryDocument, { id, ...args }, user.token)).chat

  beforeAll(async () => {
    app = await startTestApp()
    author = await signUp(app.url)
    commenter = await signUp(app.url)
    postId = await newPost(author)
  })
  afterAll(() => app.stop())

  it('opens one chat per pair and post, whoever starts it, however often, even 20 at once', async () => {
    const post = await newPost(author)
    const { addComment } = await mustRequest(app.url, AddCommentDocument, { postId: post, body: 'me too' }, commenter.token)
    const starts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0 ? start(commenter, post) : start(author, post, addComment.id),
      ),
    )
    expect(new Set(starts.map((chat) => chat.id)).size).toBe(1)
    const fromCommenter = starts[0]!
    const fromAuthor = starts[1]!
    expect(fromCommenter.me.role).toBe('COMMENTER')
    expect(fromCommenter.peer.role).toBe('AUTHOR')
    expect(fromAuthor.me).toEqual(fromCommenter.peer)
    expect(fromAuthor.peer).toEqual(fromCommenter.me)
    expect(fromCommenter.me.alias).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/)
    expect(fromCommenter.me.alias).not.toBe(fromCommenter.peer.alias)
    expect(fromCommenter).toMatchObject({ status: 'ACTIVE', lastSeq: 0, unreadCount: 0, post: { id: post, isMine: false } })
    expect(Date.parse(fromCommenter.expiresAt) - Date.parse(fromCommenter.lastActivityAt)).toBe(app.config.chatTtlSeconds * 1000)
    // Opaque: nothing of the users or the post can be read in the id.
    for (const part of [author.id, commenter.id, post, author.id.slice(2), commenter.id.slice(2)]) {
      expect(fromCommenter.id).not.toContain(part)
    }
    const ofUsers = (await itemsMentioning(app, fromCommenter.id)).filter((item) => String(item.pk).startsWith('USER#'))
    // Two memberships, and the chat in both users' live sets: written once each.
    expect(ofUsers.map((item) => String(item.sk)).sort()).toEqual([`CHAT#${fromCommenter.id}`, `CHAT#${fromCommenter.id}`, 'LIVE', 'LIVE'])
  })

  it('gives a user a different alias on every post', async () => {
    const aliases = new Set<string>()
    for (let i = 0; i < 4; i++) aliases.add((await start(commenter, await newPost(author))).me.alias)
    expect(aliases.size).toBeGreaterThan(1)
  })

  it('refuses chatting with oneself, unknown posts and comments', async () => {
    expect(errorCode(await request(app.url, StartChatDocument, { postId }, author.token))).toBe('BAD_USER_INPUT')
    const { addComment } = await mustRequest(app.url, AddCommentDocument, { postId, body: 'mine' }, commenter.token)
    expect(errorCode(await request(app.url, StartChatDocument, { postId, commentId: addComment.id }, commenter.token))).toBe('BAD_USER_INPUT')
    expect(errorCode(await request(app.url, StartChatDocument, { postId: '01M8HN0DHB6QEHS3SNE4KHN3QQ' }, commenter.token))).toBe('NOT_FOUND')
    expect(errorCode(await request(app.url, StartChatDocument, { postId, commentId: '01M8HN0DHB6QEHS3SNE4KHN3QQ' }, commenter.token))).toBe('NOT_FOUND')
  })

  it('gives 50 concurrent sends from both sides exactly seqs 1..50, each stored once', async () => {
    const chat = await start(commenter, await newPost(author))
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => send(i % 2 === 0 ? commenter : author, chat.id, `message ${i}`)),
    )
    for (const result of results) expect(result.errors).toBeUndefined()
    const seqs = results.map((result) => result.data!.sendMessage.seq).sort((x, y) => x - y)
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    const stored = [...(await history(author, chat.id, { afterSeq: 0, last: 100 }))!.messages]
    expect(stored.map((m) => m.seq)).toEqual(seqs)
    expect(new Set(stored.map((m) => m.body)).size).toBe(50)
  })

  it('returns the first message for a retried clientMessageId, also for concurrent retries, and stores it once', async () => {
    const chat = await start(commenter, await newPost(author))
    const clientMessageId = randomUUID()
    const attempts = await Promise.all(Array.from({ length: 8 }, () => send(commenter, chat.id, 'only once', clientMessageId)))
    const ids = new Set(attempts.map((attempt) => attempt.data?.sendMessage.id))
    expect(ids.size).toBe(1)
    expect(attempts[0]!.data!.sendMessage).toMatchObject({ seq: 1, clientMessageId, fromMe: true, body: 'only once' })
    const later = await send(commenter, chat.id, 'a different body is ignored', clientMessageId)
    expect(later.data!.sendMessage.seq).toBe(1)
    // The same clientMessageId from the other side is that side's own message.
    expect((await send(author, chat.id, 'reply', clientMessageId)).data!.sendMessage.seq).toBe(2)
    expect((await history(author, chat.id))!.messages.map((m) => m.body)).toEqual(['only once', 'reply'])
  })

  it('keeps a claim its process left uncommitted out of sight, until the next send or its retry commits it', async () => {
    const chat = await start(commenter, await newPost(author))
    expect((await send(commenter, chat.id, 'one')).data!.sendMessage.seq).toBe(1)
    // The author's process dies between the two writes of its send.
    await claimBehindTheServersBack(app, chat.id, author.id, 'lost-answer', 'two')
    expect((await history(commenter, chat.id))!.messages.map((m) => m.seq)).toEqual([1])
    expect((await mustRequest(app.url, ChatDocument, { id: chat.id }, commenter.token)).chat!.lastSeq).toBe(1)

    // The next send, from the other side, commits it first: no gap, nothing lost.
    expect((await send(commenter, chat.id, 'three')).data!.sendMessage.seq).toBe(3)
    expect((await history(author, chat.id))!.messages.map((m) => m.body)).toEqual(['one', 'two', 'three'])
    // The author's retry of that send answers with it.
    expect((await send(author, chat.id, 'two, again', 'lost-answer')).data!.sendMessage).toMatchObject({ seq: 2, body: 'two', fromMe: true })

    // A claim that its own retry finds: committed and answered once.
    await claimBehindTheServersBack(app, chat.id, author.id, 'retried', 'four')
    const retries = await Promise.all([send(author, chat.id, 'four', 'retried'), send(author, chat.id, 'four', 'retried')])
    expect(retries.map((retry) => retry.data!.sendMessage.seq)).toEqual([4, 4])
    expect((await history(commenter, chat.id))!.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4])
  })

  it('pages history either way in seq order', async () => {
    const chat = await start(commenter, await newPost(author))
    for (let i = 1; i <= 7; i++) await send(i % 2 ? commenter : author, chat.id, `m${i}`)
    const seqs = async (args: { afterSeq?: number; beforeSeq?: number; last?: number }) =>
      (await history(author, chat.id, args))!.messages.map((m) => m.seq)
    expect(await seqs({})).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(await seqs({ last: 3 })).toEqual([5, 6, 7])
    expect(await seqs({ afterSeq: 2, last: 3 })).toEqual([3, 4, 5])
    expect(await seqs({ beforeSeq: 5, last: 2 })).toEqual([3, 4])
    expect(await seqs({ afterSeq: 2, beforeSeq: 5 })).toEqual([3, 4])
    expect(await seqs({ afterSeq: 7 })).toEqual([])
    const asAuthor = (await history(author, chat.id, { last: 2 }))!.messages
    expect(asAuthor.map((m) => [m.seq, m.fromMe])).toEqual([[6, true], [7, false]])
    for (const args of [{ last: 0 }, { last: 101 }, { afterSeq: -1 }]) {
      expect(errorCode(await request(app.url, ChatHistoryDocument, { id: chat.id, ...args }, author.token))).toBe('BAD_USER_INPUT')
    }
  })

  it('validates messages: empty, too long, no body, unknown photo, bad clientMessageId', async () => {
    const chat = await start(commenter, await newPost(author))
    expect(errorCode(await send(commenter, chat.id, ''))).toBe('BAD_USER_INPUT')
    expect(errorCode(await send(commenter, chat.id, 'x'.repeat(4001)))).toBe('BAD_USER_INPUT')
    expect((await send(commenter, chat.id, 'x'.repeat(4000))).errors).toBeUndefined()
    expect(errorCode(await request(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: 'c1' }, commenter.token))).toBe('BAD_USER_INPUT')
    expect(errorCode(await request(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: 'c2', photoId: 'nope' }, commenter.token))).toBe('NOT_FOUND')
    expect(errorCode(await send(commenter, chat.id, 'hi', ' '))).toBe('BAD_USER_INPUT')
    expect(errorCode(await send(commenter, 'no-such-chat', 'hi'))).toBe('NOT_FOUND')
    expect((await history(commenter, chat.id))!.lastSeq).toBe(1)
  })

  it('tracks unread counts, read marks (never back) and delivery marks', async () => {
    const chat = await start(commenter, await newPost(author))
    for (const body of ['one', 'two', 'three']) await send(commenter, chat.id, body)
    const authorView = async () => (await mustRequest(app.url, ChatDocument, { id: chat.id }, author.token)).chat!
    const commenterView = async () => (await mustRequest(app.url, ChatDocument, { id: chat.id }, commenter.token)).chat!
    expect((await authorView()).unreadCount).toBe(3)
    expect((await commenterView()).unreadCount).toBe(0)
    expect((await commenterView()).peerDeliveredSeq).toBe(0)

    await history(author, chat.id, { afterSeq: 0, last: 2 })
    expect((await commenterView()).peerDeliveredSeq).toBe(2)

    const marked = await mustRequest(app.url, MarkReadDocument, { chatId: chat.id, seq: 2 }, author.token)
    expect(marked.markRead.unreadCount).toBe(1)
    expect((await commenterView()).peerReadSeq).toBe(2)
    await mustRequest(app.url, MarkReadDocument, { chatId: chat.id, seq: 1 }, author.token)
    expect((await commenterView()).peerReadSeq).toBe(2)
    expect(errorCode(await request(app.url, MarkReadDocument, { chatId: chat.id, seq: 4 }, author.token))).toBe('BAD_USER_INPUT')
    expect(errorCode(await request(app.url, MarkReadDocument, { chatId: chat.id, seq: -1 }, author.token))).toBe('BAD_USER_INPUT')

    await send(author, chat.id, 'replying reads everything before')
    expect((await authorView()).unreadCount).toBe(0)
    expect((await commenterView()).unreadCount).toBe(1)
  })

  it('shows a chat only to its two participants: null or NOT_FOUND for anyone else, as for no chat', async () => {
    const stranger = await signUp(app.url)
    const chat = await start(commenter, await newPost(author))
    const missing = await request(app.url, ChatDocument, { id: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA' }, stranger.token)
    const notMine = await request(app.url, ChatDocument, { id: chat.id }, stranger.token)
    expect(notMine.data?.chat).toBeNull()
    expect(notMine.raw.replace(chat.id, 'X')).toBe(missing.raw.replace('AAAAAAAAAAAAAAAAAAAAAAAAAAA', 'X'))
    for (const response of [
      await send(stranger, chat.id, 'hi'),
      await request(app.url, MarkReadDocument, { chatId: chat.id, seq: 0 }, stranger.token),
      await request(app.url, LeaveChatDocument, { chatId: chat.id }, stranger.token),
      await request(app.url, BlockChatDocument, { chatId: chat.id }, stranger.token),
    ]) {
      expect(errorCode(response)).toBe('NOT_FOUND')
    }
    expect((await mustRequest(app.url, ChatsDocument, {}, stranger.token)).chats).toEqual([])
  })

  it('lists chats most recently active first', async () => {
    const user = await signUp(app.url)
    const first = await start(user, await newPost(author))
    const second = await start(user, await newPost(commenter))
    const third = await start(user, await newPost(author))
    await send(author, first.id, 'bump')
    const { chats } = await mustRequest(app.url, ChatsDocument, {}, user.token)
    expect(chats.map((chat) => chat.id)).toEqual([first.id, third.id, second.id])
    expect((await mustRequest(app.url, ChatsDocument, { first: 1 }, user.token)).chats.map((c) => c.id)).toEqual([first.id])
  })

  it('closes on leave (CHAT_CLOSED after) and on block', async () => {
    const chat = await start(commenter, await newPost(author))
    await send(commenter, chat.id, 'bye')
    const left = await mustRequest(app.url, LeaveChatDocument, { chatId: chat.id }, author.token)
    expect(left.leaveChat.status).toBe('LEFT')
    expect((await mustRequest(app.url, ChatDocument, { id: chat.id }, commenter.token)).chat?.status).toBe('LEFT')
    expect(errorCode(await send(commenter, chat.id, 'wait'))).toBe('CHAT_CLOSED')
    expect((await history(commenter, chat.id))!.messages.map((m) => m.body)).toEqual(['bye'])

    const troll = await signUp(app.url)
    const post = await newPost(author)
    const trolled = await start(troll, post)
    expect((await mustRequest(app.url, BlockChatDocument, { chatId: trolled.id, reason: 'rude' }, author.token)).blockChat).toBe(true)
    expect((await mustRequest(app.url, ChatDocument, { id: trolled.id }, troll.token)).chat?.status).toBe('BLOCKED')
    expect(errorCode(await send(troll, trolled.id, 'hey'))).toBe('CHAT_CLOSED')
    expect(errorCode(await send(author, trolled.id, 'hey'))).toBe('CHAT_CLOSED')
    const reports = (await itemsMentioning(app, trolled.id)).filter((item) => item.pk === 'REPORTS')
    expect(reports).toHaveLength(1)
    expect(reports[0]).toMatchObject({ reason: 'rude', postId: post })
  })

  it('bars the blocked side from reaching the blocker without ever telling it: its new chat reaches nobody', async () => {
    const troll = await signUp(app.url)
    const trolled = await start(troll, await newPost(author))
    await mustRequest(app.url, BlockChatDocument, { chatId: trolled.id }, author.token)
    // On another post of the blocker, the troll gets a chat like any other, and may send in it…
    const hidden = await start(troll, await newPost(author))
    expect(hidden).toMatchObject({ status: 'ACTIVE', lastSeq: 0, peer: { role: 'AUTHOR' } })
    expect((await send(troll, hidden.id, 'are you there?')).data?.sendMessage.seq).toBe(1)
    expect((await start(troll, hidden.post.id)).id).toBe(hidden.id)
    // … but the blocker never sees it: not by id, not in the list, not to send in.
    expect((await mustRequest(app.url, ChatDocument, { id: hidden.id }, author.token)).chat).toBeNull()
    expect((await mustRequest(app.url, ChatsDocument, {}, author.token)).chats.map((c) => c.id)).not.toContain(hidden.id)
    expect(errorCode(await send(author, hidden.id, 'hm'))).toBe('NOT_FOUND')
    // The block is one way: the blocker may still reach the troll, through a chat of its own.
    const reached = await start(author, hidden.post.id, (await mustRequest(app.url, AddCommentDocument, { postId: hidden.post.id, body: 'x' }, troll.token)).addComment.id)
    expect(reached.id).not.toBe(hidden.id)
    expect((await send(author, reached.id, 'hello')).data?.sendMessage.seq).toBe(1)
    expect((await mustRequest(app.url, ChatsDocument, {}, troll.token)).chats.map((c) => c.id)).toEqual(expect.arrayContaining([reached.id, hidden.id]))
  })
})

describe('chat limit', () => {
  it('answers CHAT_LIMIT for the live chat past the limit', async () => {
    const app = await startTestApp({ MAX_LIVE_CHATS: '3' })
    try {
      const [owner, user] = [await signUp(app.url), await signUp(app.url)]
      const posts: string[] = []
      for (let i = 0; i < 4; i++) posts.push((await mustRequest(app.url, CreatePostDocument, { body: `p${i}` }, owner.token)).createPost.id)
      for (const post of posts.slice(0, 3)) await mustRequest(app.url, StartChatDocument, { postId: post }, user.token)
      // An existing chat is still returned; only a new one counts against the limit.
      expect((await request(app.url, StartChatDocument, { postId: posts[0]! }, user.token)).errors).toBeUndefined()
      expect(errorCode(await request(app.url, StartChatDocument, { postId: posts[3]! }, user.token))).toBe('CHAT_LIMIT')
    } finally {
      await app.stop()
    }
  })
})

describe('live-chat limit for both sides', () => {
  it('gives exactly the limit to 10 concurrent starts', async () => {
    const app = await startTestApp({ MAX_LIVE_CHATS: '3' })
    try {
      const user = await signUp(app.url)
      const authors = await Promise.all(Array.from({ length: 10 }, () => signUp(app.url)))
      const posts = await Promise.all(authors.map(async (author) => (await mustRequest(app.url, CreatePostDocument, { body: 'p' }, author.token)).createPost.id))
      const starts = await Promise.all(posts.map((postId) => request(app.url, StartChatDocument, { postId }, user.token)))
      expect(starts.filter((start) => start.errors === undefined)).toHaveLength(3)
      expect(starts.filter((start) => errorCode(start) === 'CHAT_LIMIT')).toHaveLength(7)
      expect((await mustRequest(app.url, ChatsDocument, {}, user.token)).chats).toHaveLength(3)
    } finally {
      await app.stop()
    }
  })

  it('never lets strangers push a user over it, and counts only open chats', async () => {
    const app = await startTestApp({ MAX_LIVE_CHATS: '3' })
    try {
      const victim = await signUp(app.url)
      const strangers = await Promise.all(Array.from({ length: 5 }, () => signUp(app.url)))
      const post = (await mustRequest(app.url, CreatePostDocument, { body: 'popular' }, victim.token)).createPost.id
      const starts = []
      for (const stranger of strangers) starts.push(await mustRequest(app.url, StartChatDocument, { postId: post }, stranger.token))
      // Past the victim's limit a start answers like any other (a refusal would tell strangers which
      // posts are the victim's), but the chat is hidden from the victim.
      expect(starts.map((start) => start.startChat.status)).toEqual(Array(5).fill('ACTIVE'))
      const visible = async () => (await mustRequest(app.url, ChatsDocument, {}, victim.token)).chats.map((chat) => chat.id)
      expect((await visible()).sort()).toEqual(starts.slice(0, 3).map((start) => start.startChat.id).sort())
      // The victim is at the limit too, by chats others started.
      const elsewhere = (await mustRequest(app.url, CreatePostDocument, { body: 'elsewhere' }, strangers[4]!.token)).createPost.id
      expect(errorCode(await request(app.url, StartChatDocument, { postId: elsewhere }, victim.token))).toBe('CHAT_LIMIT')
      // A chat the victim leaves no longer counts (though it stays visible until it expires).
      await mustRequest(app.url, LeaveChatDocument, { chatId: starts[0]!.startChat.id }, victim.token)
      expect((await request(app.url, StartChatDocument, { postId: elsewhere }, victim.token)).errors).toBeUndefined()
      expect(await visible()).toHaveLength(4)
    } finally {
      await app.stop()
    }
  })

  it('lets chats that expired go from the count when the limit is reached', async () => {
    const app = await startTestApp({ MAX_LIVE_CHATS: '2', CHAT_TTL_SECONDS: '2' })
    try {
      const user = await signUp(app.url)
      const authors = await Promise.all(Array.from({ length: 3 }, () => signUp(app.url)))
      const posts = await Promise.all(authors.map(async (author) => (await mustRequest(app.url, CreatePostDocument, { body: 'p' }, author.token)).createPost.id))
      for (const postId of posts.slice(0, 2)) await mustRequest(app.url, StartChatDocument, { postId }, user.token)
      expect(errorCode(await request(app.url, StartChatDocument, { postId: posts[2]! }, user.token))).toBe('CHAT_LIMIT')
      await new Promise((resolve) => setTimeout(resolve, 2_500))
      expect((await request(app.url, StartChatDocument, { postId: posts[2]! }, user.token)).errors).toBeUndefined()
    } finally {
      await app.stop()
    }
  })
})
