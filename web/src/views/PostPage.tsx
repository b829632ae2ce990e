import { AddCommentDocument, PostDocument, StartChatDocument, type PostQuery } from '@hush/client'
import { useEffect, useState } from 'preact/hooks'
import { describeError } from '../errors.js'
import { chatHref, navigate } from '../route.js'
import type { Session } from '../session.js'
import { ago } from '../time.js'
import { useNow } from '../use-now.js'
import { Composer } from './Composer.js'
import { ErrorNote } from './ErrorNote.js'

type Post = NonNullable<PostQuery['post']>
type Comment = Post['comments'][number]

/** Comments shown with a post (the API's page size limit). */
const COMMENTS = 100

/**
 * A post and its comments, oldest first. Anyone may chat with the post's author or with any
 * commenter; only aliases show who is who.
 */
export function PostPage({ session, postId }: { session: Session; postId: string }) {
  const [post, setPost] = useState<Post | null>()
  const [error, setError] = useState<string>()
  const now = useNow(60_000)

  useEffect(() => {
    session.client.execute(PostDocument, { id: postId, commentsFirst: COMMENTS }).then(
      ({ post }) => setPost(post),
      (cause: unknown) => setError(describeError(cause)),
    )
  }, [postId])

  const comment = async (body: string) => {
    const { addComment } = await session.client.execute(AddCommentDocument, { postId, body })
    setPost((shown) => shown && { ...shown, comments: [...shown.comments, addComment] })
  }
  const startChat = async (commentId?: string) => {
    try {
      const { startChat } = await session.client.execute(StartChatDocument, { postId, commentId })
      navigate(chatHref(startChat.id))
    } catch (cause) {
      setError(describeError(cause))
    }
  }

  if (post === undefined) return error ? <ErrorNote error={error} /> : <p class="quiet">Loading…</p>
  if (post === null) return <p class="quiet">This post is gone.</p>
  return (
    <article class="post-page">
      <p class="secret">{post.body}</p>
      <p class="meta">
        {ago(post.createdAt, now)}
        {post.isMine ? (
          ' · your post'
        ) : (
          <button type="button" onClick={() => void startChat()}>
            Chat with the author
          </button>
        )}
      </p>
      <ErrorNote error={error} onDismiss={() => setError(undefined)} />
      <h2>{post.comments.length === 1 ? '1 comment' : `${post.comments.length} comments`}</h2>
      <ol class="comments">
        {post.comments.map((c) => (
          <CommentItem key={c.id} comment={c} now={now} onChat={() => void startChat(c.id)} />
        ))}
      </ol>
      <Composer label="Comment" placeholder="Reply anonymously…" action="Comment" onSubmit={comment} />
    </article>
  )
}

function CommentItem({ comment, now, onChat }: { comment: Comment; now: number; onChat: () => void }) {
  // A comment by the post's author is a chat with the author: the button on the post does that.
  const canChat = !comment.isMine && !comment.byPostAuthor
  return (
    <li class="comment">
      <p>
        <strong>{comment.authorAlias}</strong>
        {comment.byPostAuthor && <span class="role"> author</span>}
        {comment.isMine && <span class="role"> you</span>}
        <small> · {ago(comment.createdAt, now)}</small>
      </p>
      <p class="comment-body">{comment.body}</p>
      {canChat && (
        <button type="button" class="link" onClick={onChat}>
          Chat with {comment.authorAlias}
        </button>
      )}
    </li>
  )
}
