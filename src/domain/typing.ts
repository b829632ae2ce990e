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
    const wasTyping = this.timers.has(key)
    clearTimeout(this.timers.get(key))
    this.timers.delete(key)
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
    const key = this.key(chatId, userId)
    if (!this.timers.has(key)) return
    clearTimeout(this.timers.get(key))
    this.timers.delete(key)
    await this.publish(chatId, userId, false)
  }

  /** The user sent a message, which ends their typing for every subscriber: no event needed. */
  ended(chatId: string, userId: string): void {
    const key = this.key(chatId, userId)
    clearTimeout(this.timers.get(key))
    this.timers.delete(key)
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }

  private publish(chatId: string, userId: string, typing: boolean): Promise<void> {
    return this.events.publish(topics.chat(chatId), { kind: 'typing', chatId, userId, typing })
  }
}
