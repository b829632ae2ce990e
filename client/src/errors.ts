import type { GraphQLFormattedError } from 'graphql'
import { isCloseLike } from './retry.js'

/**
 * Everything this package rejects or throws with. `code` says what to do about it:
 * - a Hush error code from `extensions.code` (UNAUTHENTICATED, NOT_FOUND, BAD_USER_INPUT,
 *   CHAT_CLOSED, CHAT_LIMIT, RATE_LIMITED, PAYLOAD_TOO_LARGE, PERSISTED_QUERY_NOT_FOUND …);
 * - SOCKET_CLOSED: the socket closed and was not reopened (`closeCode` says how);
 * - HTTP_ERROR: an HTTP answer that was not GraphQL (a proxy's 502; `status` says which);
 * - NETWORK_ERROR: no answer at all (`cause` holds what fetch or the socket reported);
 * - GRAPHQL_ERROR: a GraphQL error without a code.
 */
export class HushError extends Error {
  override readonly name = 'HushError'
  readonly code: string
  /** The GraphQL errors of the answer, as the server sent them; empty for transport failures. */
  readonly errors: readonly GraphQLFormattedError[]
  /** The WebSocket close code, for SOCKET_CLOSED. */
  readonly closeCode: number | undefined
  /** The HTTP status, when the operation went over HTTP. */
  readonly status: number | undefined

  constructor(
    message: string,
    details: { code: string; errors?: readonly GraphQLFormattedError[]; closeCode?: number; status?: number; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = details.code
    this.errors = details.errors ?? []
    this.closeCode = details.closeCode
    this.status = details.status
  }

  /** From the `errors` of a GraphQL answer; the first error's code and message stand for all. */
  static fromGraphQL(errors: readonly GraphQLFormattedError[], status?: number): HushError {
    const code = errors[0]?.extensions?.code
    return new HushError(errors.map((error) => error.message).join('; ') || 'GraphQL error', {
      code: typeof code === 'string' ? code : 'GRAPHQL_ERROR',
      errors,
      status,
    })
  }

  /** From whatever graphql-ws gave a sink's `error`: GraphQL errors, a CloseEvent, or an Error/Event. */
  static fromSocket(error: unknown): HushError {
    if (error instanceof HushError) return error
    if (Array.isArray(error)) return HushError.fromGraphQL(error as GraphQLFormattedError[])
    if (isCloseLike(error)) {
      return new HushError(`Socket closed: ${error.code} ${error.reason}`.trim(), { code: 'SOCKET_CLOSED', closeCode: error.code, cause: error })
    }
    return new HushError(error instanceof Error ? error.message : 'Socket error', { code: 'NETWORK_ERROR', cause: error })
  }
}
