/** A WebSocket close, as graphql-ws hands it over (a DOM `CloseEvent`, or its look-alike). */
export interface CloseLike {
  code: number
  reason: string
}

export const isCloseLike = (value: unknown): value is CloseLike =>
  typeof value === 'object' && value !== null && typeof (value as CloseLike).code === 'number' && 'reason' in value

/**
 * Close codes after which reconnecting can succeed. Anything else (4400 bad request, 4401
 * unauthorized, 4406 subprotocol, 4409 duplicate id, 4429 too many inits, 4500 internal server
 * error, 1002/1003/1007–1010 protocol faults) is a bug that reconnecting only repeats.
 */
export const RETRYABLE_CLOSE_CODES: ReadonlySet<number> = new Set([
  1001, // Going away: Hush shutting down or draining; another process takes the reconnect.
  1005, // No status: some React Native sockets report a lost network so.
  1006, // Abnormal closure: the network went, or the process died.
  1011, // Internal error (a proxy's). NB: graphql-ws 6 treats 1011 as fatal before asking.
  1012, // Service restart.
  1013, // Try again later: Hush is overloaded, or cut this socket as a slow consumer.
  1014, // Bad gateway: a proxy lost its upstream.
  4403, // Forbidden: the token is bad or expired; the next connect gets a fresh one.
  4408, // connection_init timeout: getToken() was slower than the server waits.
  4418, // connection_ack timeout: the server did not answer in connectionAckWaitTimeout.
  4499, // Terminated: the keep-alive found the socket dead (client.terminate()).
])

/** Thrown into graphql-ws when `getToken` failed: a retryable condition (see defaultShouldRetry). */
export class HushTokenError extends Error {
  override readonly name = 'HushTokenError'
}

/**
 * Whether graphql-ws should reconnect after `errOrCloseEvent`:
 * - a close: when its code is in RETRYABLE_CLOSE_CODES;
 * - a failing `getToken` (HushTokenError): yes, with backoff, like a network failure;
 * - any other `Error`: no, it is the client's own fault (a bad message, a throwing listener);
 * - anything else is a socket `error` event (connection refused, DNS, TLS): yes. graphql-ws's own
 *   default gives up on these, which would end every subscription while a server restarts.
 */
export function defaultShouldRetry(errOrCloseEvent: unknown): boolean {
  if (isCloseLike(errOrCloseEvent)) return RETRYABLE_CLOSE_CODES.has(errOrCloseEvent.code)
  if (errOrCloseEvent instanceof HushTokenError) return true
  return !(errOrCloseEvent instanceof Error)
}

/** How `backoff` grows its waits. */
export interface BackoffOptions {
  /**
   * The wait before the first retry, in ms; it doubles each retry.
   * @default 1000
   */
  baseMs?: number
  /**
   * The longest wait, in ms.
   * @default 30000
   */
  maxMs?: number
}

/**
 * A `retryWait`: exponential backoff with "equal jitter". The n-th retry (from 0) waits between
 * half and all of min(maxMs, baseMs·2ⁿ): never so little that a dead server is hammered, and
 * spread enough that the clients of a restarted server do not all come back in the same instant.
 */
export function backoff({ baseMs = 1_000, maxMs = 30_000 }: BackoffOptions = {}): (retries: number) => Promise<void> {
  return (retries) => {
    const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(retries, 30))
    return sleep(ceiling / 2 + Math.random() * (ceiling / 2))
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
