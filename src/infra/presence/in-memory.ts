import type { PresenceKey, PresenceStore } from '../../domain/ports.js'

/** Presence of a single server process (no REDIS_URL): counts of open subscriptions. */
export class InMemoryPresenceStore implements PresenceStore {
  /** chatId + userId → open subscriptions. */
  private readonly counts = new Map<string, number>()

  private key(chatId: string, userId: string): string {
    return `${chatId} ${userId}`
  }

  async join(chatId: string, userId: string): Promise<boolean> {
    const key = this.key(chatId, userId)
    const count = this.counts.get(key) ?? 0
    this.counts.set(key, count + 1)
    return count === 0
  }

  async leave(chatId: string, userId: string): Promise<boolean> {
    const key = this.key(chatId, userId)
    const count = this.counts.get(key) ?? 0
    if (count <= 1) this.counts.delete(key)
    else this.counts.set(key, count - 1)
    return count === 1
  }

  async isPresent(chatId: string, userId: string): Promise<boolean> {
    return this.counts.has(this.key(chatId, userId))
  }

  /** A single process never outlives its own subscriptions: nothing to beat or sweep. */
  async heartbeat(): Promise<PresenceKey[]> {
    return []
  }

  async restore(): Promise<PresenceKey[]> {
    return []
  }

  async sweepExpired(): Promise<PresenceKey[]> {
    return []
  }

  async close(): Promise<void> {
    this.counts.clear()
  }
}
