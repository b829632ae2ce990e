import { badInput, notFound } from './errors.js'
import { isUlid, newUlid } from './ids.js'
import type { Clock, CommentRecord, PostRecord, PostStore, Viewer } from './ports.js'
import { validateBody, validatePageSize } from './text.js'

/** A post as any user sees it: the author is reduced to `isMine`. */
export interface PostView {
  id: string
  body: string
  createdAt: Date
  isMine: boolean
}

export interface CommentView {
  id: string
  postId: string
  body: string
  createdAt: Date
  isMine: boolean
}

export interface FeedPage {
  posts: PostView[]
  hasNextPage: boolean
}

const FEED_PAGE_DEFAULT = 20
const FEED_PAGE_MAX = 100

export function toPostView(viewer: Viewer, post: PostRecord): PostView {
  return { id: post.postId, body: post.body, createdAt: new Date(post.createdAt), isMine: post.authorId === viewer.userId }
}

function toCommentView(viewer: Viewer, comment: CommentRecord): CommentView {
  return {
    id: comment.commentId,
    postId: comment.postId,
    body: comment.body,
    createdAt: new Date(comment.createdAt),
    isMine: comment.authorId === viewer.userId,
  }
}

export class PostService {
  constructor(
    private readonly deps: { posts: PostStore; clock: Clock; maxBodyLength: number },
  ) {}

  async createPost(viewer: Viewer, body: string): Promise<PostView> {
    validateBody('body', body, this.deps.maxBodyLength)
    const now = this.deps.clock.now()
    const post: PostRecord = { postId: newUlid(now), authorId: viewer.userId, body, createdAt: now }
    await this.deps.posts.createPost(post)
    return toPostView(viewer, post)
  }

  async addComment(viewer: Viewer, postId: string, body: string): Promise<CommentView> {
    validateBody('body', body, this.deps.maxBodyLength)
    await this.requirePost(postId)
    const now = this.deps.clock.now()
    const comment: CommentRecord = { commentId: newUlid(now), postId, authorId: viewer.userId, body, createdAt: now }
    await this.deps.posts.addComment(comment)
    return toCommentView(viewer, comment)
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

  async comments(viewer: Viewer, postId: string): Promise<CommentView[]> {
    const comments = await this.deps.posts.listComments(postId)
    return comments.map((comment) => toCommentView(viewer, comment))
  }

  /** Newest first. The cursor is the id of the last post of the previous page. */
  async feed(viewer: Viewer, first: number | null | undefined, after: string | null | undefined): Promise<FeedPage> {
    const limit = validatePageSize('first', first, FEED_PAGE_DEFAULT, FEED_PAGE_MAX)
    if (after !== null && after !== undefined && !isUlid(after)) throw badInput('after is not a cursor of this feed.')
    const page = await this.deps.posts.feed(limit, after ?? undefined)
    return { posts: page.items.map((post) => toPostView(viewer, post)), hasNextPage: page.nextAfter !== undefined }
  }
}
