import type { PresenceEntry, PresenceStore } from '../../domain/ports.js'

/** Presence of a single server process (no REDIS_URL), with the same expiry rules as Redis. */
export class InMemoryPresenceStore implements PresenceStore {
  /** chatId + userId → subscriptionId → expiry (epoch ms). */
  private readonly entries = new Map<string, Map<string, number>>()

  private key(chatId: string, userId: string): string {
    return JSON.stringify([chatId, userId])
  }

  private live(chatId: string, userId: string): number {
    const now = Date.now()
    let count = 0
    for (const expires of this.entries.get(this.key(chatId, userId))?.values() ?? []) if (expires > now) count++
    return count
  }

  async join(chatId: string, userId: string, subscriptionId: string, ttlMs: number): Promise<boolean> {
    const wasPresent = this.live(chatId, userId) > 0
    const key = this.key(chatId, userId)
    let subscriptions = this.entries.get(key)
    if (!subscriptions) this.entries.set(key, (subscriptions = new Map()))
    subscriptions.set(subscriptionId, Date.now() + ttlMs)
    return !wasPresent
  }

  async heartbeat(entries: PresenceEntry[], ttlMs: number): Promise<void> {
    for (const entry of entries) {
      const subscriptions = this.entries.get(this.key(entry.chatId, entry.userId))
      if (subscriptions?.has(entry.subscriptionId)) subscriptions.set(entry.subscriptionId, Date.now() + ttlMs)
    }
  }

  async leave(chatId: string, userId: string, subscriptionId: string): Promise<boolean> {
    const key = this.key(chatId, userId)
    const subscriptions = this.entries.get(key)
    if (!subscriptions?.delete(subscriptionId)) return false
    if (subscriptions.size === 0) this.entries.delete(key)
    return this.live(chatId, userId) === 0
  }

  async isPresent(chatId: string, userId: string): Promise<boolean> {
    return this.live(chatId, userId) > 0
  }

  async sweepExpired(): Promise<Array<{ chatId: string; userId: string }>> {
    const now = Date.now()
    const gone: Array<{ chatId: string; userId: string }> = []
    for (const [key, subscriptions] of this.entries) {
      let removed = false
      for (const [id, expires] of subscriptions) {
        if (expires <= now) {
          subscriptions.delete(id)
          removed = true
        }
      }
      if (removed && subscriptions.size === 0) {
        this.entries.delete(key)
        const [chatId, userId] = JSON.parse(key) as [string, string]
        gone.push({ chatId, userId })
      }
    }
    return gone
  }

  async close(): Promise<void> {
    this.entries.clear()
  }
}
