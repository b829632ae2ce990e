import { DeleteItemCommand } from 'dynamodb-toolbox/entity/actions/delete'
import { UpdateItemCommand } from 'dynamodb-toolbox/entity/actions/update'
import { $add, $delete } from 'dynamodb-toolbox/entity/actions/update/symbols'
import { DeletePartitionCommand } from 'dynamodb-toolbox/table/actions/deletePartition'
import type { Logger } from 'pino'
import { unlessConditionFails } from './client.js'
import { keyOf, type HushEntities } from './entities.js'

/** What a reclaim needs to know of a chat: the stream's old image or the expiry index item has it. */
export interface ExpiredChat {
  chatId: string
  pairKey: string
  userIds: [string, string]
}

/**
 * Deletes everything of an expired chat, by key and by one Query of its partition, never by a
 * scan: the one reclaim path of both triggers, the stream cascade (expiry-cascade.ts) and the
 * backstop (expiry-backstop.ts). Every step is idempotent, so a chat reclaimed twice (by both
 * triggers, or a shard re-read by its next holder) only costs the repeat.
 */
export class ChatReclaimer {
  constructor(
    private readonly entities: HushEntities,
    private readonly logger: Logger,
    /** For what lives outside the table (photo bytes). */
    private readonly onChatReclaimed?: (chatId: string) => Promise<void>,
  ) {}

  async reclaim({ chatId, pairKey, userIds }: ExpiredChat): Promise<void> {
    const { Chat, Message, Photo, Membership, Pair } = this.entities
    // The chat's partition: its messages (claims never committed too) and photo records (the Chat item
    // itself is TTL's, or the backstop's). The toolbox queries it and deletes in batches, retrying
    // what DynamoDB leaves unprocessed.
    await Chat.table
      .build(DeletePartitionCommand)
      .entities(Message, Photo)
      .query({ partition: keyOf(Chat, { chatId }).pk })
      .send()
    for (const userId of userIds) {
      await Membership.build(DeleteItemCommand).key({ userId, chatId }).send()
      await this.leaveLiveSet(userId, chatId)
    }
    // Only while the pair still points at this chat: a newer chat of the pair keeps its pointer.
    await unlessConditionFails(() =>
      Pair.build(DeleteItemCommand).key({ pairKey }).options({ condition: { attr: 'chatId', eq: chatId } }).send(),
    )
    await this.onChatReclaimed?.(chatId)
    this.logger.info({ chatId }, 'expired chat reclaimed')
  }

  /**
   * Deletes a chat item that TTL has not deleted yet, only if its TTL has passed: the same rule
   * DynamoDB's TTL applies, so a live chat (or one a send just extended) is never touched.
   */
  async deleteExpiredChat(chatId: string, now: number): Promise<void> {
    await unlessConditionFails(() =>
      this.entities.Chat.build(DeleteItemCommand)
        .key({ chatId })
        .options({ condition: { attr: 'ttl', lte: Math.floor(now / 1000) } })
        .send(),
    )
  }

  /** Takes an expired chat out of a user's live set, where a prune would have found it otherwise. */
  private async leaveLiveSet(userId: string, chatId: string): Promise<void> {
    await unlessConditionFails(() =>
      this.entities.LiveChats.build(UpdateItemCommand)
        .item({ userId, chatIds: $delete(new Set([chatId])), version: $add(1) })
        .options({ condition: { attr: 'version', exists: true } })
        .send(),
    )
  }
}
