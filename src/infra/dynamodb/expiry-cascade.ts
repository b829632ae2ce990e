import { isConditionalCheckFailure } from './client.js'
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { DeleteItemCommand } from 'dynamodb-toolbox/entity/actions/delete'
import { UpdateItemCommand } from 'dynamodb-toolbox/entity/actions/update'
import { $add, $delete } from 'dynamodb-toolbox/entity/actions/update/symbols'
import { DeletePartitionCommand } from 'dynamodb-toolbox/table/actions/deletePartition'
import { EntityFormatter } from 'dynamodb-toolbox/entity/actions/format'
import type { Logger } from 'pino'
import { keyOf, type HushEntities } from './entities.js'

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

export interface ExpiryCascadeOptions {
  client: DynamoDBClient
  /** Built from the same endpoint, region and credentials as `client`. */
  streamsClient: DynamoDBStreamsClient
  tableName: string
  entities: HushEntities
  logger: Logger
  /** How often each shard is read. Default 1 s. */
  pollMs?: number
  /** Called after a chat's items are deleted, for what lives outside the table (photo bytes). */
  onChatReclaimed?: (chatId: string) => Promise<void>
}

/**
 * Reclaims everything of an expired chat without scanning. Only the chat item carries a TTL
 * (refreshed by every message at no extra write); when DynamoDB's TTL deletes it, the stream's
 * REMOVE record (principal dynamodb.amazonaws.com) triggers this cascade, which deletes the
 * chat's partition (messages, idempotency records, photo records) by Query, its two memberships,
 * its place in both live sets and its pair pointer, every key built by the toolbox entities. Deletes are idempotent, so several processes may run it, and a shard re-read from
 * TRIM_HORIZON after a restart does no harm.
 *
 * Worst case: a chat of n messages costs n deletes once, at expiry (amortised one per message);
 * a send stays at 3 writes however long the chat lives.
 */
export class ExpiryCascade {
  private readonly shardIterators = new Map<string, string | undefined>()
  private readonly finishedShards = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = false
  private streamArn: string | undefined
  private nextDiscovery = 0

  constructor(private readonly options: ExpiryCascadeOptions) {}

  async start(): Promise<void> {
    const { Table } = await this.options.client.send(new DescribeTableCommand({ TableName: this.options.tableName }))
    this.streamArn = Table?.LatestStreamArn
    if (!this.streamArn) {
      this.options.logger.warn({ table: this.options.tableName }, 'table has no stream: expired chats are not cascaded')
      return
    }
    this.schedule(0)
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      let backlog = false
      this.running = this.poll()
        .then((more) => void (backlog = more))
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'expiry cascade round failed'))
        .finally(() => this.schedule(backlog ? BACKLOG_PAUSE_MS : (this.options.pollMs ?? 1_000)))
    }, ms)
  }

  /** One read of every open shard; true when some shard gave a full page (more is waiting). */
  private async poll(): Promise<boolean> {
    if (Date.now() >= this.nextDiscovery) {
      // New shards appear as DynamoDB rolls them over (hours apart); a look every ten polls suffices.
      this.nextDiscovery = Date.now() + 10 * (this.options.pollMs ?? 1_000)
      await this.discoverShards()
    }
    let backlog = false
    for (const [shardId, iterator] of this.shardIterators) {
      if (this.stopped) return false
      let current = iterator
      if (current === undefined) {
        const started = await this.options.streamsClient.send(
          new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
        )
        current = started.ShardIterator
      }
      if (!current) {
        this.finish(shardId)
        continue
      }
      try {
        const { Records = [], NextShardIterator } = await this.options.streamsClient.send(
          new GetRecordsCommand({ ShardIterator: current, Limit: RECORDS_PER_READ }),
        )
        if (Records.length === RECORDS_PER_READ) backlog = true
        for (const record of Records) await this.handle(record)
        if (NextShardIterator) this.shardIterators.set(shardId, NextShardIterator)
        else this.finish(shardId)
      } catch (error) {
        // An iterator lives 15 minutes; a fresh one from TRIM_HORIZON re-reads harmlessly.
        if (error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException) {
          this.shardIterators.set(shardId, undefined)
        } else {
          throw error
        }
      }
    }
    return backlog
  }

  private finish(shardId: string): void {
    this.shardIterators.delete(shardId)
    this.finishedShards.add(shardId)
  }

  private async discoverShards(): Promise<void> {
    let exclusiveStartShardId: string | undefined
    do {
      const { StreamDescription } = await this.options.streamsClient.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      )
      for (const shard of StreamDescription?.Shards ?? []) {
        const id = shard.ShardId
        if (id && !this.shardIterators.has(id) && !this.finishedShards.has(id)) this.shardIterators.set(id, undefined)
      }
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId
    } while (exclusiveStartShardId)
  }

  private async handle(record: _Record): Promise<void> {
    if (record.eventName !== 'REMOVE' || record.userIdentity?.PrincipalId !== TTL_PRINCIPAL) return
    const image = record.dynamodb?.OldImage
    if (!image) return
    const stored = unmarshall(image)
    const { Chat } = this.options.entities
    if (stored[Chat.table.entityAttributeSavedAs] !== Chat.entityName) return
    const chat = Chat.build(EntityFormatter).format(stored)
    await this.reclaim(chat.chatId, [chat.aUserId, chat.bUserId], chat.pairKey)
  }

  /** Takes an expired chat out of a user's live set, where a prune would have found it otherwise. */
  private async leaveLiveSet(userId: string, chatId: string): Promise<void> {
    try {
      await this.options.entities.LiveChats.build(UpdateItemCommand)
        .item({ userId, chatIds: $delete(new Set([chatId])), version: $add(1) })
        .options({ condition: { attr: 'version', exists: true } })
        .send()
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error
    }
  }

  /** Deletes every remaining item of an expired chat. */
  async reclaim(chatId: string, userIds: string[], pairKey: string): Promise<void> {
    const { Chat, Message, MessageRequest, Photo, Membership, Pair } = this.options.entities
    // The chat's partition: its messages, idempotency records and photo records (the Chat item
    // itself is what TTL deleted). The toolbox queries it and deletes in batches, retrying what
    // DynamoDB leaves unprocessed.
    await Chat.table
      .build(DeletePartitionCommand)
      .entities(Message, MessageRequest, Photo)
      .query({ partition: keyOf(Chat, { chatId }).pk })
      .send()
    for (const userId of userIds) {
      await Membership.build(DeleteItemCommand).key({ userId, chatId }).send()
      await this.leaveLiveSet(userId, chatId)
    }
    try {
      // Only while the pair still points at this chat: a newer chat of the pair keeps its pointer.
      await Pair.build(DeleteItemCommand)
        .key({ pairKey })
        .options({ condition: { attr: 'chatId', eq: chatId } })
        .send()
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error
    }
    await this.options.onChatReclaimed?.(chatId)
    this.options.logger.info({ chatId }, 'expired chat reclaimed')
  }
}
