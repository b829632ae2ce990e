import { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'

/** One Redis (a URL), or a Redis Cluster (its seed nodes). */
export type RedisTarget = { url: string } | { clusterNodes: Array<{ host: string; port: number }> }

export interface RedisConnectionOptions {
  target: RedisTarget
  logger: Logger
}

/** What events, presence and limits send commands through: a node or a whole cluster. */
export type RedisCommands = Redis | Cluster

/** A subscriber's losses settle into one gap this long after the last change (a failover flaps). */
const GAP_SETTLE_MS = 500

/**
 * Reconnect attempts back off to one every 500 ms: a refused connect costs nothing, and once Redis
 * is back every open stream must catch up within 2 s (the wait here, then the resync's reads).
 */
const retryStrategy = (attempt: number) => Math.min(attempt * 100, 500)

/** Readiness's PING: Redis answers in a millisecond or so; a second of silence is no slow answer. */
const PING_TIMEOUT_MS = 1_500

/** PINGs unanswered this long: the connections are dead (see ping). */
const SILENT_RECONNECT_MS = 5_000

/** A connect that has not completed by then is tried again (ioredis's default waits 10 s). */
const CONNECT_TIMEOUT_MS = 3_000

/**
 * The process's two Redis connections, shared by events, presence and rate limits: one for
 * commands (pipelined automatically: a burst in one tick costs one write per node) and one in
 * subscriber mode. On a Redis Cluster, events use sharded pub/sub (SPUBLISH, SSUBSCRIBE): a
 * channel lives on one shard, so an event costs that shard alone, where PUBLISH would be
 * broadcast to every node. ioredis reconnects, follows failovers and resubscribes by itself;
 * what was published while a subscriber was away is lost, which `onGap` tells.
 */
export class RedisConnections {
  readonly commands: RedisCommands
  readonly subscriber: RedisCommands
  /** True on a cluster: events go through SPUBLISH and SSUBSCRIBE. */
  readonly sharded: boolean
  private readonly log: Logger
  private readonly gapListeners = new Set<() => void>()
  private lost = false
  private gapTimer: NodeJS.Timeout | undefined
  /** When the first of the PINGs still unanswered was sent. */
  private silentSince: number | undefined

  constructor(options: RedisConnectionOptions) {
    const { target } = options
    this.log = options.logger.child({ component: 'redis' })
    this.sharded = 'clusterNodes' in target
    if ('clusterNodes' in target) {
      const redisOptions = { retryStrategy, lazyConnect: true }
      this.commands = new Cluster(target.clusterNodes, { lazyConnect: true, enableAutoPipelining: true, redisOptions: { ...redisOptions, maxRetriesPerRequest: 3 } })
      this.subscriber = new Cluster(target.clusterNodes, { lazyConnect: true, shardedSubscribers: true, redisOptions: { ...redisOptions, maxRetriesPerRequest: null } })
      // A node or a shard's subscriber lost (a master failing over), then all shards subscribed again.
      for (const lost of ['-node', '-subscriber']) this.subscriber.on(lost, () => this.lostSome())
      this.subscriber.on('subscribersReady', () => this.backAgain())
    } else {
      this.commands = new Redis(target.url, { retryStrategy, lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: true, connectTimeout: CONNECT_TIMEOUT_MS })
      // A subscribe made while Redis is away waits for it to come back rather than fail: the
      // subscribers resync from the store then anyway (onGap).
      this.subscriber = new Redis(target.url, { retryStrategy, lazyConnect: true, autoResubscribe: true, maxRetriesPerRequest: null, connectTimeout: CONNECT_TIMEOUT_MS })
      this.subscriber.on('close', () => this.lostSome())
      this.subscriber.on('ready', () => this.backAgain())
    }
    for (const [role, client] of [['commands', this.commands], ['subscriber', this.subscriber]] as const) {
      client.on('error', (error: Error) => this.log.warn({ role, err: error.message }, 'Redis connection error'))
    }
  }

  /** The event a subscriber's messages come as: `message`, or `smessage` for sharded channels. */
  get messageEvent(): 'message' | 'smessage' {
    return this.sharded ? 'smessage' : 'message'
  }

  publish(channel: string, message: string): Promise<number> {
    return (this.sharded ? this.commands.spublish(channel, message) : this.commands.publish(channel, message)) as Promise<number>
  }

  async subscribe(channel: string): Promise<void> {
    await (this.sharded ? this.subscriber.ssubscribe(channel) : this.subscriber.subscribe(channel))
  }

  async unsubscribe(channel: string): Promise<void> {
    await (this.sharded ? this.subscriber.sunsubscribe(channel) : this.subscriber.unsubscribe(channel))
  }

  /**
   * Calls `listener` once the subscriber is back after losing its connection (or a shard's), so
   * that subscribers reconcile with the store at once instead of at their next event.
   */
  onGap(listener: () => void): () => void {
    this.gapListeners.add(listener)
    return () => this.gapListeners.delete(listener)
  }

  async connect(): Promise<void> {
    await Promise.all([this.commands.connect(), this.subscriber.connect()])
  }

  /**
   * Throws unless Redis answers within `timeoutMs` (for /readyz): a firewall that drops packets
   * would leave a PING waiting for minutes. When PINGs on one node have gone unanswered for
   * SILENT_RECONNECT_MS, its connections are taken for dead, though TCP does not know it yet, and
   * both are dropped and reopened: the subscriber's loss is then told (onGap), and a healed link
   * is used at once rather than at TCP's next retransmission, which backs off to minutes. A
   * shorter stall (a slow Redis) is only reported: reconnecting every process would make each
   * of their streams re-read the store. A cluster's client follows its nodes itself.
   */
  async ping(timeoutMs = PING_TIMEOUT_MS): Promise<void> {
    const sentAt = Date.now()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))
    try {
      if ((await Promise.race([this.commands.ping(), timeout])) !== 'timeout') {
        this.silentSince = undefined
        return
      }
    } finally {
      clearTimeout(timer)
    }
    this.silentSince ??= sentAt
    if (!this.sharded && this.commands.status === 'ready' && Date.now() - this.silentSince >= SILENT_RECONNECT_MS) {
      this.log.warn({ silentMs: Date.now() - this.silentSince }, 'Redis has not answered PING: reconnecting')
      this.silentSince = undefined
      this.commands.disconnect(true)
      this.subscriber.disconnect(true)
    }
    throw new Error(`Redis did not answer PING within ${timeoutMs} ms`)
  }

  async close(): Promise<void> {
    clearTimeout(this.gapTimer)
    this.gapListeners.clear()
    await Promise.all([this.commands.quit().catch(() => this.commands.disconnect()), this.subscriber.quit().catch(() => this.subscriber.disconnect())])
  }

  private lostSome(): void {
    this.lost = true
    clearTimeout(this.gapTimer)
  }

  /**
   * Back: once the subscriber has settled (a failover flaps for a while), and its resubscriptions
   * have been answered (a PING's answer comes after theirs), everything published from then on is
   * heard, and the subscribers may read what was not.
   */
  private backAgain(): void {
    if (!this.lost) return
    clearTimeout(this.gapTimer)
    this.gapTimer = setTimeout(() => {
      this.lost = false
      void this.subscriber
        .ping()
        .catch(() => undefined)
        .then(() => {
          this.log.info('Redis subscriber back: subscribers resync from the store')
          for (const listener of this.gapListeners) listener()
        })
    }, this.sharded ? GAP_SETTLE_MS : 0)
    this.gapTimer.unref()
  }
}
