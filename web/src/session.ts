import { createHushClient, SignUpDocument, type HushClient } from '@hush/client'

/**
 * The browser's anonymous account: a token from `signUp` on the first visit, kept in
 * localStorage, so a reload (or a new tab) is the same user and another browser profile is
 * another one. Nothing else about the user is kept.
 */
const TOKEN_KEY = 'hush:token'

/** Hush's endpoint on the origin that served this page: HTTP and the socket share it. */
export const GRAPHQL_URL = new URL('/graphql', location.href).href

export interface Session {
  client: HushClient
  /** The token for requests the client does not make itself (photo uploads). */
  token(): Promise<string>
}

export function openSession(): Session {
  // Only signUp goes without a token; this client never opens a socket.
  const anonymous = createHushClient({ url: GRAPHQL_URL, getToken: () => null, persistedDocuments: 'with-text' })
  let pending: Promise<string> | undefined

  const signUp = (): Promise<string> =>
    (pending ??= anonymous
      .execute(SignUpDocument)
      .then(({ signUp }) => {
        localStorage.setItem(TOKEN_KEY, signUp.token)
        return signUp.token
      })
      .finally(() => (pending = undefined)))

  // A refused token (expired, or from a server that lost its keys) is replaced by a new account:
  // the old one cannot be recovered, there being nothing but the token to know it by.
  const token = async (refresh = false) => {
    const stored = localStorage.getItem(TOKEN_KEY)
    return stored && !refresh ? stored : signUp()
  }
  // Text and id: the app runs against a server with TRUSTED_DOCUMENTS (the generated manifest) too.
  const client = createHushClient({ url: GRAPHQL_URL, getToken: ({ refresh }) => token(refresh), persistedDocuments: 'with-text' })
  return { client, token: () => token() }
}
