import { aliasFor } from './aliases.js'
import { badInput, notFound } from './errors.js'
import { isUlid, newUlid } from './ids.js'
import type { Clock, CommentRecord, PostRecord, PostStore, Viewer } from './ports.js'
import type { RateLimits } from './rate-limits.js'
import { validateBody, validatePageSize } from './text.js'

/** A post as any user sees it: the author is reduced to `isMine`. */
export interface PostView {
  id: string
  body: string
  createdAt: Date
  isMine: boolean
  /** For the service's own follow-up reads (its comments); never exposed by the schema. */
  readonly internal: { authorId: string }
}

/**
 * A comment as any user sees it. Who wrote it is shown the same way to everyone, and only within
 * its post: an alias that is the same for all of one user's comments on the post and unrelated
 * across posts, and whether it is the post's author. (Chats are per two users and post, so
 * starting a chat from two comments would otherwise be the only way to learn this.)
 */
export interface CommentView {
  id: string
  postId: string
  body: string
  createdAt: Date
  isMine: boolean
  authorAlias: string
  byPostAuthor: boolean
}

export interface FeedPage {
  posts: PostView[]
  hasNextPage: boolean
}

const FEED_PAGE_DEFAULT = 20
const FEED_PAGE_MAX = 100
const COMMENTS_PAGE_DEFAULT = 50
const COMMENTS_PAGE_MAX = 100

export function toPostView(viewer: Viewer, post: PostRecord): PostView {
  return { id: post.postId, body: post.body, createdAt: new Date(post.createdAt), isMine: post.authorId === viewer.userId, internal: { authorId: post.authorId } }
}

export class PostService {
  constructor(private readonly deps: { posts: PostStore; clock: Clock; limits: RateLimits; maxBodyLength: number; idSecret: string }) {}

  async createPost(viewer: Viewer, body: string): Promise<PostView> {
    validateBody('body', body, this.deps.maxBodyLength)
    await this.deps.limits.take('createPost', viewer.userId)
    const now = this.deps.clock.now()
    const post: PostRecord = { postId: newUlid(now), authorId: viewer.userId, body, createdAt: now }
    await this.deps.posts.createPost(post)
    return toPostView(viewer, post)
  }

  async addComment(viewer: Viewer, postId: string, body: string): Promise<CommentView> {
    validateBody('body', body, this.deps.maxBodyLength)
    const post = await this.requirePost(postId)
    await this.deps.limits.take('addComment', viewer.userId)
    const now = this.deps.clock.now()
    const comment: CommentRecord = { commentId: newUlid(now), postId, authorId: viewer.userId, body, createdAt: now }
    await this.deps.posts.addComment(comment)
    return this.toCommentView(viewer, post.authorId, comment)
  }

  async post(viewer: Viewer, postId: string): Promise<PostView | null> {
    if (!isUlid(postId)) return null
    const post = await this.deps.posts.getPost(postId)
    return post ? toPostView(viewer, post) : null
  }

  /** The post record, for other domain services; NOT_FOUND when it does not exist. */
  async requirePost(postId: string): Promise<PostRecord> {
    const post = isUlid(postId) ? await this.deps.posts.getPost(postId) : undefined
    if (!post) throw notFound('Post')
    return post
  }

  async requireComment(postId: string, commentId: string): Promise<CommentRecord> {
    const comment = isUlid(commentId) ? await this.deps.posts.getComment(postId, commentId) : undefined
    if (!comment) throw notFound('Comment')
    return comment
  }

  /** A post's comments, oldest first, `first` at a time after the comment `after`. */
  async comments(viewer: Viewer, post: PostView, first: number | null | undefined, after: string | null | undefined): Promise<CommentView[]> {
    const limit = validatePageSize('first', first, COMMENTS_PAGE_DEFAULT, COMMENTS_PAGE_MAX)
    if (after !== null && after !== undefined && !isUlid(after)) throw badInput('after is not a comment of this post.')
    const comments = await this.deps.posts.listComments(post.id, limit, after ?? undefined)
    return comments.map((comment) => this.toCommentView(viewer, post.internal.authorId, comment))
  }

  /** Newest first. The cursor is the id of the last post of the previous page. */
  async feed(viewer: Viewer, first: number | null | undefined, after: string | null | undefined): Promise<FeedPage> {
    const limit = validatePageSize('first', first, FEED_PAGE_DEFAULT, FEED_PAGE_MAX)
    if (after !== null && after !== undefined && !isUlid(after)) throw badInput('after is not a cursor of this feed.')
    const page = await this.deps.posts.feed(limit, after ?? undefined)
    return { posts: page.items.map((post) => toPostView(viewer, post)), hasNextPage: page.nextAfter !== undefined }
  }

  private toCommentView(viewer: Viewer, postAuthorId: string, comment: CommentRecord): CommentView {
    return {
      id: comment.commentId,
      postId: comment.postId,
      body: comment.body,
      createdAt: new Date(comment.createdAt),
      isMine: comment.authorId === viewer.userId,
      authorAlias: aliasFor(this.deps.idSecret, `post ${comment.postId}`, comment.authorId),
      byPostAuthor: comment.authorId === postAuthorId,
    }
  }
}
