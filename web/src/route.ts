import { useEffect, useState } from 'preact/hooks'

/** The screens, by the page's hash (#/, #/post/<id>, #/chats, #/chat/<id>): a reload stays where it was. */
export type Route = { screen: 'feed' } | { screen: 'post'; postId: string } | { screen: 'chats' } | { screen: 'chat'; chatId: string }

export function parseRoute(hash: string): Route {
  const [, screen, id] = /^#\/([a-z]*)\/?([^/]*)$/.exec(hash) ?? []
  if (screen === 'post' && id) return { screen: 'post', postId: decodeURIComponent(id) }
  if (screen === 'chat' && id) return { screen: 'chat', chatId: decodeURIComponent(id) }
  if (screen === 'chats') return { screen: 'chats' }
  return { screen: 'feed' }
}

export const postHref = (postId: string): string => `#/post/${encodeURIComponent(postId)}`
export const chatHref = (chatId: string): string => `#/chat/${encodeURIComponent(chatId)}`

export function navigate(href: string): void {
  location.hash = href
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash))
    addEventListener('hashchange', onChange)
    return () => removeEventListener('hashchange', onChange)
  }, [])
  return route
}
