import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newUlid } from '../src/domain/ids.js'
import type { PostRecord } from '../src/domain/ports.js'
import { createDynamoClients } from '../src/infra/dynamodb/client.js'
import { createEntities } from '../src/infra/dynamodb/entities.js'
import { FEED_HEAD_MAX_AGE_MS } from '../src/infra/dynamodb/feed-head.js'
import { FEED_SHARDS, feedShardOf, shardLabel } from '../src/infra/dynamodb/feed-shards.js'
import { DynamoPostStore } from '../src/infra/dynamodb/post-store.js'
import { createHushTable } from '../src/infra/dynamodb/table.js'
import { AddCommentDocument, CreatePostDocument, FeedDocument, PostDocument } from './generated/graphql.js'
import { startTestApp, type TestApp } from './support/app.js'
import { errorCode, mustRequest, request, signUp, type TestUser } from './support/client.js'
import { itemsMentioning } from './support/dynamo.js'

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

  describe('the feed across its shards', () => {
    let feedApp: TestApp
    let author: TestUser
    let store: ReturnType<typeof postStoreOf>
    /** Every post of this app's table, newest first (what the feed must give, page after page). */
    const everyPost: string[] = []
    beforeAll(async () => {
      feedApp = await startTestApp()
      author = await signUp(feedApp.url)
      store = postStoreOf(feedApp)
      // Two posts on each shard, written straight through the store with ids chosen by their shard
      // (GraphQL posts land where their random ids say, so 64 of them would miss some shard), then
      // the 10 newest all on one shard, more than a page's first read of a shard asks for.
      const posts = [...postsOnEveryShard(author.id, 2), ...postsOnShards(author.id, new Array<number>(10).fill(5))]
      await Promise.all(posts.map((post) => store.posts.createPost(post)))
      everyPost.push(...posts.map((post) => post.postId).sort().reverse())
    })
    afterAll(async () => {
      store.close()
      await feedApp.stop()
    })

    it('stores every post in the shard its id names, and every shard holds posts', async () => {
      const stored = await itemsMentioning(feedApp, '"pk":"FEED#')
      expect(stored.map((item) => item.sk).sort()).toEqual(everyPost.map((id) => `POST#${id}`).sort())
      for (const item of stored) expect(item.pk).toBe(`FEED#${feedShardOf(String(item.sk).slice('POST#'.length))}`)
      const shards = new Set(stored.map((item) => item.pk))
      expect([...shards].sort()).toEqual(Array.from({ length: FEED_SHARDS }, (_, k) => `FEED#${shardLabel(k)}`))
    })

    it('pages newest first, each post exactly once, with pages of 1, 2 and 7', async () => {
      for (const size of [1, 2, 7]) expect(await pageThroughFeed(feedApp, author, size)).toEqual(everyPost)
    })

    it('neither skips nor repeats a post when posts are created between pages', async () => {
      const before = [...everyPost]
      const created: string[] = []
      const seen = await pageThroughFeed(feedApp, author, 7, async () => {
        // One through the API, one on the next shard in turn: both newer than every page read.
        const { createPost } = await mustRequest(feedApp.url, CreatePostDocument, { body: 'meanwhile' }, author.token)
        const [direct] = postsOnShards(author.id, [created.length % FEED_SHARDS])
        await store.posts.createPost(direct!)
        created.push(createPost.id, direct!.postId)
      })
      expect(seen).toEqual(before)
      everyPost.unshift(...created.sort().reverse())
      // First pages come from a head each process keeps for a second, and half of these posts were
      // written by another store: they show within that second.
      const firstPage = async () => (await mustRequest(feedApp.url, FeedDocument, { first: created.length }, author.token)).feed.edges.map((edge) => edge.node.id)
      await expect.poll(firstPage, { timeout: FEED_HEAD_MAX_AGE_MS + 2000, interval: 100 }).toEqual(created)
    })

    it('keeps comments in the partition of their post, whatever the shard of the post', async () => {
      const [postId] = everyPost.slice(-1)
      const first = await mustRequest(feedApp.url, AddCommentDocument, { postId: postId!, body: 'c1' }, author.token)
      const second = await mustRequest(feedApp.url, AddCommentDocument, { postId: postId!, body: 'c2' }, author.token)
      const stored = await itemsMentioning(feedApp, first.addComment.id)
      expect(stored.map((item) => [item.pk, item.sk])).toEqual([[`POST#${postId}`, `COMMENT#${first.addComment.id}`]])
      const post = await mustRequest(feedApp.url, PostDocument, { id: postId! }, author.token)
      expect(post.post?.comments.map((comment) => comment.id)).toEqual([first.addComment.id, second.addComment.id])
    })
  })
})

/** All of the feed's post ids, `size` a page, running `between` before every page after the first. */
async function pageThroughFeed(app: TestApp, user: TestUser, size: number, between: () => Promise<void> = async () => {}): Promise<string[]> {
  const seen: string[] = []
  let after: string | null | undefined
  for (let page = 0; ; page++) {
    if (page > 0) await between()
    const { feed } = await mustRequest(app.url, FeedDocument, { first: size, after }, user.token)
    seen.push(...feed.edges.map((edge) => edge.node.id))
    if (!feed.pageInfo.hasNextPage) return seen
    expect(feed.edges).toHaveLength(size)
    after = feed.pageInfo.endCursor
  }
}

/** `perShard` new posts on every shard. */
function postsOnEveryShard(authorId: string, perShard: number): PostRecord[] {
  return postsOnShards(authorId, Array.from({ length: FEED_SHARDS * perShard }, (_, n) => n % FEED_SHARDS))
}

/** New posts (server-made ids, drawn until they fall on the wanted shards), one per entry. */
function postsOnShards(authorId: string, shards: number[]): PostRecord[] {
  const wanted = shards.map(shardLabel)
  const posts: PostRecord[] = []
  while (wanted.length > 0) {
    const now = Date.now()
    const postId = newUlid(now)
    const at = wanted.indexOf(feedShardOf(postId))
    if (at === -1) continue
    wanted.splice(at, 1)
    posts.push({ postId, authorId, body: `post ${posts.length}`, createdAt: now })
  }
  return posts
}

/** The app's own post store, on its table, for writing posts where a test wants them. */
function postStoreOf(app: TestApp) {
  const { documentClient, client, streamsClient } = createDynamoClients(app.dynamodbEndpoint, app.config.dynamodb.region)
  const posts = new DynamoPostStore(createEntities(createHushTable(documentClient, app.config.dynamodb.table)))
  return {
    posts,
    close: () => {
      client.destroy()
      streamsClient.destroy()
    },
  }
}
