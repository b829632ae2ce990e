import { CreatePostDocument, FeedDocument, type FeedQuery } from '@hush/client'
import { useEffect, useState } from 'preact/hooks'
import { describeError } from '../errors.js'
import { navigate, postHref } from '../route.js'
import type { Session } from '../session.js'
import { ago } from '../time.js'
import { useNow } from '../use-now.js'
import { Composer } from './Composer.js'
import { ErrorNote } from './ErrorNote.js'

type FeedPost = FeedQuery['feed']['edges'][number]['node']

const PAGE_SIZE = 20

/** The feed, newest first, with a box to post a secret on top. */
export function FeedPage({ session }: { session: Session }) {
  const [posts, setPosts] = useState<FeedPost[]>([])
  const [next, setNext] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const [error, setError] = useState<string>()
  const now = useNow(60_000)

  const load = async (after: string | null) => {
    setLoading(true)
    try {
      const { feed } = await session.client.execute(FeedDocument, { first: PAGE_SIZE, after })
      const page = feed.edges.map((edge) => edge.node)
      setPosts((shown) => (after ? [...shown, ...page] : page))
      setNext(feed.pageInfo.hasNextPage ? feed.pageInfo.endCursor : null)
    } catch (cause) {
      setError(describeError(cause))
    } finally {
      setLoading(false)
    }
  }
  useEffect(() => void load(null), [])

  const post = async (body: string) => {
    const { createPost } = await session.client.execute(CreatePostDocument, { body })
    navigate(postHref(createPost.id))
  }

  return (
    <section aria-label="Feed">
      <Composer label="Share a secret" placeholder="Say what you would not say with your name on it…" action="Post" onSubmit={post} />
      <ErrorNote error={error} onDismiss={() => setError(undefined)} />
      <ol class="posts">
        {posts.map((post) => (
          <li key={post.id} class="post">
            <a href={postHref(post.id)} class="post-body">
              {post.body}
            </a>
            <small>
              {ago(post.createdAt, now)}
              {post.isMine && ' · yours'}
            </small>
          </li>
        ))}
      </ol>
      {!loading && posts.length === 0 && <p class="quiet">Nothing here yet: post the first secret.</p>}
      <p class="more">
        {next && (
          <button type="button" class="link" disabled={loading} onClick={() => void load(next)}>
            Older posts
          </button>
        )}{' '}
        <button type="button" class="link" disabled={loading} onClick={() => void load(null)}>
          Refresh
        </button>
      </p>
    </section>
  )
}
