import { randomUUID } from 'node:crypto'
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { ExpiredIteratorException, TrimmedDataAccessException, type DynamoDBStreamsClient, type _Record } from '@aws-sdk/client-dynamodb-streams'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { EntityFormatter } from 'dynamodb-toolbox/entity/actions/format'
import type { Logger } from 'pino'
import type { ChatReclaimer } from './chat-reclaimer.js'
import type { HushEntities } from './entities.js'
import { LeaseWatch, planShardLeases, type LeaseState } from './lease-plan.js'
import { LeaseStore } from './lease-store.js'
import { Repeater } from './repeater.js'
import { listShards, openIterator, readPage } from './stream-shards.js'

/** The principal DynamoDB names on a stream record when its TTL process deleted the item. */
const TTL_PRINCIPAL = 'dynamodb.amazonaws.com'
/**
 * Stream records read per call. Every write of the table shows on the stream, and this process
 * also serves live traffic: small pages, read back to back while a shard has a backlog, keep each
 * turn short instead of parsing a thousand records in one go.
 */
const RECORDS_PER_READ = 100
/** Pause between reads while a shard still has a backlog. */
const BACKLOG_PAUSE_MS = 20
/**
 * A holder that stops renewing loses its shards this long after its last renewal, and another
 * process takes them at its next lease round (a third of it later): within 20 s (SPEC-level goal:
 * 30 s).
 */
export const DEFAULT_LEASE_MS = 15_000
/**
 * DescribeStream is limited to 10 calls a second per account: each process lists the shards once a
 * minute (new shards appear hours apart), so a fleet of hundreds stays within it.
 */
const DISCOVERY_MS = 60_000

export interface ExpiryCascadeOptions {
  client: DynamoDBClient
  /** Built from the same endpoint, region and credentials as `client`. */
  streamsClient: DynamoDBStreamsClient
  tableName: string
  entities: HushEntities
  reclaimer: ChatReclaimer
  logger: Logger
  /** This process in the lease items; default a random id. */
  ownerId?: string
  /** How often each held shard is read. Default 1 s. */
  pollMs?: number
  /** Called after each reclaim with the seconds since DynamoDB TTL removed the chat (for metrics). */
  onReclaimed?: (lagSeconds: number) => void
  /** Default DEFAULT_LEASE_MS; rounds (renewals, takeovers) come three times a period. */
  leaseMs?: number
}

interface HeldShard {
  iterator: string | undefined
  checkpoint: string | undefined
  /** This process's clock at the last write that proved the lease still ours. */
  confirmedAt: number
}

/**
 * Reclaims expired chats from the table's stream. Only the chat item carries a TTL (refreshed by
 * every message at no extra write); when DynamoDB's TTL deletes it, the stream's REMOVE record
 * (principal dynamodb.amazonaws.com) triggers the reclaim (chat-reclaimer.ts).
 *
 * Each shard is read by the one process that holds its lease (lease-plan.ts, lease-store.ts):
 * DynamoDB throttles a shard read by more than two. Leases spread across the processes alive, a
 * dead holder's shards are taken over within a lease period and a round, a clean stop hands them
 * over at once, and the checkpoint stored with a lease lets the next holder resume where the last
 * stopped. Child shards wait until their parent is read to its end, so records stay in order.
 */
export class ExpiryCascade {
  readonly ownerId: string
  private readonly leases: LeaseStore
  private readonly watch: LeaseWatch
  private readonly leaseMs: number
  private readonly held = new Map<string, HeldShard>()
  private streamShards = new Map<string, string | undefined>()
  private nextDiscovery = 0
  private readonly loops: Repeater
  private streamArn: string | undefined

  constructor(private readonly options: ExpiryCascadeOptions) {
    this.ownerId = options.ownerId ?? randomUUID()
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS
    this.leases = new LeaseStore(options.entities)
    this.watch = new LeaseWatch(() => Date.now(), this.leaseMs)
    this.loops = new Repeater((error, what) => options.logger.error({ err: error }, `expiry cascade ${what} failed`))
  }

  /** The shards this process reads now. */
  heldShards(): string[] {
    return [...this.held.keys()]
  }

  async start(): Promise<void> {
    const { Table } = await this.options.client.send(new DescribeTableCommand({ TableName: this.options.tableName }))
    this.streamArn = Table?.LatestStreamArn
    if (!this.streamArn) {
      this.options.logger.warn({ table: this.options.tableName }, 'table has no stream: expired chats are not cascaded')
      return
    }
    this.loops.repeat('lease round', () => this.runLeaseRound(), 0, () => this.leaseMs / 3)
    this.loops.repeat('read', () => this.readHeldShards(), 0, (backlog) => (backlog ? BACKLOG_PAUSE_MS : (this.options.pollMs ?? 1_000)))
  }

  /** Stops reading and hands every held lease back, so another process takes it at its next round. */
  async stop(): Promise<void> {
    await this.loops.stop()
    await Promise.allSettled([...this.held].map(([shardId, shard]) => this.leases.release(shardId, this.ownerId, shard.checkpoint)))
    this.held.clear()
  }

  /** Renews the held leases, then takes what the plan says (free, expired, or one stolen). */
  private async runLeaseRound(): Promise<void> {
    if (Date.now() >= this.nextDiscovery) await this.discover()
    const leases = await this.leases.list()
    this.watch.observe(leases)
    await this.renewHeld()
    const plan = planShardLeases({
      leases,
      streamShards: new Set(this.streamShards.keys()),
      me: this.ownerId,
      takeable: (lease) => this.watch.isTakeable(lease, this.ownerId) || (lease.owner === this.ownerId && !this.held.has(lease.leaseName)),
    })
    for (const lease of plan.steal ? [plan.steal] : plan.take) await this.take(lease, plan.steal !== undefined)
  }

  /** Lists the stream's shards, files a lease for each new one, forgets finished ones gone from it. */
  private async discover(): Promise<void> {
    const shards = await listShards(this.options.streamsClient, this.streamArn!)
    this.streamShards = new Map(shards.map((shard) => [shard.shardId, shard.parentShardId]))
    this.nextDiscovery = Date.now() + DISCOVERY_MS
    const known = new Map((await this.leases.list()).map((lease) => [lease.leaseName, lease]))
    for (const shard of shards) if (!known.has(shard.shardId)) await this.leases.create(shard.shardId, 'shard', shard.parentShardId)
    for (const lease of known.values()) {
      if (lease.kind === 'shard' && lease.finished && !this.streamShards.has(lease.leaseName)) await this.leases.forget(lease.leaseName)
    }
  }

  private async renewHeld(): Promise<void> {
    for (const shardId of this.heldShards()) {
      // The heartbeat carries the checkpoint: no write of its own, and a new holder re-reads at
      // most a round of records (harmless: the reclaim is idempotent).
      const renewed = await this.leases.renew(shardId, this.ownerId, this.held.get(shardId)?.checkpoint)
      this.confirm(shardId, renewed)
    }
  }

  private async take(lease: LeaseState, stealing: boolean): Promise<void> {
    if (this.loops.isStopped) return
    const taken = await this.leases.take(lease, this.ownerId)
    if (!taken) return
    this.held.set(lease.leaseName, { iterator: undefined, checkpoint: taken.checkpoint, confirmedAt: Date.now() })
    this.options.logger.info({ shardId: lease.leaseName, from: lease.owner, stealing }, 'stream shard lease taken')
  }

  /** Keeps a shard whose lease write succeeded; drops it when another process took it. */
  private confirm(shardId: string, written: LeaseState | undefined): void {
    const shard = this.held.get(shardId)
    if (!shard) return
    if (written) {
      shard.confirmedAt = Date.now()
      return
    }
    this.held.delete(shardId)
    this.options.logger.info({ shardId }, 'stream shard lease lost')
  }

  /** One page of every held shard; true when some shard gave a full page (more is waiting). */
  private async readHeldShards(): Promise<boolean> {
    let backlog = false
    for (const [shardId, shard] of this.held) {
      if (this.loops.isStopped) return false
      // Unconfirmed for a whole period: another process may hold it by now, so stop reading.
      if (Date.now() - shard.confirmedAt > this.leaseMs) {
        this.held.delete(shardId)
        continue
      }
      if ((await this.readShard(shardId, shard)) === 'backlog') backlog = true
    }
    return backlog
  }

  private async readShard(shardId: string, shard: HeldShard): Promise<'backlog' | 'read' | 'ended'> {
    try {
      if (shard.iterator === undefined) {
        const opened = await openIterator(this.options.streamsClient, this.streamArn!, shardId, shard.checkpoint)
        if (opened.trimmed) this.options.logger.warn({ shardId }, 'stream checkpoint trimmed: records in the gap are left to the expiry backstop')
        shard.iterator = opened.iterator
      }
      if (shard.iterator === undefined) return await this.finishShard(shardId)
      const { records, next } = await readPage(this.options.streamsClient, shard.iterator, RECORDS_PER_READ)
      for (const record of records) await this.handle(record)
      shard.checkpoint = records.at(-1)?.dynamodb?.SequenceNumber ?? shard.checkpoint
      if (next === undefined) return await this.finishShard(shardId)
      shard.iterator = next
      return records.length === RECORDS_PER_READ ? 'backlog' : 'read'
    } catch (error) {
      // An iterator lives 15 minutes; a fresh one from the checkpoint re-reads harmlessly.
      if (!(error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException)) throw error
      shard.iterator = undefined
      return 'read'
    }
  }

  /** A closed shard read to its end: its lease is finished, so its children may start. */
  private async finishShard(shardId: string): Promise<'ended'> {
    await this.leases.finish(shardId, this.ownerId)
    this.held.delete(shardId)
    this.nextDiscovery = 0
    this.options.logger.info({ shardId }, 'stream shard read to its end')
    return 'ended'
  }

  private async handle(record: _Record): Promise<void> {
    if (record.eventName !== 'REMOVE' || record.userIdentity?.PrincipalId !== TTL_PRINCIPAL) return
    const image = record.dynamodb?.OldImage
    if (!image) return
    const stored = unmarshall(image)
    const { Chat } = this.options.entities
    if (stored[Chat.table.entityAttributeSavedAs] !== Chat.entityName) return
    const chat = Chat.build(EntityFormatter).format(stored)
    await this.options.reclaimer.reclaim({ chatId: chat.chatId, pairKey: chat.pairKey, userIds: [chat.aUserId, chat.bUserId] })
    const removedAt = record.dynamodb?.ApproximateCreationDateTime
    if (removedAt) this.options.onReclaimed?.(Math.max(0, (Date.now() - removedAt.getTime()) / 1000))
  }
}
