import { HushError } from '@hush/client'

// What a user can do about each of Hush's codes (extensions.code), in words.
const MEANINGS: Record<string, string> = {
  RATE_LIMITED: 'Too many requests for now: wait a moment and try again.',
  CHAT_CLOSED: 'This chat is closed: no more messages.',
  CHAT_LIMIT: 'You have too many open chats: leave one first.',
  PAYLOAD_TOO_LARGE: 'That is too large (photos: 10 MB at most).',
  NOT_FOUND: 'Not found: it may have disappeared.',
  UNAUTHENTICATED: 'Your session was refused: reload the page.',
  NETWORK_ERROR: 'The server cannot be reached: check your connection.',
  SOCKET_CLOSED: 'The connection closed: reload the page.',
  HTTP_ERROR: 'The server answered with an error.',
}

/**
 * One readable line for an error, ending with its code so a report names it exactly.
 * BAD_USER_INPUT says what was wrong in the server's own words (too long, empty, own post…).
 */
export function describeError(error: unknown): string {
  if (error instanceof HushError) {
    const meaning = error.code === 'BAD_USER_INPUT' || !(error.code in MEANINGS) ? error.message : MEANINGS[error.code]
    return `${meaning} (${error.code})`
  }
  return error instanceof Error ? error.message : String(error)
}
