import { AccessPattern } from 'dynamodb-toolbox/entity/actions/accessPattern'
import { DeleteItemCommand } from 'dynamodb-toolbox/entity/actions/delete'
import { GetItemCommand } from 'dynamodb-toolbox/entity/actions/get'
import { PutItemCommand } from 'dynamodb-toolbox/entity/actions/put'
import { item } from 'dynamodb-toolbox/schema/item'
import { number } from 'dynamodb-toolbox/schema/number'
import type { Logger } from 'pino'
import type { ChatReclaimer } from './chat-reclaimer.js'
import { keyOf, type HushEntities } from './entities.js'
import { bucketStartOf, indexItemOf, type ExpiryIndexItem, type ExpiryIndexLayout } from './expiry-index.js'

/** The lease (lease-store.ts) whose holder runs the backstop. */
export const BACKSTOP_LEASE = 'expiry-backstop'

/**
 * Ten minutes for the default 24 h life, a 144th of a shorter one (tests), at least a second: with
 * hour buckets, a chat is reclaimed within 1 h 10 min of its expiry plus the run's own time.
 */
export function backstopIntervalMs(chatTtlSeconds: number): number {
  return Math.min(600_000, Math.max(1_000, Math.floor((chatTtlSeconds * 1000) / 144)))
}

export interface BackstopRun {
  buckets: number
  reclaimed: number
  refiled: number
  /** The start of the last bucket swept, stored with the lease as the next run's start. */
  cursor: number | undefined
}

/**
 * Reclaims what the stream cascade missed (no reader for longer than the stream's 24 h retention,
 * or a reader that failed), without a scan: it reads the expiry index (expiry-index.ts) bucket by
 * bucket, oldest first, from where its last run stopped to the last bucket that has ended. A chat
 * found still live is filed again under the bucket of its current expiry; a chat gone or expired is
 * reclaimed by the same code as the cascade's (chat-reclaimer.ts); then its index item is deleted.
 */
export class ExpiryBackstop {
  private readonly bucketItems

  constructor(
    private readonly options: {
      entities: HushEntities
      reclaimer: ChatReclaimer
      layout: ExpiryIndexLayout
      logger: Logger
      /** Where the very first run starts (no cursor stored yet): this long before now. */
      lookbackMs: number
    },
  ) {
    const { ExpiryIndex } = options.entities
    this.bucketItems = new AccessPattern(ExpiryIndex)
      .schema(item({ bucketStart: number(), shard: number() }))
      .pattern(({ bucketStart, shard }) => {
        const { pk, sk } = keyOf(ExpiryIndex, { bucketStart, shard, chatId: '' })
        return { partition: pk, range: { beginsWith: sk } }
      })
  }

  /** Sweeps every bucket after `cursor` that has ended by `now`, saving progress after each. */
  async run(cursor: number | undefined, save: (cursor: number) => Promise<void>, now = Date.now()): Promise<BackstopRun> {
    const { bucketMs } = this.options.layout
    const result: BackstopRun = { buckets: 0, reclaimed: 0, refiled: 0, cursor }
    let bucketStart = cursor === undefined ? bucketStartOf(this.options.layout, now - this.options.lookbackMs) : cursor + bucketMs
    for (; bucketStart + bucketMs <= now; bucketStart += bucketMs) {
      // The bucket's partitions side by side: 8 chats in flight, so a run keeps up with ~8 times
      // the expiries one at a time would (each chat is a few sequential round trips).
      const shards = Array.from({ length: this.options.layout.shards }, (_, shard) => shard)
      const outcomes = await Promise.allSettled(shards.map((shard) => this.sweep(bucketStart, shard, now, result)))
      const failed = outcomes.find((outcome) => outcome.status === 'rejected')
      // The cursor stays before this bucket: the next run sweeps it again (every step is idempotent).
      if (failed) throw failed.reason
      result.buckets++
      result.cursor = bucketStart
      await save(bucketStart)
    }
    if (result.buckets > 0) this.options.logger.info(result, 'expiry backstop swept')
    return result
  }

  private async sweep(bucketStart: number, shard: number, now: number, result: BackstopRun): Promise<void> {
    let exclusiveStartKey: Record<string, unknown> | undefined
    do {
      const page = await this.bucketItems.query({ bucketStart, shard }).options({ consistent: true, exclusiveStartKey }).send()
      for (const filed of page.Items ?? []) {
        if (await this.settle(filed, now)) result.refiled++
        else result.reclaimed++
      }
      exclusiveStartKey = page.LastEvaluatedKey
    } while (exclusiveStartKey)
  }

  /** Re-files a live chat (true) or reclaims a gone or expired one (false); then drops the old entry. */
  private async settle(filed: ExpiryIndexItem, now: number): Promise<boolean> {
    const { Chat, ExpiryIndex } = this.options.entities
    const { chatId } = filed
    const { Item: chat } = await Chat.build(GetItemCommand).key({ chatId }).options({ consistent: true }).send()
    // Live until DynamoDB's TTL may delete it (its expiry plus a grace, chat-items.ts): the same
    // instant the reclaim may delete the chat item, so a chat is either re-filed or reclaimed whole.
    const dueAt = chat && chat.ttl * 1000
    const live = dueAt !== undefined && dueAt > now
    if (live) {
      // Put before delete: a crash in between leaves the chat filed twice, never unfiled.
      await ExpiryIndex.build(PutItemCommand).item(indexItemOf(this.options.layout, filed, dueAt)).send()
    } else {
      if (chat) await this.options.reclaimer.deleteExpiredChat(chatId, now)
      await this.options.reclaimer.reclaim({ chatId, pairKey: filed.pairKey, userIds: [filed.aUserId, filed.bUserId] })
    }
    await ExpiryIndex.build(DeleteItemCommand).key(filed).send()
    return live
  }
}
