import { AccessPattern } from 'dynamodb-toolbox/entity/actions/accessPattern'
import { GetItemCommand } from 'dynamodb-toolbox/entity/actions/get'
import { PutItemCommand } from 'dynamodb-toolbox/entity/actions/put'
import { item } from 'dynamodb-toolbox/schema/item'
import { string } from 'dynamodb-toolbox/schema/string'
import type { CommentRecord, Page, PostRecord, PostStore } from '../../domain/ports.js'
import { keyOf, type HushEntities } from './entities.js'
import { FEED_HEAD_SIZE, FeedHead } from './feed-head.js'
import { FEED_SHARDS, newestAcrossShards, shardLabel, type ShardBatch } from './feed-shards.js'

export class DynamoPostStore implements PostStore {
  /** Named access patterns: one shard of the feed (newest first) and a post's comments (oldest first). */
  private readonly patterns
  /** First pages come from here: one merged read per process per second (feed-head.ts). */
  private readonly head: FeedHead<PostRecord>

  constructor(
    private readonly entities: HushEntities,
    now: () => number = Date.now,
  ) {
    this.head = new FeedHead(
      async (size) => {
        const page = await this.readFeed(size, undefined)
        return { items: page.items, more: page.nextAfter !== undefined }
      },
      (post) => post.postId,
      now,
    )
    this.patterns = {
      feedShard: new AccessPattern(entities.Post)
        .schema(item({ feedShard: string(), before: string().optional() }))
        .pattern(({ feedShard, before }) => {
          const first = keyOf(entities.Post, { feedShard, postId: '' })
          return {
            partition: first.pk,
            // Every item of a FEED# partition is a post, so "before this post" is a plain lt.
            range: before === undefined ? { beginsWith: first.sk } : { lt: keyOf(entities.Post, { feedShard, postId: before }).sk },
          }
        }),
      commentsOfPost: new AccessPattern(entities.Comment)
        .schema(item({ postId: string(), after: string().optional() }))
        .pattern(({ postId, after }) => {
          const first = keyOf(entities.Comment, { postId, commentId: '' })
          // The post's partition holds its comments only, so "after this comment" is a plain gt.
          return {
            partition: first.pk,
            range: after === undefined ? { beginsWith: first.sk } : { gt: keyOf(entities.Comment, { postId, commentId: after }).sk },
          }
        }),
    }
  }

  async createPost(post: PostRecord): Promise<void> {
    await this.entities.Post.build(PutItemCommand)
      .item(post)
      .options({ condition: { attr: 'postId', exists: false } })
      .send()
    this.head.added(post)
  }

  async getPost(postId: string): Promise<PostRecord | undefined> {
    const { Item } = await this.entities.Post.build(GetItemCommand).key({ postId }).send()
    return Item && { postId: Item.postId, authorId: Item.authorId, body: Item.body, createdAt: Item.createdAt }
  }

  /**
   * Newest first across the feed's shards (feed-shards.ts): a page of n reads every shard once
   * with a limit of its share of n + 1 plus 2, then reads further only the few shards that may hold
   * more of the page (docs/data-model.md gives the cost). First pages come from the head.
   */
  async feed(limit: number, after: string | undefined): Promise<Page<PostRecord>> {
    if (after !== undefined || limit > FEED_HEAD_SIZE) return this.readFeed(limit, after)
    const { items, more } = await this.head.firstPage(limit)
    return { items, nextAfter: more ? items.at(-1)?.postId : undefined }
  }

  private async readFeed(limit: number, after: string | undefined): Promise<Page<PostRecord>> {
    const page = await newestAcrossShards<PostRecord>(FEED_SHARDS, limit, after, (post) => post.postId, (shard, before, count) =>
      this.readShard(shard, before, count),
    )
    return { items: page.items, nextAfter: page.nextAfter }
  }

  private async readShard(shard: number, before: string | undefined, limit: number): Promise<ShardBatch<PostRecord>> {
    const { Items = [], LastEvaluatedKey } = await this.patterns.feedShard
      .query({ feedShard: shardLabel(shard), before })
      .options({ reverse: true, limit })
      .send()
    const items = Items.map((post) => ({ postId: post.postId, authorId: post.authorId, body: post.body, createdAt: post.createdAt }))
    return { items, more: LastEvaluatedKey !== undefined }
  }

  async addComment(comment: CommentRecord): Promise<void> {
    await this.entities.Comment.build(PutItemCommand)
      .item(comment)
      .options({ condition: { attr: 'commentId', exists: false } })
      .send()
  }

  async getComment(postId: string, commentId: string): Promise<CommentRecord | undefined> {
    const { Item } = await this.entities.Comment.build(GetItemCommand).key({ postId, commentId }).send()
    return Item && toComment(Item)
  }

  async listComments(postId: string, limit: number, after: string | undefined): Promise<CommentRecord[]> {
    const { Items = [] } = await this.patterns.commentsOfPost.query({ postId, after }).options({ limit }).send()
    return Items.map(toComment)
  }
}

function toComment(item: CommentRecord): CommentRecord {
  return { commentId: item.commentId, postId: item.postId, authorId: item.authorId, body: item.body, createdAt: item.createdAt }
}
