import type { CommentRecord, Page, PostRecord, PostStore } from '../../../src/domain/ports.js'

/** The PostStore port in memory (posts by ULID, so id order is time order). */
export class InMemoryPostStore implements PostStore {
  private readonly posts = new Map<string, PostRecord>()
  private readonly comments = new Map<string, CommentRecord[]>()

  async createPost(post: PostRecord): Promise<void> {
    this.posts.set(post.postId, { ...post })
  }

  async getPost(postId: string): Promise<PostRecord | undefined> {
    const post = this.posts.get(postId)
    return post && { ...post }
  }

  async feed(limit: number, after: string | undefined): Promise<Page<PostRecord>> {
    const newestFirst = [...this.posts.values()].sort((x, y) => (x.postId < y.postId ? 1 : -1)).filter((post) => after === undefined || post.postId < after)
    const items = newestFirst.slice(0, limit)
    return { items, nextAfter: newestFirst.length > limit ? items.at(-1)?.postId : undefined }
  }

  async addComment(comment: CommentRecord): Promise<void> {
    this.comments.set(comment.postId, [...(this.comments.get(comment.postId) ?? []), { ...comment }])
  }

  async getComment(postId: string, commentId: string): Promise<CommentRecord | undefined> {
    const comment = this.comments.get(postId)?.find((c) => c.commentId === commentId)
    return comment && { ...comment }
  }

  async listComments(postId: string, limit: number, after: string | undefined): Promise<CommentRecord[]> {
    return (this.comments.get(postId) ?? []).filter((comment) => after === undefined || comment.commentId > after).slice(0, limit)
  }
}
