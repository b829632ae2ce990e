import { AccessPattern } from 'dynamodb-toolbox/entity/actions/accessPattern'
import { GetItemCommand } from 'dynamodb-toolbox/entity/actions/get'
import { PutItemCommand } from 'dynamodb-toolbox/entity/actions/put'
import { item } from 'dynamodb-toolbox/schema/item'
import { string } from 'dynamodb-toolbox/schema/string'
import type { CommentRecord, Page, PostRecord, PostStore } from '../../domain/ports.js'
import { keyOf, type HushEntities } from './entities.js'

export class DynamoPostStore implements PostStore {
  /** Named access patterns: the feed (newest first) and a post's comments (oldest first). */
  private readonly patterns

  constructor(private readonly entities: HushEntities) {
    this.patterns = {
      feed: new AccessPattern(entities.Post)
        .schema(item({ before: string().optional() }))
        .pattern(({ before }) => {
          const first = keyOf(entities.Post, { postId: '' })
          return {
            partition: first.pk,
            // Every item of the FEED partition is a post, so "before this post" is a plain lt.
            range: before === undefined ? { beginsWith: first.sk } : { lt: keyOf(entities.Post, { postId: before }).sk },
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
  }

  async getPost(postId: string): Promise<PostRecord | undefined> {
    const { Item } = await this.entities.Post.build(GetItemCommand).key({ postId }).send()
    return Item && { postId: Item.postId, authorId: Item.authorId, body: Item.body, createdAt: Item.createdAt }
  }

  async feed(limit: number, after: string | undefined): Promise<Page<PostRecord>> {
    // One more than asked tells whether another page follows without a second round trip.
    const { Items = [] } = await this.patterns.feed
      .query({ before: after })
      .options({ reverse: true, limit: limit + 1 })
      .send()
    const items = Items.slice(0, limit).map((post) => ({
      postId: post.postId,
      authorId: post.authorId,
      body: post.body,
      createdAt: post.createdAt,
    }))
    return { items, nextAfter: Items.length > limit ? items.at(-1)?.postId : undefined }
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
