import { ChatListDocument, type ChatListQuery } from '@hush/client'
import { useEffect, useState } from 'preact/hooks'
import { describeError } from '../errors.js'
import { chatHref } from '../route.js'
import type { Session } from '../session.js'
import { timeLeft } from '../time.js'
import { useNow } from '../use-now.js'
import { ErrorNote } from './ErrorNote.js'

type ChatSummary = ChatListQuery['chats'][number]

/** Chats listed at once (a user holds at most 100 live ones). */
const LISTED = 100

/** The user's chats, most recently active first; read again on every notification. */
export function ChatsPage({ session, news }: { session: Session; news: number }) {
  const [chats, setChats] = useState<ChatSummary[]>()
  const [error, setError] = useState<string>()
  const now = useNow(30_000)

  useEffect(() => {
    session.client.execute(ChatListDocument, { first: LISTED }).then(
      ({ chats }) => setChats(chats),
      (cause: unknown) => setError(describeError(cause)),
    )
  }, [news])

  return (
    <section aria-label="Chats">
      <h1>Chats</h1>
      <ErrorNote error={error} onDismiss={() => setError(undefined)} />
      {chats?.length === 0 && <p class="quiet">No chats yet. Open a post and start one with its author or a commenter.</p>}
      <ol class="chats">
        {chats?.map((chat) => (
          <li key={chat.id} class="chat-item">
            <a href={chatHref(chat.id)}>
              <strong>{chat.peer.alias}</strong>
              <span class="role"> {roleName(chat.peer.role)}</span>
              {chat.unreadCount > 0 && <span class="badge"> {chat.unreadCount} unread</span>}
            </a>
            <p class="about">“{excerpt(chat.post.body)}”</p>
            <small>{chat.status === 'ACTIVE' ? `disappears in ${timeLeft(Date.parse(chat.expiresAt), now)}` : 'closed'}</small>
          </li>
        ))}
      </ol>
    </section>
  )
}

export const roleName = (role: ChatSummary['peer']['role']): string => (role === 'AUTHOR' ? 'author of the post' : 'commenter')

const excerpt = (text: string): string => (text.length > 90 ? `${text.slice(0, 89)}…` : text)
