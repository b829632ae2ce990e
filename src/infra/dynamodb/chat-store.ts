import { isConditionalCheckFailure, unlessConditionFails } from './client.js'
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb'
import { BatchGetCommand, execute as executeBatchGet } from 'dynamodb-toolbox/table/actions/batchGet'
import { AccessPattern } from 'dynamodb-toolbox/entity/actions/accessPattern'
import { BatchGetRequest } from 'dynamodb-toolbox/entity/actions/batchGet'
import { DeleteItemCommand } from 'dynamodb-toolbox/entity/actions/delete'
import { GetItemCommand } from 'dynamodb-toolbox/entity/actions/get'
import { PutItemCommand } from 'dynamodb-toolbox/entity/actions/put'
import { PutTransaction } from 'dynamodb-toolbox/entity/actions/transactPut'
import { execute as executeTransaction } from 'dynamodb-toolbox/entity/actions/transactWrite'
import { UpdateItemCommand } from 'dynamodb-toolbox/entity/actions/update'
import { $add, $remove } from 'dynamodb-toolbox/entity/actions/update/symbols'
import { item } from 'dynamodb-toolbox/schema/item'
import { number } from 'dynamodb-toolbox/schema/number'
import { string } from 'dynamodb-toolbox/schema/string'
import type {
  BlockReport,
  ChatPair,
  ChatRecord,
  ChatSide,
  ChatStore,
  CreateChatResult,
  LiveChatSet,
  MessageCommit,
  MessageRange,
  MessageRecord,
  ParticipantMarks,
  ReadMarks,
} from '../../domain/ports.js'
import { closeItems, fromChat, fromRecentSends, joinItems, toChat, toMessage, ttlOf } from './chat-items.js'
import { keyOf, type HushEntities } from './entities.js'
import { expiryIndexLayout, indexItemOf, type ExpiryIndexLayout } from './expiry-index.js'

const BATCH_GET_MAX = 100
/** Batch gets' keys DynamoDB left unprocessed (throttled) are asked for again, at most this often. */
const BATCH_GET_ATTEMPTS = 10

export class DynamoChatStore implements ChatStore {
  private readonly patterns

  constructor(
    private readonly entities: HushEntities,
    /** Where startChat files a chat for the expiry backstop (expiry-index.ts); the default suits the 24 h life. */
    private readonly expiryLayout: ExpiryIndexLayout = expiryIndexLayout(86_400),
  ) {
    const messageKey = (chatId: string, seq: number) => keyOf(entities.Message, { chatId, seq })
    this.patterns = {
      /** A chat's messages in a seq range. */
      messagesOfChat: new AccessPattern(entities.Message)
        .schema(item({ chatId: string(), fromSeq: number(), toSeq: number() }))
        .pattern(({ chatId, fromSeq, toSeq }) => ({
          partition: messageKey(chatId, 0).pk,
          range: { between: [messageKey(chatId, fromSeq).sk, messageKey(chatId, toSeq).sk] as [string, string] },
        })),
      /** The chats a user is in. */
      chatsOfUser: new AccessPattern(entities.Membership)
        .schema(item({ userId: string() }))
        .pattern(({ userId }) => {
          const { pk, sk } = keyOf(entities.Membership, { userId, chatId: '' })
          return { partition: pk, range: { beginsWith: sk } }
        }),
    }
  }

  async getPair(pairKey: string): Promise<ChatPair | undefined> {
    const { Item } = await this.entities.Pair.build(GetItemCommand).key({ pairKey }).options({ consistent: true }).send()
    return Item && { chatId: Item.chatId, generation: Item.generation }
  }

  async getChat(chatId: string): Promise<ChatRecord | undefined> {
    const { Item } = await this.entities.Chat.build(GetItemCommand).key({ chatId }).options({ consistent: true }).send()
    return Item && toChat(Item)
  }

  async getChats(chatIds: string[]): Promise<ChatRecord[]> {
    const chats: ChatRecord[] = []
    for (let i = 0; i < chatIds.length; i += BATCH_GET_MAX) {
      const requests = chatIds.slice(i, i + BATCH_GET_MAX).map((chatId) => this.entities.Chat.build(BatchGetRequest).key({ chatId }))
      const command = this.entities.Chat.table.build(BatchGetCommand).requests(...(requests as [typeof requests[number]]))
      for (const found of everyResponse(await executeBatchGet({ maxAttempts: BATCH_GET_ATTEMPTS }, command))) if (found) chats.push(toChat(found))
    }
    return chats
  }

  async listChatIds(userId: string): Promise<string[]> {
    const ids: string[] = []
    let exclusiveStartKey: Record<string, unknown> | undefined
    do {
      const page = await this.patterns.chatsOfUser.query({ userId }).options({ exclusiveStartKey }).send()
      ids.push(...(page.Items ?? []).map((membership) => membership.chatId))
      exclusiveStartKey = page.LastEvaluatedKey
    } while (exclusiveStartKey)
    return ids
  }

  async createChat(chat: ChatRecord, previousGeneration: number | undefined, maxLiveChats: number): Promise<CreateChatResult> {
    const { Pair, Chat, ExpiryIndex } = this.entities
    try {
      await executeTransaction(
        Pair.build(PutTransaction)
          .item({ pairKey: chat.pairKey, chatId: chat.chatId, generation: chat.generation })
          .options({
            condition:
              previousGeneration === undefined
                ? { attr: 'pairKey', exists: false }
                : { attr: 'generation', eq: previousGeneration },
          }),
        Chat.build(PutTransaction)
          .item(fromChat(chat))
          .options({ condition: { attr: 'chatId', exists: false } }),
        ...joinItems(this.entities, chat, 'a', maxLiveChats),
        ...joinItems(this.entities, chat, 'b', maxLiveChats),
        // Last, so the indexes of the conditions read below stay put.
        ExpiryIndex.build(PutTransaction).item(
          indexItemOf(this.expiryLayout, { chatId: chat.chatId, pairKey: chat.pairKey, aUserId: chat.a.userId, bUserId: chat.b.userId }, chat.expiresAt),
        ),
      )
      return 'created'
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error
      const failed = (index: number) => error.CancellationReasons?.[index]?.Code === 'ConditionalCheckFailed'
      if (failed(0)) return 'pair-moved'
      if (failed(3)) return { full: 'a' }
      if (failed(5)) return { full: 'b' }
      return 'busy'
    }
  }

  async liveChatIds(userId: string): Promise<LiveChatSet> {
    const { Item } = await this.entities.LiveChats.build(GetItemCommand).key({ userId }).options({ consistent: true }).send()
    return { chatIds: [...(Item?.chatIds ?? [])], version: Item?.version ?? 0 }
  }

  async pruneLiveChats(userId: string, keep: string[], version: number): Promise<boolean> {
    try {
      await this.entities.LiveChats.build(UpdateItemCommand)
        .item({ userId, chatIds: keep.length > 0 ? new Set(keep) : $remove(), version: $add(1) })
        .options({ condition: { attr: 'version', eq: version } })
        .send()
      return true
    } catch (error) {
      if (isConditionalCheckFailure(error)) return false
      throw error
    }
  }

  async claimMessage(message: MessageRecord): Promise<boolean> {
    const put = this.entities.Message.build(PutItemCommand).item(message).options({ condition: { attr: 'chatId', exists: false } })
    return (await unlessConditionFails(() => put.send())) !== undefined
  }

  async commitMessage(chat: ChatRecord, message: MessageRecord, commit: MessageCommit, now: number): Promise<ChatRecord | undefined> {
    const senderSide: ChatSide = chat.a.userId === message.senderId ? 'a' : 'b'
    const recipientSide: ChatSide = senderSide === 'a' ? 'b' : 'a'
    const written = await unlessConditionFails(() =>
      this.entities.Chat.build(UpdateItemCommand)
        .item({
          chatId: chat.chatId,
          lastSeq: message.seq,
          lastActivityAt: message.createdAt,
          expiresAt: commit.expiresAt,
          ttl: ttlOf(commit.expiresAt),
          // Sending implies having read everything before it.
          [`${senderSide}ReadSeq`]: message.seq,
          [`${senderSide}DeliveredSeq`]: message.seq,
          [`${senderSide}Unread`]: 0,
          [`${senderSide}RecentSends`]: fromRecentSends(commit.senderRecentSends),
          [`${recipientSide}Unread`]: $add(1),
        })
        .options({
          condition: {
            and: [
              { attr: 'lastSeq', eq: message.seq - 1 },
              { attr: 'status', eq: 'ACTIVE' },
              { attr: 'expiresAt', gt: now },
            ],
          },
          returnValues: 'ALL_NEW',
        })
        .send(),
    )
    return written?.Attributes && toChat(written.Attributes)
  }

  async getMessage(chatId: string, seq: number): Promise<MessageRecord | undefined> {
    const { Item } = await this.entities.Message.build(GetItemCommand).key({ chatId, seq }).options({ consistent: true }).send()
    return Item && toMessage(Item)
  }

  async dropMessage(message: MessageRecord): Promise<void> {
    await unlessConditionFails(() =>
      this.entities.Message.build(DeleteItemCommand)
        .key({ chatId: message.chatId, seq: message.seq })
        .options({ condition: { and: [{ attr: 'senderId', eq: message.senderId }, { attr: 'clientMessageId', eq: message.clientMessageId }] } })
        .send(),
    )
  }

  async listMessages(chatId: string, range: MessageRange): Promise<MessageRecord[]> {
    const fromSeq = (range.afterSeq ?? 0) + 1
    if (range.throughSeq < fromSeq) return []
    const { Items = [] } = await this.patterns.messagesOfChat
      .query({ chatId, fromSeq, toSeq: range.throughSeq })
      .options({ limit: range.limit, reverse: range.fromEnd, consistent: true })
      .send()
    const messages = Items.map(toMessage)
    return range.fromEnd ? messages.reverse() : messages
  }

  async countMessagesFrom(chatId: string, senderId: string, afterSeq: number, throughSeq: number): Promise<number> {
    let count = 0
    let exclusiveStartKey: Record<string, unknown> | undefined
    do {
      const page = await this.patterns.messagesOfChat
        .query({ chatId, fromSeq: afterSeq + 1, toSeq: throughSeq })
        .options({ select: 'COUNT', filters: { Message: { attr: 'senderId', eq: senderId } }, exclusiveStartKey, consistent: true })
        .send()
      count += page.Count ?? 0
      exclusiveStartKey = page.LastEvaluatedKey
    } while (exclusiveStartKey)
    return count
  }

  async storeReadMarks(chatId: string, side: ChatSide, marks: ReadMarks, ifLastSeq: number): Promise<ChatRecord | undefined> {
    // One literal type for both sides, as raiseMark does: the toolbox checks conditions per attribute.
    const readSeq = `${side}ReadSeq` as 'aReadSeq'
    const deliveredSeq = `${side}DeliveredSeq` as 'aDeliveredSeq'
    const written = await unlessConditionFails(() =>
      this.entities.Chat.build(UpdateItemCommand)
        .item({ chatId, [readSeq]: marks.readSeq, [deliveredSeq]: marks.deliveredSeq, [`${side}Unread`]: marks.unread })
        .options({
          condition: {
            and: [
              { attr: 'lastSeq', eq: ifLastSeq },
              { attr: readSeq, lt: marks.readSeq },
              { attr: deliveredSeq, lte: marks.deliveredSeq },
            ],
          },
          returnValues: 'ALL_NEW',
        })
        .send(),
    )
    return written?.Attributes && toChat(written.Attributes)
  }

  async raiseMark(chatId: string, side: ChatSide, mark: 'readSeq' | 'deliveredSeq', seq: number): Promise<ParticipantMarks | undefined> {
    const attribute = `${side}${mark === 'readSeq' ? 'ReadSeq' : 'DeliveredSeq'}` as const
    try {
      const { Attributes } = await this.entities.Chat.build(UpdateItemCommand)
        .item({ chatId, [attribute]: seq })
        .options({
          condition: { and: [{ attr: 'chatId', exists: true }, { attr: attribute as 'aReadSeq', lt: seq }] },
          returnValues: 'ALL_NEW',
        })
        .send()
      if (!Attributes) return undefined
      const chat = toChat(Attributes)
      return { readSeq: chat[side].readSeq, deliveredSeq: chat[side].deliveredSeq }
    } catch (error) {
      if (isConditionalCheckFailure(error)) return undefined
      throw error
    }
  }

  async closeChat(chat: ChatRecord, status: 'LEFT' | 'BLOCKED', closedBy: ChatSide, now: number, report?: BlockReport): Promise<boolean> {
    try {
      await executeTransaction(...closeItems(this.entities, chat, status, closedBy, now, report))
      return true
    } catch (error) {
      if (error instanceof TransactionCanceledException) return false
      throw error
    }
  }

  async setMute(chatId: string, side: ChatSide, until: number): Promise<boolean> {
    const attribute = side === 'a' ? 'aMutedUntil' : 'bMutedUntil'
    try {
      await this.entities.Chat.build(UpdateItemCommand)
        .item({ chatId, [attribute]: until === 0 ? $remove() : until })
        .options({ condition: { attr: 'chatId', exists: true } })
        .send()
      return true
    } catch (error) {
      if (isConditionalCheckFailure(error)) return false
      throw error
    }
  }

  async hasBlocked(blockerId: string, blockedId: string): Promise<boolean> {
    const { Item } = await this.entities.Block.build(GetItemCommand).key({ blockerId, blockedId }).send()
    return Item !== undefined
  }
}

/**
 * A batch get's one answer per key, in the keys' order. Keys DynamoDB still left unprocessed after
 * every attempt fail the batch: read as missing, a live chat would look expired.
 */
function everyResponse<Item>({ Responses, UnprocessedKeys }: { Responses?: Array<Array<Item | undefined> | undefined>; UnprocessedKeys?: Record<string, unknown> }): Array<Item | undefined> {
  const left = Object.values(UnprocessedKeys ?? {}).reduce((n: number, table) => n + ((table as { Keys?: unknown[] }).Keys?.length ?? 0), 0)
  if (left > 0) throw new Error(`DynamoDB left ${left} keys of a BatchGetItem unprocessed after ${BATCH_GET_ATTEMPTS} attempts`)
  return Responses?.[0] ?? []
}
