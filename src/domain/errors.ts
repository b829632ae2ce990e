/** The error codes of SPEC "Errors"; the GraphQL layer copies `code` into `extensions.code`. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CHAT_CLOSED'
  | 'CHAT_LIMIT'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'

/** An expected failure whose message is safe to show to the caller. Anything else is masked. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Shown to the caller beside the code, in `extensions` (e.g. `retryAfterMs`). */
    readonly details?: Readonly<Record<string, string | number>>,
  ) {
    super(message)
    this.name = 'DomainError'
  }
}

/** A refusal by a rate limit, with when a retry may pass. */
export const rateLimited = (retryAfterMs: number, message = 'Too many requests; slow down and retry shortly.') =>
  new DomainError('RATE_LIMITED', message, { retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)) })

export const unauthenticated = () => new DomainError('UNAUTHENTICATED', 'A valid token is required.')
export const notFound = (what: string) => new DomainError('NOT_FOUND', `${what} not found.`)
export const badInput = (message: string) => new DomainError('BAD_USER_INPUT', message)
