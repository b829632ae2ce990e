import { randomUUID } from 'node:crypto'
import type { PushJob, PushQueue } from '../../domain/ports.js'
import type { RedisCommands } from '../redis/connections.js'

export interface RedisPushQueueOptions {
  /** The shared command connection (for adds, acks and the delayed set). */
  redis: RedisCommands
  /** Prepended to every key, so deployments (and test runs) can share one Redis. */
  prefix: string
  /** A job taken by a consumer and not finished this long after is handed to another (its process died). */
  claimIdleMs: number
  /** Hand-outs of one job before it is dropped as poison (its handler keeps failing). */
  maxDeliveries: number
  /** Jobs one process handles at once. */
  concurrency: number
  onError(error: unknown, context: string): void
}

const GROUP = 'pushers'
/** How long one blocking read waits for a job; also how often jobs for later are checked. */
const BLOCK_MS = 500

/**
 * The push queue on a Redis stream with a consumer group: XADD stores a job, XREADGROUP hands it
 * to one consumer (one per process), XACK + XDEL finish it; a job whose consumer died stays
 * pending and XAUTOCLAIM hands it to another after `claimIdleMs`. Jobs for later wait in a sorted
 * set (scored by when they are due, with their bodies in a hash) and a script moves the due ones
 * to the stream; a job for later under a collapse key that is already waiting is dropped.
 *
 * All keys share the hash tag `{push}`, so on a Redis Cluster they sit on one shard and the
 * scripts touch one slot. The blocking reads use a connection of their own.
 */
export class RedisPushQueue implements PushQueue {
  private readonly redis: QueueRedis
  private readonly keys
  private readonly consumer = `c-${randomUUID()}`
  private reader: RedisCommands | undefined
  private running = false
  private loop: Promise<void> | undefined
  private inFlight = 0

  constructor(private readonly options: RedisPushQueueOptions) {
    this.redis = withQueueScripts(options.redis)
    const base = `${options.prefix}{push}`
    this.keys = { stream: `${base}:jobs`, later: `${base}:later`, laterJobs: `${base}:later-jobs` }
  }

  async add(job: PushJob): Promise<void> {
    await this.redis.xadd(this.keys.stream, '*', 'job', JSON.stringify(job))
  }

  async addLater(job: PushJob, at: number, collapseKey?: string): Promise<void> {
    await this.redis.hushPushLater(this.keys.later, this.keys.laterJobs, Math.ceil(at), collapseKey ?? `once ${randomUUID()}`, JSON.stringify(job))
  }

  /** Jobs waiting: `ready` in the stream (pending ones included), `later` for their time. */
  async depth(): Promise<{ ready: number; later: number }> {
    const [ready, later] = await Promise.all([this.redis.xlen(this.keys.stream), this.redis.zcard(this.keys.later)])
    return { ready, later }
  }

  consume(handler: (job: PushJob) => Promise<void>): void {
    if (this.running) throw new Error('the push queue already has a consumer')
    this.running = true
    this.reader = this.options.redis.duplicate()
    this.loop = this.run(handler)
  }

  /** Stops taking jobs and waits for the ones in hand; what is left pending goes to another process. */
  async close(): Promise<void> {
    this.running = false
    await this.loop
    this.reader?.disconnect()
  }

  /** Creates the stream and its group, unless they exist. */
  private async ensureGroup(): Promise<void> {
    await this.redis.xgroup('CREATE', this.keys.stream, GROUP, '0', 'MKSTREAM').catch((error: Error) => {
      if (!/BUSYGROUP/.test(error.message)) this.options.onError(error, 'creating the push consumer group')
    })
  }

  private async run(handler: (job: PushJob) => Promise<void>): Promise<void> {
    const { keys, options } = this
    await this.ensureGroup()
    let nextClaim = 0
    while (this.running) {
      try {
        await this.redis.hushPushDue(keys.later, keys.laterJobs, keys.stream, Date.now(), 100)
        if (Date.now() >= nextClaim) {
          nextClaim = Date.now() + Math.max(BLOCK_MS, options.claimIdleMs / 3)
          await this.claimAbandoned(handler)
        }
        const room = options.concurrency - this.inFlight
        if (room <= 0) {
          await sleep(20)
          continue
        }
        const read = (await this.reader!.xreadgroup('GROUP', GROUP, this.consumer, 'COUNT', room, 'BLOCK', BLOCK_MS, 'STREAMS', keys.stream, '>')) as StreamReply | null
        for (const [id, fields] of read?.[0]?.[1] ?? []) this.start(handler, id, fields)
      } catch (error) {
        if (!this.running) break
        // Redis lost the stream (a restart without persistence, a failover ahead of replication):
        // the next XADD makes the stream again but not the group, so make both now.
        if (error instanceof Error && /NOGROUP/.test(error.message)) {
          await this.ensureGroup()
          continue
        }
        options.onError(error, 'reading the push queue')
        await sleep(1_000)
      }
    }
    while (this.inFlight > 0) await sleep(20)
  }

  /** Jobs whose consumer died mid-way (or whose handler failed), handed to this one. */
  private async claimAbandoned(handler: (job: PushJob) => Promise<void>): Promise<void> {
    const { keys, options } = this
    const [, entries] = (await this.redis.xautoclaim(keys.stream, GROUP, this.consumer, options.claimIdleMs, '0-0', 'COUNT', 50)) as [string, Entry[]]
    for (const [id, fields] of entries) {
      // An entry deleted while pending comes back without fields.
      if (!fields) continue
      const [pending] = (await this.redis.xpending(keys.stream, GROUP, id, id, 1)) as Array<[string, string, number, number]>
      if (pending && pending[3] > options.maxDeliveries) {
        options.onError(new Error(`push job ${id} dropped after ${pending[3]} hand-outs: ${fieldOf(fields)}`), 'push job')
        await this.finish(id)
        continue
      }
      this.start(handler, id, fields)
    }
  }

  private start(handler: (job: PushJob) => Promise<void>, id: string, fields: string[]): void {
    this.inFlight++
    void (async () => {
      try {
        await handler(JSON.parse(fieldOf(fields)) as PushJob)
        await this.finish(id)
      } catch (error) {
        // Left pending: XAUTOCLAIM hands it out again after claimIdleMs.
        this.options.onError(error, 'push job failed; it will be handed out again')
      } finally {
        this.inFlight--
      }
    })()
  }

  private async finish(id: string): Promise<void> {
    await this.redis.xack(this.keys.stream, GROUP, id)
    await this.redis.xdel(this.keys.stream, id)
  }
}

type Entry = [id: string, fields: string[]]
type StreamReply = Array<[stream: string, entries: Entry[]]>

const fieldOf = (fields: string[]): string => fields[fields.indexOf('job') + 1] ?? 'null'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface QueueScripts {
  /** Adds a job for later unless one waits under the same key; 1 when added. */
  hushPushLater(later: string, laterJobs: string, at: number, key: string, job: string): Promise<number>
  /** Moves up to `limit` due jobs to the stream; how many it moved. */
  hushPushDue(later: string, laterJobs: string, stream: string, now: number, limit: number): Promise<number>
}

type QueueRedis = RedisCommands & QueueScripts

function withQueueScripts(redis: RedisCommands): QueueRedis {
  const scripted = redis as QueueRedis
  if (typeof scripted.hushPushLater === 'function') return scripted
  redis.defineCommand('hushPushLater', {
    numberOfKeys: 2,
    lua: `if redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0`,
  })
  redis.defineCommand('hushPushDue', {
    numberOfKeys: 3,
    lua: `local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, key in ipairs(due) do
  local job = redis.call('HGET', KEYS[2], key)
  if job then redis.call('XADD', KEYS[3], '*', 'job', job) end
  redis.call('ZREM', KEYS[1], key)
  redis.call('HDEL', KEYS[2], key)
end
return #due`,
  })
  return scripted
}
