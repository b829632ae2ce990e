import { topics, type EventBus } from '../events.js'
import type { Cancel, Clock } from '../ports.js'

/** How often lapsed typing is looked for: typing ends within timeoutMs plus this. */
const SWEEP_MS = 250

interface Typist {
  chatId: string
  userId: string
  /** Clock time past which the typing lapses without a refresh. */
  lapsesAt: number
}

/**
 * Typing indicators: never stored, only published. The process that took the last
 * setTyping(true) of a user in a chat sends typing=false after `timeoutMs` without a refresh;
 * the end of the typist's subscription sends it at once, and a message of the typist ends it
 * without an event (subscribers read it from the message).
 *
 * Deadlines are swept by one timer rather than kept as a timer per typist: a refresh then only
 * moves a number, where a fresh timer per refresh (several a second per typist) would outlive
 * the young generation and load the collector with objects that die seconds later.
 */
export class TypingTracker {
  private readonly typists = new Map<string, Typist>()
  private readonly stopSweeping: Cancel

  constructor(
    private readonly events: EventBus,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    this.stopSweeping = clock.every(SWEEP_MS, () => this.sweep())
  }

  private key(chatId: string, userId: string): string {
    return `${chatId} ${userId}`
  }

  async set(chatId: string, userId: string, typing: boolean): Promise<void> {
    if (!typing) {
      this.ended(chatId, userId)
      await this.publish(chatId, userId, false)
      return
    }
    const key = this.key(chatId, userId)
    const lapsesAt = this.clock.now() + this.timeoutMs
    const typist = this.typists.get(key)
    // A refresh only moves the deadline: the peer already sees "typing".
    if (typist) typist.lapsesAt = lapsesAt
    else {
      this.typists.set(key, { chatId, userId, lapsesAt })
      await this.publish(chatId, userId, true)
    }
  }

  /** typing=false, if this process saw the user typing in the chat. */
  async stop(chatId: string, userId: string): Promise<void> {
    if (this.ended(chatId, userId)) await this.publish(chatId, userId, false)
  }

  /**
   * Forgets the user's typing without an event (a message of theirs tells subscribers); true
   * when there was one.
   */
  ended(chatId: string, userId: string): boolean {
    return this.typists.delete(this.key(chatId, userId))
  }

  close(): void {
    this.stopSweeping()
    this.typists.clear()
  }

  private sweep(): void {
    const now = this.clock.now()
    for (const [key, typist] of this.typists) {
      if (typist.lapsesAt > now) continue
      this.typists.delete(key)
      void this.publish(typist.chatId, typist.userId, false)
    }
  }

  private publish(chatId: string, userId: string, typing: boolean): Promise<void> {
    return this.events.publish(topics.chat(chatId), { kind: 'typing', chatId, userId, typing })
  }
}
