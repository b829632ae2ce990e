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
  ) {
    super(message)
    this.name = 'DomainError'
  }
}

export const unauthenticated = () => new DomainError('UNAUTHENTICATED', 'A valid token is required.')
export const notFound = (what: string) => new DomainError('NOT_FOUND', `${what} not found.`)
export const badInput = (message: string) => new DomainError('BAD_USER_INPUT', message)
