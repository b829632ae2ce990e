import type { FormattedExecutionResult } from 'graphql-ws/client'
import type { HushClient } from './client.js'
import { HushError } from './errors.js'
import { ChatDocument, ChatEventsDocument, type ChatEventsSubscription } from './generated/graphql.js'

/** One event of a chat: a message, the peer typing, a presence change, a receipt, or the close. */
export type ChatEvent = ChatEventsSubscription['chatEvents']

/** Options of chatStream. */
export interface ChatStreamOptions {
  /**
   * The last seq you already hold (from `inbox`, `chat.lastSeq` or stored history): every message
   * after it is replayed first; 0 replays the whole chat. Omitted: the stream starts at the chat's
   * lastSeq when chatStream is called (one `chat(id)` query over the socket first), so nothing sent
   * after the call is missed, even across a disconnect before the first message.
   */
  afterSeq?: number
  /** Ends the stream, like `return()`, also while a `next()` is waiting. */
  signal?: AbortSignal
  /**
   * Whether an error ends the stream (`next()` rejects with it) rather than a resubscribe.
   * @default isPermanentError
   */
  isFatal?: (error: HushError) => boolean
  /**
   * Waits before the n-th consecutive resubscribe (from 0) after an error or a seq gap. Reconnects
   * themselves wait in the client (its retryWait); this is for failures of the subscription.
   * @default the client's retryWait
   */
  retryWait?: (retries: number) => Promise<void>
}

/** The stream chatStream returns: an async iterator of events, and where it stands. */
export interface ChatStream extends AsyncIterableIterator<ChatEvent> {
  /** Seq of the last message taken from the server (the next resubscribe's afterSeq); store it to resume later. */
  readonly lastSeq: number
}

// Errors that a resubscribe would only get again: the chat expired or is not the caller's, the
// request itself is wrong, or the server does not know the document. Everything else (a close, a
// network failure, RATE_LIMITED, an unexpected server error) is worth another subscribe.
const PERMANENT = new Set([
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
])

/** The default `isFatal`: a GraphQL error whose code no retry can change. */
export const isPermanentError = (error: HushError): boolean => PERMANENT.has(error.code)

/**
 * The events of one chat, each message exactly once and in seq order, across any number of
 * disconnects, server restarts and errors:
 * - after every reconnect (and after an error, with backoff) it subscribes again with
 *   `afterSeq` = the last seq it took, so the server replays exactly what was missed. (graphql-ws
 *   alone would resend the first subscribe's variables and replay from the start.)
 * - a message at or below that seq is dropped (a replay overlap); one beyond seq + 1 (a gap) is
 *   not yielded out of order: the stream resubscribes from the last seq instead.
 * Other events (typing, presence, receipts) pass through as they come; they are not replayed.
 * It starts at once, not on the first `next()`. It ends after the ChatClosedEvent, on `return()`
 * or `signal`, or when the client is disposed; `next()` rejects with a HushError that `isFatal`
 * calls fatal (by default: NOT_FOUND, e.g. the chat expired).
 */
export function chatStream(client: HushClient, chatId: string, options: ChatStreamOptions = {}): ChatStream {
  const feed = new ChatFeed(client, chatId, options)
  return {
    get lastSeq() {
      return feed.lastSeq
    },
    [Symbol.asyncIterator]() {
      return this
    },
    async next() {
      const item = await feed.take()
      if (item.kind === 'event') return { value: item.event, done: false }
      feed.close()
      if (item.kind === 'error') throw item.error
      return { value: undefined, done: true }
    },
    async return() {
      feed.close()
      return { value: undefined, done: true }
    },
  }
}

type Item = { kind: 'event'; event: ChatEvent } | { kind: 'error'; error: HushError } | { kind: 'end' }

/** The push side of a chat stream: owns the subscription, the seq and the queue of events. */
class ChatFeed {
  lastSeq = 0
  private readonly items: Item[] = []
  private wake: (() => void) | undefined
  private ended = false
  private unsubscribe: (() => void) | undefined
  /** Bumped per subscription, so late callbacks of a replaced one are ignored. */
  private generation = 0
  /** The socket closed under the current subscription: the next connection gets a fresh one. */
  private lost = false
  private failures = 0
  private readonly cleanups: Array<() => void> = []
  private readonly isFatal: (error: HushError) => boolean
  private readonly retryWait: (retries: number) => Promise<void>

  constructor(
    private readonly client: HushClient,
    private readonly chatId: string,
    options: ChatStreamOptions,
  ) {
    this.isFatal = options.isFatal ?? isPermanentError
    this.retryWait = options.retryWait ?? client.retryWait
    const { socket } = client
    this.cleanups.push(
      socket.on('closed', () => {
        if (this.unsubscribe) this.lost = true
      }),
      // Synchronously, inside graphql-ws's `connected` event: the stale subscription is dropped
      // before graphql-ws resends it, and the new one holds the socket before the old one's
      // release could lazily close it.
      socket.on('connected', () => {
        if (this.lost) this.resubscribe()
      }),
    )
    const { signal } = options
    if (signal) {
      const abort = () => this.finish({ kind: 'end' })
      if (signal.aborted) abort()
      signal.addEventListener('abort', abort)
      this.cleanups.push(() => signal.removeEventListener('abort', abort))
    }
    void this.start(options.afterSeq)
  }

  async take(): Promise<Item> {
    while (this.items.length === 0) {
      if (this.ended) return { kind: 'end' }
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
    return this.items.shift()!
  }

  /** Stops everything; a waiting `take` ends. Idempotent. */
  close(): void {
    this.finish({ kind: 'end' })
  }

  /** Finds the starting seq when none was given, then subscribes. */
  private async start(afterSeq: number | undefined): Promise<void> {
    for (let attempt = 0; afterSeq === undefined && !this.ended; attempt++) {
      try {
        const { chat } = await this.client.executeOnSocket(ChatDocument, { id: this.chatId })
        if (!chat) return this.finish({ kind: 'error', error: new HushError('Chat not found', { code: 'NOT_FOUND' }) })
        afterSeq = chat.lastSeq
      } catch (error) {
        if (this.client.disposed) return this.finish({ kind: 'end' })
        const failure = HushError.fromSocket(error)
        if (this.isFatal(failure)) return this.finish({ kind: 'error', error: failure })
        await this.retryWait(attempt).catch(() => {})
      }
    }
    this.lastSeq = afterSeq ?? 0
    this.subscribe()
  }

  private subscribe(): void {
    // graphql-ws would open a new socket for a subscribe on a disposed client.
    if (this.client.disposed) this.finish({ kind: 'end' })
    if (this.ended) return
    this.lost = false
    const generation = ++this.generation
    const current = () => generation === this.generation && !this.ended
    this.unsubscribe = this.client.subscribe(
      ChatEventsDocument,
      { chatId: this.chatId, afterSeq: this.lastSeq },
      {
        next: (result) => current() && this.onResult(result),
        error: (error) => current() && this.onError(HushError.fromSocket(error)),
        // chatEvents completes only after its ChatClosedEvent (handled in onResult), or when the
        // client was disposed; any other completion is a failure to recover from.
        complete: () => current() && (this.client.disposed ? this.finish({ kind: 'end' }) : this.retry()),
      },
    )
  }

  private onResult(result: FormattedExecutionResult<ChatEventsSubscription>): void {
    if (result.errors?.length) return this.onError(HushError.fromGraphQL(result.errors))
    const event = result.data?.chatEvents
    if (!event) return
    if (event.__typename === 'MessageEvent') {
      const { seq } = event.message
      if (seq <= this.lastSeq) return
      if (seq > this.lastSeq + 1) return this.retry()
      this.lastSeq = seq
    }
    this.failures = 0
    this.push({ kind: 'event', event })
    if (event.__typename === 'ChatClosedEvent') this.finish({ kind: 'end' })
  }

  private onError(error: HushError): void {
    if (this.isFatal(error)) this.finish({ kind: 'error', error })
    else this.retry()
  }

  /** Drops the subscription and subscribes again from lastSeq at once (after a reconnect). */
  private resubscribe(): void {
    this.drop()
    this.subscribe()
  }

  /** Drops the subscription and subscribes again from lastSeq after the backoff (after a failure). */
  private retry(): void {
    this.drop()
    const again = () => this.subscribe()
    this.retryWait(this.failures++).then(again, again)
  }

  private drop(): void {
    this.generation++
    const unsubscribe = this.unsubscribe
    this.unsubscribe = undefined
    unsubscribe?.()
  }

  private push(item: Item): void {
    this.items.push(item)
    this.wake?.()
    this.wake = undefined
  }

  private finish(last: Item): void {
    if (this.ended) return
    this.push(last)
    this.ended = true
    this.drop()
    for (const cleanup of this.cleanups.splice(0)) cleanup()
  }
}
