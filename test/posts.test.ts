import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AddCommentDocument, CreatePostDocument, FeedDocument, PostDocument } from './generated/graphql.js'
import { startTestApp, type TestApp } from './support/app.js'
import { errorCode, mustRequest, request, signUp, type TestUser } from './support/client.js'

describe('posts and comments', () => {
  let app: TestApp
  let alice: TestUser
  let bob: TestUser
  beforeAll(async () => {
    app = await startTestApp()
    alice = await signUp(app.url)
    bob = await signUp(app.url)
  })
  afterAll(() => app.stop())

  it('creates a post that everyone can read and only its author sees as theirs', async () => {
    const { createPost } = await mustRequest(app.url, CreatePostDocument, { body: 'I never told anyone' }, alice.token)
    expect(createPost).toMatchObject({ body: 'I never told anyone', isMine: true })
    expect(Date.parse(createPost.createdAt)).toBeGreaterThan(Date.now() - 60_000)
    const asBob = await request(app.url, PostDocument, { id: createPost.id }, bob.token)
    expect(asBob.data?.post).toMatchObject({ id: createPost.id, body: 'I never told anyone', isMine: false, comments: [] })
    expect(asBob.raw).not.toContain(alice.id)
    expect(asBob.raw).not.toContain(alice.token)
  })

  it('adds comments in order, each anonymous, isMine only for its writer', async () => {
    const { createPost } = await mustRequest(app.url, CreatePostDocument, { body: 'post' }, alice.token)
    const first = await mustRequest(app.url, AddCommentDocument, { postId: createPost.id, body: 'first' }, bob.token)
    const second = await mustRequest(app.url, AddCommentDocument, { postId: createPost.id, body: 'second' }, alice.token)
    expect(first.addComment).toMatchObject({ postId: createPost.id, body: 'first', isMine: true })
    const asAlice = await request(app.url, PostDocument, { id: createPost.id }, alice.token)
    expect(asAlice.data?.post?.comments.map((c) => [c.id, c.body, c.isMine])).toEqual([
      [first.addComment.id, 'first', false],
      [second.addComment.id, 'second', true],
    ])
    expect(asAlice.raw).not.toContain(bob.id)
  })

  it('pages the feed newest first with cursors', async () => {
    const feedApp = await startTestApp()
    try {
      const user = await signUp(feedApp.url)
      const bodies = ['p1', 'p2', 'p3', 'p4', 'p5']
      for (const body of bodies) await mustRequest(feedApp.url, CreatePostDocument, { body }, user.token)
      const seen: string[] = []
      let after: string | null | undefined
      let pages = 0
      for (;;) {
        const { feed } = await mustRequest(feedApp.url, FeedDocument, { first: 2, after }, user.token)
        seen.push(...feed.edges.map((edge) => edge.node.body))
        pages++
        if (!feed.pageInfo.hasNextPage) break
        expect(feed.pageInfo.endCursor).toBe(feed.edges.at(-1)?.cursor)
        after = feed.pageInfo.endCursor
      }
      expect(seen).toEqual(['p5', 'p4', 'p3', 'p2', 'p1'])
      expect(pages).toBe(3)
      const empty = await mustRequest(feedApp.url, FeedDocument, { first: 2, after: after ?? null }, user.token)
      expect(empty.feed.edges.length).toBeLessThanOrEqual(1)
    } finally {
      await feedApp.stop()
    }
  })

  it('enforces body lengths of 1 to 2,000 characters (counting an emoji once)', async () => {
    const ok = await request(app.url, CreatePostDocument, { body: '😀'.repeat(2000) }, alice.token)
    expect(ok.errors).toBeUndefined()
    for (const body of ['', '   ', 'x'.repeat(2001)]) {
      const response = await request(app.url, CreatePostDocument, { body }, alice.token)
      expect(errorCode(response)).toBe('BAD_USER_INPUT')
    }
    const { createPost } = await mustRequest(app.url, CreatePostDocument, { body: 'x' }, alice.token)
    const tooLong = await request(app.url, AddCommentDocument, { postId: createPost.id, body: 'y'.repeat(2001) }, bob.token)
    expect(errorCode(tooLong)).toBe('BAD_USER_INPUT')
  })

  it('answers null for an unknown post, NOT_FOUND for a comment on one, BAD_USER_INPUT for a bad cursor or page size', async () => {
    expect((await request(app.url, PostDocument, { id: '01M8HN0DHB6QEHS3SNE4KHN3QQ' }, bob.token)).data?.post).toBeNull()
    expect((await request(app.url, PostDocument, { id: 'not-an-id' }, bob.token)).data?.post).toBeNull()
    const comment = await request(app.url, AddCommentDocument, { postId: 'nope', body: 'hi' }, bob.token)
    expect(errorCode(comment)).toBe('NOT_FOUND')
    expect(errorCode(await request(app.url, FeedDocument, { after: 'bogus' }, bob.token))).toBe('BAD_USER_INPUT')
    expect(errorCode(await request(app.url, FeedDocument, { first: 0 }, bob.token))).toBe('BAD_USER_INPUT')
    expect(errorCode(await request(app.url, FeedDocument, { first: 101 }, bob.token))).toBe('BAD_USER_INPUT')
  })

  it('requires a token for every read and write', async () => {
    expect(errorCode(await request(app.url, CreatePostDocument, { body: 'x' }))).toBe('UNAUTHENTICATED')
    expect(errorCode(await request(app.url, FeedDocument, {}))).toBe('UNAUTHENTICATED')
    expect(errorCode(await request(app.url, PostDocument, { id: 'x' }))).toBe('UNAUTHENTICATED')
    expect(errorCode(await request(app.url, AddCommentDocument, { postId: 'x', body: 'x' }))).toBe('UNAUTHENTICATED')
  })
})
