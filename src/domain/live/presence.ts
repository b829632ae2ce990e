import { topics, type EventBus } from '../events.js'
import type { Cancel, Clock, PresenceKey, PresenceStore } from '../ports.js'

/**
 * Who is in which chat, across processes: each chatEvents subscription joins on open and leaves
 * on close, and the peer is told when a user's first subscription opens or last one closes. One
 * heartbeat per process keeps its entries alive; a sweep reports the users of processes whose
 * heartbeat stopped (a crash), so they turn absent within the presence TTL.
 */
export class PresenceTracker {
  private readonly timers: Cancel[]

  constructor(
    private readonly deps: { presence: PresenceStore; events: EventBus; clock: Clock },
    ttlMs: number,
  ) {
    const { clock } = deps
    this.timers = [
      clock.every(Math.max(50, ttlMs / 3), () => void this.beat()),
      clock.every(Math.max(50, ttlMs / 6), () => void this.sweep()),
      // After a gap in the bus (a Redis restart or failover) presence may be gone too: rebuild it.
      deps.events.onGap(() => void this.restore()),
    ]
    void this.beat()
  }

  /**
   * One more subscription of the user on the chat. Presence is best effort: a Redis outage must
   * not refuse a subscription.
   */
  async join(chatId: string, userId: string): Promise<void> {
    if (await this.deps.presence.join(chatId, userId).catch(() => false)) await this.announce({ chatId, userId }, true)
  }

  async leave(chatId: string, userId: string): Promise<void> {
    if (await this.deps.presence.leave(chatId, userId).catch(() => false)) await this.announce({ chatId, userId }, false)
  }

  isPresent(chatId: string, userId: string): Promise<boolean> {
    return this.deps.presence.isPresent(chatId, userId)
  }

  close(): void {
    for (const cancel of this.timers) cancel()
  }

  /** Keeps this process's entries alive, and re-announces them if it had been taken for dead. */
  private async beat(): Promise<void> {
    const back = await this.deps.presence.heartbeat().catch(() => [])
    for (const key of back) await this.announce(key, true)
  }

  private async restore(): Promise<void> {
    const back = await this.deps.presence.restore().catch(() => [])
    for (const key of back) await this.announce(key, true)
  }

  /** Reports users whose every subscription died with its process. */
  private async sweep(): Promise<void> {
    const gone = await this.deps.presence.sweepExpired().catch(() => [])
    for (const key of gone) await this.announce(key, false)
  }

  private announce({ chatId, userId }: PresenceKey, present: boolean): Promise<void> {
    return this.deps.events.publish(topics.chat(chatId), { kind: 'presence', chatId, userId, present })
  }
}
