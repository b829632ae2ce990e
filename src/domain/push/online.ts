import type { Cancel, Clock, PresenceStore } from '../ports.js'

/** The one "chat" of the online store: presence per user, whatever they subscribe to. */
const ANYWHERE = '*'

/**
 * Whether a user has any live subscription (chatEvents or notifications) open on any process: a
 * push goes only to users who have none (SPEC, "Offline users"). It keeps its counts in a presence
 * store of its own, with the same heartbeat and sweep as chat presence, so the users of a process
 * that died count as offline within the presence TTL.
 */
export class OnlineTracker {
  private readonly timers: Cancel[]

  constructor(
    private readonly store: PresenceStore,
    clock: Clock,
    ttlMs: number,
    /** Calls its listener whenever the store may have lost entries (a Redis failover). */
    onGap: (listener: () => void) => () => void,
  ) {
    this.timers = [
      clock.every(Math.max(50, ttlMs / 3), () => void store.heartbeat().catch(() => [])),
      clock.every(Math.max(50, ttlMs / 6), () => void store.sweepExpired().catch(() => [])),
      onGap(() => void store.restore().catch(() => [])),
    ]
    void store.heartbeat().catch(() => [])
  }

  /** One more subscription of the user. Best effort: a Redis outage must not refuse a subscription. */
  async join(userId: string): Promise<void> {
    await this.store.join(ANYWHERE, userId).catch(() => false)
  }

  async leave(userId: string): Promise<void> {
    await this.store.leave(ANYWHERE, userId).catch(() => false)
  }

  /** Unknown (the store unreachable) counts as online: a missed push beats a push to a user reading the chat. */
  isOnline(userId: string): Promise<boolean> {
    return this.store.isPresent(ANYWHERE, userId).catch(() => true)
  }

  close(): void {
    for (const cancel of this.timers) cancel()
  }
}
