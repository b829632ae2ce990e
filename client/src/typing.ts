import type { HushClient } from './client.js'
import { SetTypingDocument } from './generated/graphql.js'

/** Options of `typing`. */
export interface TypingOptions {
  /**
   * At most one setTyping(true) per this many ms while keystrokes keep coming. Hush shows typing
   * for 6 s after the last one, so keep it well under 6000 or the indicator flickers off.
   * @default 3000
   */
  throttleMs?: number
  /**
   * After this many ms without a keystroke, setTyping(false) is sent: the peer sees the pause
   * sooner than Hush's own 6 s lapse would show it.
   * @default 4000
   */
  idleMs?: number
  /**
   * Called with a setTyping that failed. Typing is best effort (a dropped one lapses on the
   * server by itself), so failures are otherwise ignored.
   * @default ignore
   */
  onError?: (error: unknown) => void
}

/** The typing state of one chat's composer; see `typing`. */
export interface TypingIndicator {
  /** Call on every keystroke (input change): sends setTyping(true) at most once per throttleMs. */
  keystroke(): void
  /**
   * Call when the message was sent: cancels the timers and sends nothing, since Hush ends the
   * sender's typing with the message itself (a setTyping(false) would only cost a request).
   */
  sent(): void
  /** Call when the draft was cleared or the chat left: sends setTyping(false) if typing was on. */
  stop(): void
}

/**
 * A throttled typing indicator for `chatId`. setTyping goes over the socket the client already
 * holds for chatEvents: on Hush that costs about a third of an HTTP request.
 */
export function typing(client: HushClient, chatId: string, options: TypingOptions = {}): TypingIndicator {
  const { throttleMs = 3_000, idleMs = 4_000, onError = () => {} } = options
  /** When setTyping(true) was last sent; undefined while the peer is not shown typing. */
  let shownAt: number | undefined
  let idleTimer: ReturnType<typeof setTimeout> | undefined

  const send = (typing: boolean) => {
    client.executeOnSocket(SetTypingDocument, { chatId, typing }).catch(onError)
  }
  const reset = () => {
    clearTimeout(idleTimer)
    idleTimer = undefined
    const wasShown = shownAt !== undefined
    shownAt = undefined
    return wasShown
  }

  return {
    keystroke() {
      const now = Date.now()
      if (shownAt === undefined || now - shownAt >= throttleMs) {
        shownAt = now
        send(true)
      }
      clearTimeout(idleTimer)
      idleTimer = setTimeout(() => {
        if (reset()) send(false)
      }, idleMs)
    },
    sent() {
      reset()
    },
    stop() {
      if (reset()) send(false)
    },
  }
}
