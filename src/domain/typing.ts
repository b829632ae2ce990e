import { topics, type EventBus } from './events.js'

/**
 * Typing indicators: never stored, only published. The process that took the last
 * setTyping(true) of a user in a chat owns a timer that sends typing=false after `timeoutMs`
 * without a refresh; the end of the typist's subscription sends it at once, and a message of the
 * typist ends it without an event (subscribers read it from the message).
 */
export class TypingTracker {
  private readonly timers = new Map<string, NodeJS.Timeout>()

  constructor(
    private readonly events: EventBus,
    private readonly timeoutMs: number,
  ) {}

  private key(chatId: string, userId: string): string {
    return `${chatId} ${userId}`
  }

  async set(chatId: string, userId: string, typing: boolean): Promise<void> {
    const key = this.key(chatId, userId)
    const wasTyping = this.ended(chatId, userId)
    if (!typing) {
      await this.publish(chatId, userId, false)
      return
    }
    const timer = setTimeout(() => void this.stop(chatId, userId), this.timeoutMs)
    timer.unref()
    this.timers.set(key, timer)
    // A refresh only moves the timer: the peer already sees "typing".
    if (!wasTyping) await this.publish(chatId, userId, true)
  }

  /** typing=false, if this process saw the user typing in the chat. */
  async stop(chatId: string, userId: string): Promise<void> {
    if (this.ended(chatId, userId)) await this.publish(chatId, userId, false)
  }

  /**
   * Drops the user's typing timer without an event (a message of theirs tells subscribers);
   * true when there was one.
   */
  ended(chatId: string, userId: string): boolean {
    const key = this.key(chatId, userId)
    const timer = this.timers.get(key)
    if (!timer) return false
    clearTimeout(timer)
    this.timers.delete(key)
    return true
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }

  private publish(chatId: string, userId: string, typing: boolean): Promise<void> {
    return this.events.publish(topics.chat(chatId), { kind: 'typing', chatId, userId, typing })
  }
}
