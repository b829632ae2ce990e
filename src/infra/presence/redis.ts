import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { PresenceKey, PresenceStore } from '../../domain/ports.js'

export interface RedisPresenceStoreOptions {
  redis: Redis
  /** Prepended to every key, so deployments (and test runs) can share one Redis. */
  prefix: string
  /** A process whose last heartbeat is older than this is taken for dead and swept. */
  ttlMs: number
}

/** How many dead processes, and entries of one, a sweep handles per round trip. */
const SWEEP_PROCESSES = 16
const SWEEP_ENTRIES = 500

/**
 * Presence in Redis, kept per process rather than per subscription, so that liveness costs one
 * command per heartbeat however many subscribers a process holds:
 * - `presence:<chatId>:<userId>` is a hash with one field per process holding a subscription of
 *   that user on that chat (the process counts its own subscriptions in memory);
 * - `presence:held:<processId>` is the set of those entries, for the sweep;
 * - `presence:processes` scores every process by when its heartbeat runs out.
 * ZREM on `presence:processes` decides which process sweeps a dead one: exactly one gets 1 back.
 * Join and leave are scripts, so "was absent"/"is now absent" are decided atomically with the write.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly processId = randomUUID()
  /** This process's open subscriptions per entry key. */
  private readonly local = new Map<string, number>()
  private readonly redis: PresenceRedis
  private readonly prefix: string
  private readonly ttlMs: number

  constructor(options: RedisPresenceStoreOptions) {
    this.redis = withPresenceScripts(options.redis)
    this.prefix = options.prefix
    this.ttlMs = options.ttlMs
  }

  private entryKey(chatId: string, userId: string): string {
    return `${this.prefix}presence:${chatId}:${userId}`
  }

  private heldKey(processId: string): string {
    return `${this.prefix}presence:held:${processId}`
  }

  private get processesKey(): string {
    return `${this.prefix}presence:processes`
  }

  async join(chatId: string, userId: string): Promise<boolean> {
    const member = memberOf(chatId, userId)
    const count = this.local.get(member) ?? 0
    this.local.set(member, count + 1)
    if (count > 0) return false
    const before = await this.redis.hushPresenceJoin(this.entryKey(chatId, userId), this.heldKey(this.processId), this.processId, member)
    return before === 0
  }

  async leave(chatId: string, userId: string): Promise<boolean> {
    const member = memberOf(chatId, userId)
    const count = this.local.get(member) ?? 0
    if (count === 0) return false
    if (count > 1) {
      this.local.set(member, count - 1)
      return false
    }
    this.local.delete(member)
    const remaining = await this.redis.hushPresenceLeave(this.entryKey(chatId, userId), this.heldKey(this.processId), this.processId, member)
    return remaining === 0
  }

  async isPresent(chatId: string, userId: string): Promise<boolean> {
    if (this.local.has(memberOf(chatId, userId))) return true
    return (await this.redis.hlen(this.entryKey(chatId, userId))) > 0
  }

  async heartbeat(): Promise<PresenceKey[]> {
    const added = await this.redis.zadd(this.processesKey, Date.now() + this.ttlMs, this.processId)
    // Added rather than updated: another process swept this one during a pause, so its entries
    // are gone from Redis while its subscribers are still here.
    if (Number(added) === 0 || this.local.size === 0) return []
    const members = [...this.local.keys()]
    const pipeline = this.redis.pipeline() as unknown as PresencePipeline
    for (const member of members) {
      const { chatId, userId } = keyOf(member)
      pipeline.hushPresenceJoin(this.entryKey(chatId, userId), this.heldKey(this.processId), this.processId, member)
    }
    const results = (await (pipeline as unknown as ReturnType<Redis['pipeline']>).exec()) ?? []
    return members.filter((_, i) => results[i]?.[1] === 0).map(keyOf)
  }

  async sweepExpired(): Promise<PresenceKey[]> {
    const dead = await this.redis.zrangebyscore(this.processesKey, '-inf', Date.now(), 'LIMIT', 0, SWEEP_PROCESSES)
    const gone: PresenceKey[] = []
    for (const processId of dead) {
      if (processId === this.processId || (await this.redis.zrem(this.processesKey, processId)) !== 1) continue
      for (;;) {
        const members = await this.redis.spop(this.heldKey(processId), SWEEP_ENTRIES)
        if (members.length === 0) break
        const pipeline = this.redis.pipeline() as unknown as PresencePipeline
        for (const member of members) {
          const { chatId, userId } = keyOf(member)
          pipeline.hushPresenceDrop(this.entryKey(chatId, userId), processId)
        }
        const results = (await (pipeline as unknown as ReturnType<Redis['pipeline']>).exec()) ?? []
        members.forEach((member, i) => {
          if (results[i]?.[1] === 0) gone.push(keyOf(member))
        })
      }
    }
    return gone
  }

  async close(): Promise<void> {
    this.local.clear()
  }
}

/** Chat and user ids never hold a space. */
const memberOf = (chatId: string, userId: string): string => `${chatId} ${userId}`

function keyOf(member: string): PresenceKey {
  const space = member.indexOf(' ')
  return { chatId: member.slice(0, space), userId: member.slice(space + 1) }
}

interface PresenceScripts<R> {
  /** Adds this process's field and held entry; the number of processes holding the user before. */
  hushPresenceJoin(entryKey: string, heldKey: string, processId: string, member: string): R
  /** Removes them; the number of processes still holding the user. */
  hushPresenceLeave(entryKey: string, heldKey: string, processId: string, member: string): R
  /** Removes a dead process's field; the number of processes still holding the user. */
  hushPresenceDrop(entryKey: string, processId: string): R
}

type PresenceRedis = Redis & PresenceScripts<Promise<number>>
type PresencePipeline = PresenceScripts<PresencePipeline>

function withPresenceScripts(redis: Redis): PresenceRedis {
  const scripted = redis as PresenceRedis
  if (typeof scripted.hushPresenceJoin === 'function') return scripted
  redis.defineCommand('hushPresenceJoin', {
    numberOfKeys: 2,
    lua: `local before = redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[2], ARGV[2])
return before`,
  })
  redis.defineCommand('hushPresenceLeave', {
    numberOfKeys: 2,
    lua: `redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
return redis.call('HLEN', KEYS[1])`,
  })
  redis.defineCommand('hushPresenceDrop', {
    numberOfKeys: 1,
    lua: `redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('HLEN', KEYS[1])`,
  })
  return scripted
}
