import { requireViewer } from '../domain/accounts.js'
import type { CommentView, FeedPage, PostView } from '../domain/posts.js'
import { builder } from './builder.js'
import { costs, READ, WRITE } from './cost.js'

export const PostRef = builder.objectRef<PostView>('Post')
const CommentRef = builder.objectRef<CommentView>('Comment')

PostRef.implement({
  description: 'An anonymous post ("secret"). Nobody but its author can tell who wrote it.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque id of the post.' }),
    body: t.exposeString('body', { description: 'The text, 1 to 2,000 characters.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was posted.' }),
    isMine: t.exposeBoolean('isMine', { description: 'True when the caller wrote it.' }),
    comments: t.field({
      type: [CommentRef],
      description: 'Its comments, oldest first, `first` at a time: for the next page pass the last one’s id as `after`.',
      extensions: costs({ cost: READ, page: { arg: 'first', default: 50, max: 100 } }),
      args: {
        first: t.arg.int({ description: 'At most this many, 1 to 100 (default 50).' }),
        after: t.arg.id({ description: 'The id of the last comment of the previous page.' }),
      },
      resolve: (post, args, ctx) =>
        ctx.services.posts.comments(requireViewer(ctx.viewer), post, args.first, args.after == null ? null : String(args.after)),
    }),
  }),
})

CommentRef.implement({
  description: 'An anonymous comment on a post.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque id of the comment.' }),
    postId: t.exposeID('postId', { description: 'The post it belongs to.' }),
    body: t.exposeString('body', { description: 'The text, 1 to 2,000 characters.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was written.' }),
    isMine: t.exposeBoolean('isMine', { description: 'True when the caller wrote it.' }),
    authorAlias: t.exposeString('authorAlias', {
      description:
        'A name like "Amber Fox" for its writer, shown alike to everyone: the same on all their comments of this post, unrelated to them anywhere else.',
    }),
    byPostAuthor: t.exposeBoolean('byPostAuthor', { description: 'True when the post’s author wrote it, shown alike to everyone.' }),
  }),
})

const PageInfoRef = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  description: 'Where a page ends.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'True when another page follows.' }),
    endCursor: t.exposeString('endCursor', {
      nullable: true,
      description: 'Pass as `after` to get the next page; null on an empty page.',
    }),
  }),
})

const PostEdgeRef = builder.objectRef<PostView>('PostEdge').implement({
  description: 'A post in the feed.',
  fields: (t) => ({
    cursor: t.string({ description: 'Position of this post in the feed.', resolve: (post) => post.id }),
    node: t.field({ type: PostRef, description: 'The post.', resolve: (post) => post }),
  }),
})

const PostConnectionRef = builder.objectRef<FeedPage>('PostConnection').implement({
  description: 'A page of the feed, newest first.',
  fields: (t) => ({
    edges: t.field({ type: [PostEdgeRef], description: 'The posts of this page.', resolve: (page) => page.posts }),
    pageInfo: t.field({
      type: PageInfoRef,
      description: 'Whether and where the feed goes on.',
      resolve: (page) => ({ hasNextPage: page.hasNextPage, endCursor: page.posts.at(-1)?.id ?? null }),
    }),
  }),
})

builder.queryFields((t) => ({
  post: t.field({
    type: PostRef,
    nullable: true,
    extensions: costs({ cost: READ }),
    description: 'A post by id; null when there is none.',
    args: { id: t.arg.id({ required: true, description: 'The post id.' }) },
    resolve: (_root, args, ctx) => ctx.services.posts.post(requireViewer(ctx.viewer), String(args.id)),
  }),
  feed: t.field({
    type: PostConnectionRef,
    extensions: costs({ cost: READ, page: { arg: 'first', default: 20, max: 100 } }),
    description: 'All posts, newest first.',
    args: {
      first: t.arg.int({ description: 'Page size, 1 to 100 (default 20).' }),
      after: t.arg.string({ description: '`pageInfo.endCursor` of the previous page.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.posts.feed(requireViewer(ctx.viewer), args.first, args.after),
  }),
}))

builder.mutationFields((t) => ({
  createPost: t.field({
    type: PostRef,
    extensions: costs({ cost: WRITE }),
    description: 'Posts anonymously.',
    args: { body: t.arg.string({ required: true, description: 'The text, 1 to 2,000 characters.' }) },
    resolve: (_root, args, ctx) => ctx.services.posts.createPost(requireViewer(ctx.viewer), args.body),
  }),
  addComment: t.field({
    type: CommentRef,
    extensions: costs({ cost: WRITE }),
    description: 'Comments anonymously on a post.',
    args: {
      postId: t.arg.id({ required: true, description: 'The post.' }),
      body: t.arg.string({ required: true, description: 'The text, 1 to 2,000 characters.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.posts.addComment(requireViewer(ctx.viewer), String(args.postId), args.body),
  }),
}))
