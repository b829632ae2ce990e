import { randomUUID } from 'node:crypto'
import type { PresenceKey, PresenceStore } from '../../domain/ports.js'
import type { RedisCommands } from '../redis/connections.js'

export interface RedisPresenceStoreOptions {
  redis: RedisCommands
  /** Prepended to every key, so deployments (and test runs) can share one Redis. */
  prefix: string
  /** A process whose last heartbeat is older than this is taken for dead and swept. */
  ttlMs: number
}

/** How many dead processes, and entries of one, a sweep handles per round. */
const SWEEP_PROCESSES = 16
const SWEEP_ENTRIES = 500

/**
 * Presence in Redis, kept per process rather than per subscription, so that liveness costs one
 * command per heartbeat however many subscribers a process holds:
 * - `presence:{<chatId>:<userId>}` is a hash with one field per process holding a subscription of
 *   that user on that chat (the process counts its own subscriptions in memory);
 * - `presence:held:{<processId>}` is the set of those entries, for the sweep;
 * - `presence:processes` scores every process by when its heartbeat runs out.
 * ZREM on `presence:processes` decides which process sweeps a dead one: exactly one gets 1 back.
 * Join and leave are scripts on the entry alone, so "was absent"/"is now absent" are decided
 * atomically with the write. Every command and script touches one key, so every key may live on
 * its own shard of a Redis Cluster; the held set is written before a join and after a leave, so
 * it always covers what the entries hold (an extra member only costs the sweep a no-op).
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

  private entryKey(member: string): string {
    return `${this.prefix}presence:{${member}}`
  }

  private heldKey(processId: string): string {
    return `${this.prefix}presence:held:{${processId}}`
  }

  private get processesKey(): string {
    return `${this.prefix}presence:processes`
  }

  async join(chatId: string, userId: string): Promise<boolean> {
    const member = memberOf(chatId, userId)
    const count = this.local.get(member) ?? 0
    this.local.set(member, count + 1)
    if (count > 0) return false
    return (await this.write(member)) === 0
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
    const remaining = await this.redis.hushPresenceLeave(this.entryKey(member), this.processId)
    await this.redis.srem(this.heldKey(this.processId), member)
    return remaining === 0
  }

  async isPresent(chatId: string, userId: string): Promise<boolean> {
    const member = memberOf(chatId, userId)
    if (this.local.has(member)) return true
    return (await this.redis.hlen(this.entryKey(member))) > 0
  }

  async heartbeat(): Promise<PresenceKey[]> {
    const added = await this.redis.zadd(this.processesKey, Date.now() + this.ttlMs, this.processId)
    // Added rather than updated: another process swept this one during a pause, so its entries
    // are gone from Redis while its subscribers are still here.
    return Number(added) === 0 ? [] : this.restore()
  }

  async restore(): Promise<PresenceKey[]> {
    const members = [...this.local.keys()]
    // One command each, in parallel: ioredis pipelines them per node by itself.
    const before = await Promise.all(members.map((member) => this.write(member)))
    return members.filter((_, i) => before[i] === 0).map(keyOf)
  }

  async sweepExpired(): Promise<PresenceKey[]> {
    const dead = await this.redis.zrangebyscore(this.processesKey, '-inf', Date.now(), 'LIMIT', 0, SWEEP_PROCESSES)
    const gone: PresenceKey[] = []
    for (const processId of dead) {
      if (processId === this.processId || (await this.redis.zrem(this.processesKey, processId)) !== 1) continue
      for (;;) {
        const members = await this.redis.spop(this.heldKey(processId), SWEEP_ENTRIES)
        if (members.length === 0) break
        const remaining = await Promise.all(members.map((member) => this.redis.hushPresenceDrop(this.entryKey(member), processId)))
        members.forEach((member, i) => {
          if (remaining[i] === 0) gone.push(keyOf(member))
        })
      }
    }
    return gone
  }

  async close(): Promise<void> {
    this.local.clear()
  }

  /** Writes this process's field on an entry; how many processes held it before. */
  private async write(member: string): Promise<number> {
    await this.redis.sadd(this.heldKey(this.processId), member)
    return this.redis.hushPresenceJoin(this.entryKey(member), this.processId)
  }
}

/** Chat and user ids never hold a space. */
const memberOf = (chatId: string, userId: string): string => `${chatId} ${userId}`

function keyOf(member: string): PresenceKey {
  const space = member.indexOf(' ')
  return { chatId: member.slice(0, space), userId: member.slice(space + 1) }
}

interface PresenceScripts {
  /** Adds this process's field; the number of processes holding the entry before. */
  hushPresenceJoin(entryKey: string, processId: string): Promise<number>
  /** Removes a process's field; the number of processes still holding the entry. */
  hushPresenceLeave(entryKey: string, processId: string): Promise<number>
  hushPresenceDrop(entryKey: string, processId: string): Promise<number>
}

type PresenceRedis = RedisCommands & PresenceScripts

function withPresenceScripts(redis: RedisCommands): PresenceRedis {
  const scripted = redis as PresenceRedis
  if (typeof scripted.hushPresenceJoin === 'function') return scripted
  redis.defineCommand('hushPresenceJoin', {
    numberOfKeys: 1,
    lua: `local before = redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[1], 1)
return before`,
  })
  const remove = {
    numberOfKeys: 1,
    lua: `redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('HLEN', KEYS[1])`,
  }
  redis.defineCommand('hushPresenceLeave', remove)
  redis.defineCommand('hushPresenceDrop', remove)
  return scripted
}
