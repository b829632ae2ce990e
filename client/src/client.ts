import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import { createClient, type Client, type ClientOptions, type FormattedExecutionResult, type Sink, type SubscribePayload } from 'graphql-ws/client'
import { payloadOf, type PersistedDocumentsMode, type VariablesArg } from './documents.js'
import { HushError } from './errors.js'
import { postOperation, type FetchLike } from './http.js'
import { backoff, defaultShouldRetry, HushTokenError, isCloseLike } from './retry.js'

/** What `getToken` is told. */
export interface GetTokenContext {
  /**
   * True when the server refused the token this client last sent (the socket closed with 4403,
   * or an HTTP request answered UNAUTHENTICATED): return a different, fresh token, not a cached
   * one. False on an ordinary (re)connect or request: a cached token is right.
   */
  refresh: boolean
}

/**
 * Gives the token for the next connection or request. Called on every socket (re)connect (its
 * `connection_init` carries `{ authorization: 'Bearer <token>' }`) and every HTTP request.
 * Return null or undefined for none (only `signUp` works without). It may be async; the server
 * waits 3 s for `connection_init`, so keep it quick. A throw or rejection is retried with the
 * backoff on the socket (like a network failure) and rejects the request over HTTP.
 */
export type GetToken = (context: GetTokenContext) => string | null | undefined | Promise<string | null | undefined>

/** Options of createHushClient. Every one but `url` and `getToken` has a default. */
export interface HushClientOptions {
  /**
   * Hush's GraphQL endpoint, e.g. `https://chat.example/graphql`. HTTP and graphql-ws share the
   * path, so either scheme works: the other is derived (http↔ws, https↔wss).
   */
  url: string
  /** Where tokens come from: see GetToken. */
  getToken: GetToken
  /**
   * The WebSocket class: browsers and React Native have one; on Node 20 pass `ws`'s default export.
   * @default globalThis.WebSocket
   */
  webSocketImpl?: unknown
  /**
   * The fetch for `execute`.
   * @default globalThis.fetch
   */
  fetch?: FetchLike
  /**
   * How generated documents go over the wire (a document without an id, your own, always goes as
   * text; so do the adapters', as urql and Apollo rewrite documents and the ids would not match):
   * - `false`: as text.
   * - `true`: by id only (`documentId`, the `sha256:` hash codegen put on each document), as a
   *   server with TRUSTED_DOCUMENTS requires; smaller on the wire.
   * - `'with-text'`: the text, and the id as `extensions.persistedQuery.sha256Hash`: a server with
   *   TRUSTED_DOCUMENTS runs the id, any other the text. For an app that must work against both
   *   (Hush's own web chat).
   * @default false
   */
  persistedDocuments?: PersistedDocumentsMode
  /**
   * Connect on the first socket operation and close after the last (plus `lazyCloseTimeout`).
   * `false` connects at once and stays connected; errors then go to `onNonLazyError`.
   * @default true
   */
  lazy?: boolean
  /**
   * Milliseconds the socket stays open after its last operation ended, so that a screen change or
   * a lone `setTyping` does not reopen (and re-authenticate) a socket each time.
   * @default 10000
   */
  lazyCloseTimeout?: number
  /**
   * Milliseconds between the client's pings. With `pongTimeout`, how fast a dead connection (a
   * phone that changed networks, a NAT that forgot it) is noticed and replaced. 0 turns both off.
   * @default 15000
   */
  keepAlive?: number
  /**
   * Milliseconds to wait for the pong of a ping before terminating the socket (close 4499, which
   * is retried). graphql-ws alone only pings and never gives up on a silent socket. 0: never.
   * @default 5000
   */
  pongTimeout?: number
  /**
   * Milliseconds to wait for `connection_ack` before closing with 4418 (retried). 0: forever.
   * @default 10000
   */
  connectionAckWaitTimeout?: number
  /**
   * Reconnect attempts after a retryable close before the operations fail. Counted from the last
   * successful connection, so Infinity means "ride out any outage".
   * @default Infinity
   */
  retryAttempts?: number
  /**
   * Waits before reconnect number `retries` (0 first). Also what chatStream waits between
   * resubscribes after errors.
   * @default backoff({ baseMs: 1000, maxMs: 30000 }) — exponential, with jitter
   */
  retryWait?: (retries: number) => Promise<void>
  /**
   * Whether a close or connection error is worth a reconnect. Replacing it replaces all of
   * defaultShouldRetry (including its retry of failing getToken calls). graphql-ws decides some
   * closes on its own, before asking: 4400, 4401, 4406, 4409, 4429, 4500, 4004, 4005 and the
   * 1000–1999 protocol faults except 1000/1001/1005/1006/1012/1013/1014 (so 1011 too) are fatal.
   * @default defaultShouldRetry — 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4403, 4408, 4418, 4499, network errors
   */
  shouldRetry?: (errOrCloseEvent: unknown) => boolean
  /** With `lazy: false`: called with the close or error that ended the client. @default console.error */
  onNonLazyError?: (errorOrCloseEvent: unknown) => void
  /** graphql-ws's event listeners (connecting, opened, connected, ping, pong, message, closed, error), e.g. for logging. */
  on?: ClientOptions['on']
}

/** A Hush client: one graphql-ws socket (reconnecting, authenticated) plus HTTP. */
export interface HushClient {
  /** The graphql-ws client underneath: for the adapters, or what this API lacks. */
  readonly socket: Client
  /** The endpoint over HTTP(S). */
  readonly httpUrl: string
  /** The endpoint over WS(S). */
  readonly socketUrl: string
  /** The client's `retryWait`. */
  readonly retryWait: (retries: number) => Promise<void>
  /** True once `dispose` was called. */
  readonly disposed: boolean
  /**
   * Runs a query or mutation over HTTP with the token; resolves its data, rejects with HushError.
   * An UNAUTHENTICATED answer is retried once with `getToken({ refresh: true })`.
   */
  execute<T, V>(document: TypedDocumentNode<T, V>, ...variables: VariablesArg<V>): Promise<T>
  /**
   * Runs a query or mutation over the socket (opening it if needed); resolves its data, rejects
   * with HushError. Cheaper than HTTP while the socket is open anyway (Hush's README: about a third).
   */
  executeOnSocket<T, V>(document: TypedDocumentNode<T, V>, ...variables: VariablesArg<V>): Promise<T>
  /**
   * Subscribes over the socket; returns the unsubscribe. graphql-ws resends the SAME variables on
   * every reconnect: for chatEvents use chatStream, which resumes from the last seq instead.
   */
  subscribe<T, V>(document: TypedDocumentNode<T, V>, variables: V, sink: Sink<FormattedExecutionResult<T>>): () => void
  /** Closes the socket (1000) and stops reconnecting; running subscriptions complete. */
  dispose(): Promise<void>
}

/** Creates a Hush client. Nothing connects until the first socket operation (unless `lazy: false`). */
export function createHushClient(options: HushClientOptions): HushClient {
  const { httpUrl, socketUrl } = endpoints(options.url)
  const { getToken, persistedDocuments = false, retryWait = backoff() } = options
  const fetchImpl: FetchLike = options.fetch ?? ((url, init) => globalThis.fetch(url, init))
  const socket = createSocket(options, socketUrl, retryWait)
  const toPayload = <T, V>(document: TypedDocumentNode<T, V>, variables: V | undefined) => payloadOf(document, variables, persistedDocuments)
  let disposed = false

  return {
    socket,
    httpUrl,
    socketUrl,
    retryWait,
    get disposed() {
      return disposed
    },
    async execute(document, ...[variables]) {
      const payload = toPayload(document, variables)
      const token = await getToken({ refresh: false })
      try {
        return await postOperation(fetchImpl, httpUrl, payload, token)
      } catch (error) {
        if (!token || !(error instanceof HushError) || error.code !== 'UNAUTHENTICATED') throw error
        return postOperation(fetchImpl, httpUrl, payload, await getToken({ refresh: true }))
      }
    },
    executeOnSocket: (document, ...[variables]) => singleResult(socket, toPayload(document, variables)),
    subscribe: (document, variables, sink) => socket.subscribe(toSubscribePayload(toPayload(document, variables)), sink),
    async dispose() {
      disposed = true
      try {
        await socket.dispose()
      } catch {
        // Disposing while the connection attempt fails: nothing left to close.
      }
    },
  }
}

/** The graphql-ws client with Hush's defaults, its token handling and the pong watch. */
function createSocket(options: HushClientOptions, url: string, retryWait: (retries: number) => Promise<void>): Client {
  const webSocketImpl = options.webSocketImpl ?? (globalThis as { WebSocket?: unknown }).WebSocket
  if (!webSocketImpl) throw new TypeError('No WebSocket here: pass webSocketImpl (on Node, `import WebSocket from "ws"`).')
  const { getToken, keepAlive = 15_000 } = options
  let refreshNext = false
  const socket = createClient({
    url,
    webSocketImpl,
    lazy: options.lazy ?? true,
    lazyCloseTimeout: options.lazyCloseTimeout ?? 10_000,
    keepAlive,
    connectionAckWaitTimeout: options.connectionAckWaitTimeout ?? 10_000,
    retryAttempts: options.retryAttempts ?? Infinity,
    retryWait,
    shouldRetry: options.shouldRetry ?? defaultShouldRetry,
    ...(options.onNonLazyError ? { onNonLazyError: options.onNonLazyError } : {}),
    ...(options.on ? { on: options.on } : {}),
    connectionParams: async () => {
      const refresh = refreshNext
      let token: string | null | undefined
      try {
        token = await getToken({ refresh })
      } catch (error) {
        throw new HushTokenError('getToken failed', { cause: error })
      }
      refreshNext = false
      return token ? { authorization: `Bearer ${token}` } : {}
    },
  })
  // 4403 is Hush refusing the token (bad, or expired while connected): the next connect asks
  // for a fresh one. (A draining server refuses with 4403 too; the refresh is then wasted, not wrong.)
  socket.on('closed', (event) => {
    if (isCloseLike(event) && event.code === 4403) refreshNext = true
  })
  watchPongs(socket, keepAlive, options.pongTimeout ?? 5_000)
  return socket
}

/** http(s)://…/graphql ⇄ ws(s)://…/graphql. */
function endpoints(url: string): { httpUrl: string; socketUrl: string } {
  const match = /^(http|ws)(s?):\/\//i.exec(url)
  if (!match) throw new TypeError(`url must start with http://, https://, ws:// or wss://, not ${url}`)
  const rest = url.slice(match[0].length)
  const secure = match[2]!.toLowerCase()
  return { httpUrl: `http${secure}://${rest}`, socketUrl: `ws${secure}://${rest}` }
}

// graphql-ws types the payload without documentId; it sends whatever the object holds.
const toSubscribePayload = (payload: object) => payload as SubscribePayload

/** One query or mutation over the socket: its data, or a HushError. */
function singleResult<T>(socket: Client, payload: object): Promise<T> {
  return new Promise((resolve, reject) => {
    let result: FormattedExecutionResult<T, unknown> | undefined
    socket.subscribe<T>(toSubscribePayload(payload), {
      next: (value) => (result = value),
      error: (error) => reject(HushError.fromSocket(error)),
      complete: () => {
        if (result?.errors?.length) reject(HushError.fromGraphQL(result.errors))
        else if (result?.data != null) resolve(result.data)
        else reject(new HushError('The operation completed without a result', { code: 'SOCKET_CLOSED' }))
      },
    })
  })
}

/**
 * Terminates a socket whose ping got no pong within `pongTimeout`: the terminate is a 4499 close,
 * which is retried, so a silently dead connection is replaced instead of waited on forever.
 */
function watchPongs(socket: Client, keepAlive: number, pongTimeout: number): void {
  if (!(keepAlive > 0 && pongTimeout > 0 && Number.isFinite(pongTimeout))) return
  let timer: ReturnType<typeof setTimeout> | undefined
  socket.on('ping', (received) => {
    if (received) return
    clearTimeout(timer)
    timer = setTimeout(() => socket.terminate(), pongTimeout)
  })
  socket.on('pong', (received) => {
    if (received) clearTimeout(timer)
  })
  socket.on('closed', () => clearTimeout(timer))
}
