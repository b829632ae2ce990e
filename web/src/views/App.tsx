import { NotificationsDocument } from '@hush/client'
import { useEffect, useRef, useState } from 'preact/hooks'
import { useRoute } from '../route.js'
import type { Session } from '../session.js'
import { ChatPage } from './ChatPage.js'
import { ChatsPage } from './ChatsPage.js'
import { FeedPage } from './FeedPage.js'
import { PostPage } from './PostPage.js'

/**
 * The whole app: a header, then one screen at a time, chosen by the page's hash. One
 * `notifications` subscription for the app tells the Chats screen (and the header) about new
 * chats, messages and closes.
 */
export function App({ session }: { session: Session }) {
  const route = useRoute()
  const news = useNotifications(session, route.screen === 'chat' ? route.chatId : undefined)
  const [seenNews, setSeenNews] = useState(0)
  useEffect(() => {
    if (route.screen === 'chats') setSeenNews(news)
  }, [route, news])
  const unseen = route.screen === 'chats' ? 0 : news - seenNews

  return (
    <div class="page">
      <header>
        <a href="#/" class="brand">
          hush
        </a>
        <nav>
          <a href="#/" aria-current={route.screen === 'feed' || route.screen === 'post' ? 'page' : undefined}>
            Feed
          </a>
          <a href="#/chats" aria-current={route.screen === 'chats' || route.screen === 'chat' ? 'page' : undefined}>
            Chats{unseen > 0 && <span class="badge"> {unseen} new</span>}
          </a>
        </nav>
      </header>
      <main>
        {route.screen === 'feed' && <FeedPage session={session} />}
        {route.screen === 'post' && <PostPage key={route.postId} session={session} postId={route.postId} />}
        {route.screen === 'chats' && <ChatsPage session={session} news={news} />}
        {route.screen === 'chat' && <ChatPage key={route.chatId} session={session} chatId={route.chatId} />}
      </main>
      <footer>Anonymous. Chats disappear 24 hours after their last message.</footer>
    </div>
  )
}

/**
 * How many notifications came since the page loaded, but those of the chat on screen and of the
 * user's own messages (from another tab).
 */
function useNotifications(session: Session, openChatId: string | undefined): number {
  const [count, setCount] = useState(0)
  const open = useRef(openChatId)
  open.current = openChatId
  useEffect(
    // graphql-ws resubscribes by itself after a reconnect; a notification missed meanwhile only
    // delays the badge: the Chats screen reads the list whenever it opens.
    () =>
      session.client.subscribe(
        NotificationsDocument,
        {},
        {
          next: ({ data }) => {
            const notification = data?.notifications
            if (!notification || notification.chatId === open.current) return
            if (notification.__typename === 'NewMessageNotification' && notification.message.fromMe) return
            setCount((n) => n + 1)
          },
          error: () => {},
          complete: () => {},
        },
      ),
    [],
  )
  return count
}
