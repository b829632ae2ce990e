/**
 * What the domain needs from the outside world. `infra/` implements these; the domain never
 * imports a driver.
 */

/** The authenticated caller. `userId` never leaves the domain except as the caller's own Viewer.id. */
export interface Viewer {
  userId: string
  /** Epoch seconds after which the credential is no longer valid. */
  expiresAt: number
}

export interface AccountRecord {
  userId: string
  createdAt: number
}

export interface AccountStore {
  /** Stores a new account; fails if the id is taken. */
  create(account: AccountRecord): Promise<void>
}

export interface PostRecord {
  postId: string
  authorId: string
  body: string
  createdAt: number
}

export interface CommentRecord {
  commentId: string
  postId: string
  authorId: string
  body: string
  createdAt: number
}

export interface Page<T> {
  items: T[]
  /** Id of the last item when more follow. */
  nextAfter: string | undefined
}

export interface PostStore {
  createPost(post: PostRecord): Promise<void>
  getPost(postId: string): Promise<PostRecord | undefined>
  /** Newest first, starting after the post with id `after`. */
  feed(limit: number, after: string | undefined): Promise<Page<PostRecord>>
  addComment(comment: CommentRecord): Promise<void>
  getComment(postId: string, commentId: string): Promise<CommentRecord | undefined>
  /** Oldest first. */
  listComments(postId: string): Promise<CommentRecord[]>
}

export interface TokenService {
  issue(userId: string): Promise<string>
  /** The viewer a token proves, or undefined for a bad, expired or foreign token. */
  verify(token: string): Promise<Viewer | undefined>
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }
