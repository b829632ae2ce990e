import { topics, type EventBus } from '../events.js'
import type { Cancel, Clock } from '../ports.js'

/** How often typing is looked at: lapses and held-back changes go out within this. */
const SWEEP_MS = 250
/** A chat side's typing changes go out at most once per this long; later ones wait, the latest wins. */
const CHANGE_INTERVAL_MS = 500

interface Typist {
  chatId: string
  userId: string
  /** What the user last said (or lapsed to). */
  typing: boolean
  /** What subscribers were last told. */
  shown: boolean
  shownAt: number
  /** Clock time past which typing lapses without a refresh. */
  lapsesAt: number
}

/**
 * Typing indicators: never stored, only published, and only on a change. The process that took the
 * last setTyping(true) of a user in a chat sends typing=false after `timeoutMs` without a refresh;
 * the end of the typist's subscription sends it at once, and a message of the typist ends it
 * without an event (subscribers read it from the message). A chat side's changes go out at most
 * once per CHANGE_INTERVAL_MS: a client toggling as fast as it can costs one event per interval.
 *
 * One timer sweeps every typist rather than a timer per typist: a refresh then only moves a
 * number, where a fresh timer per refresh (several a second per typist) would outlive the young
 * generation and load the collector with objects that die seconds later.
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

  async set(chatId: string, userId: string, typing: boolean): Promise<void> {
    const now = this.clock.now()
    const key = `${chatId} ${userId}`
    let typist = this.typists.get(key)
    if (!typist) {
      // Unknown here, so shown as not typing; a stop may come to another process than the start.
      typist = { chatId, userId, typing: false, shown: !typing, shownAt: Number.NEGATIVE_INFINITY, lapsesAt: 0 }
      this.typists.set(key, typist)
    }
    typist.typing = typing
    if (typing) typist.lapsesAt = now + this.timeoutMs
    await this.showIfDue(typist, now)
  }

  /** typing=false, if this process told anyone the user was typing in the chat. */
  async stop(chatId: string, userId: string): Promise<void> {
    const key = `${chatId} ${userId}`
    const typist = this.typists.get(key)
    this.typists.delete(key)
    if (typist?.shown) await this.publish(chatId, userId, false)
  }

  /** Forgets the user's typing without an event: a message of theirs tells subscribers. */
  ended(chatId: string, userId: string): void {
    this.typists.delete(`${chatId} ${userId}`)
  }

  close(): void {
    this.stopSweeping()
    this.typists.clear()
  }

  private sweep(): void {
    const now = this.clock.now()
    for (const [key, typist] of this.typists) {
      if (typist.typing && typist.lapsesAt <= now) typist.typing = false
      if (typist.typing !== typist.shown) void this.showIfDue(typist, now)
      else if (!typist.typing && now - typist.shownAt >= CHANGE_INTERVAL_MS) this.typists.delete(key)
    }
  }

  /** Tells subscribers the typist's state if it changed and the interval since the last change passed. */
  private async showIfDue(typist: Typist, now: number): Promise<void> {
    if (typist.typing === typist.shown || now - typist.shownAt < CHANGE_INTERVAL_MS) return
    typist.shown = typist.typing
    typist.shownAt = now
    await this.publish(typist.chatId, typist.userId, typist.typing)
  }

  private publish(chatId: string, userId: string, typing: boolean): Promise<void> {
    return this.events.publish(topics.chat(chatId), { kind: 'typing', chatId, userId, typing })
  }
}
