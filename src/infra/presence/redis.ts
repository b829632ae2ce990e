import type { Redis } from 'ioredis'
import type { PresenceEntry, PresenceStore } from '../../domain/ports.js'

const SWEEP_BATCH = 200

/**
 * Presence in Redis: per chat and user a sorted set of subscription ids scored by when their
 * heartbeat runs out, plus one index of all entries by the same score, so that expired entries
 * of a dead process are found without scanning keys. ZREM on the index decides which process
 * reports an expired entry: exactly one gets 1 back.
 */
export class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(chatId: string, userId: string): string {
    return `${this.prefix}presence:${chatId}:${userId}`
  }

  private get index(): string {
    return `${this.prefix}presence:index`
  }

  private member(entry: PresenceEntry): string {
    return JSON.stringify([entry.chatId, entry.userId, entry.subscriptionId])
  }

  async join(chatId: string, userId: string, subscriptionId: string, ttlMs: number): Promise<boolean> {
    const key = this.key(chatId, userId)
    const now = Date.now()
    const results = await this.redis
      .multi()
      .zcount(key, now, '+inf')
      .zadd(key, now + ttlMs, subscriptionId)
      .pexpire(key, ttlMs * 2)
      .zadd(this.index, now + ttlMs, this.member({ chatId, userId, subscriptionId }))
      .exec()
    return Number(results?.[0]?.[1] ?? 0) === 0
  }

  async heartbeat(entries: PresenceEntry[], ttlMs: number): Promise<void> {
    if (entries.length === 0) return
    const expires = Date.now() + ttlMs
    const pipeline = this.redis.pipeline()
    for (const entry of entries) {
      const key = this.key(entry.chatId, entry.userId)
      pipeline.zadd(key, expires, entry.subscriptionId).pexpire(key, ttlMs * 2)
      pipeline.zadd(this.index, 'XX', expires, this.member(entry))
    }
    await pipeline.exec()
  }

  async leave(chatId: string, userId: string, subscriptionId: string): Promise<boolean> {
    const key = this.key(chatId, userId)
    const results = await this.redis
      .multi()
      .zrem(key, subscriptionId)
      .zrem(this.index, this.member({ chatId, userId, subscriptionId }))
      .zcount(key, Date.now(), '+inf')
      .exec()
    return Number(results?.[0]?.[1] ?? 0) === 1 && Number(results?.[2]?.[1] ?? 0) === 0
  }

  async isPresent(chatId: string, userId: string): Promise<boolean> {
    return (await this.redis.zcount(this.key(chatId, userId), Date.now(), '+inf')) > 0
  }

  async sweepExpired(): Promise<Array<{ chatId: string; userId: string }>> {
    const now = Date.now()
    const expired = await this.redis.zrangebyscore(this.index, '-inf', now, 'LIMIT', 0, SWEEP_BATCH)
    const gone: Array<{ chatId: string; userId: string }> = []
    for (const member of expired) {
      if ((await this.redis.zrem(this.index, member)) !== 1) continue
      const [chatId, userId, subscriptionId] = JSON.parse(member) as [string, string, string]
      const key = this.key(chatId, userId)
      const [, [, remaining] = [null, 0]] = (await this.redis.multi().zrem(key, subscriptionId).zcount(key, now, '+inf').exec()) ?? []
      if (Number(remaining) === 0) gone.push({ chatId, userId })
    }
    return gone
  }

  async close(): Promise<void> {}
}
