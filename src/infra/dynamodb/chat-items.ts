import type { FormattedItem } from 'dynamodb-toolbox/entity'
import { ConditionCheck } from 'dynamodb-toolbox/entity/actions/transactCheck'
import { PutTransaction } from 'dynamodb-toolbox/entity/actions/transactPut'
import { UpdateTransaction } from 'dynamodb-toolbox/entity/actions/transactUpdate'
import { $add, $delete } from 'dynamodb-toolbox/entity/actions/update/symbols'
import type { BlockReport, ChatRecord, ChatSide, MessageRecord, RecentSend } from '../../domain/ports.js'
import type { HushEntities } from './entities.js'

/**
 * How chat records map onto items and into the items of the transactions that start and close a
 * chat. The store (chat-store.ts) sends them.
 */

/**
 * Seconds DynamoDB TTL waits past a chat's expiry. Reads decide expiry by `expiresAt` on the
 * server's clock; the grace keeps a small clock skew from deleting a chat a reader still sees live.
 */
const TTL_GRACE_SECONDS = 2
export const ttlOf = (expiresAt: number) => Math.ceil(expiresAt / 1000) + TTL_GRACE_SECONDS

type ChatItem = FormattedItem<HushEntities['Chat']>
type MessageItem = FormattedItem<HushEntities['Message']>

/**
 * A side's membership and its place in the live set (only while the set has room). For the side
 * a chat is hidden from, checks of the same items that always hold instead: the transaction
 * reads and locks as much either way, so a hidden chat takes as long to start as any other.
 */
export function joinItems(entities: HushEntities, chat: ChatRecord, side: ChatSide, maxLiveChats: number) {
  const { Membership, LiveChats } = entities
  const { userId } = chat[side]
  if (chat.hiddenFrom === side) {
    return [
      Membership.build(ConditionCheck).key({ userId, chatId: chat.chatId }).condition({ attr: 'createdAt', exists: false }),
      LiveChats.build(ConditionCheck)
        .key({ userId })
        .condition({ or: [{ attr: 'version', exists: false }, { attr: 'version', exists: true }] }),
    ] as const
  }
  return [
    Membership.build(PutTransaction).item({ userId, chatId: chat.chatId, createdAt: chat.createdAt }),
    LiveChats.build(UpdateTransaction)
      .item({ userId, chatIds: $add(new Set([chat.chatId])), version: $add(1) })
      .options({ condition: { or: [{ attr: 'chatIds', exists: false }, { size: 'chatIds', lt: maxLiveChats }] } }),
  ] as const
}

/**
 * ACTIVE → LEFT or BLOCKED while live, out of both sides' live sets; a block also stores the block
 * and the report.
 */
export function closeItems(entities: HushEntities, chat: ChatRecord, status: 'LEFT' | 'BLOCKED', closedBy: ChatSide, now: number, report?: BlockReport) {
  const { Chat, Block, Report, LiveChats } = entities
  const { chatId } = chat
  const close = Chat.build(UpdateTransaction)
    .item({ chatId, status, closedBy })
    .options({
      condition: {
        and: [{ attr: 'expiresAt', gt: now }, status === 'LEFT' ? { attr: 'status', eq: 'ACTIVE' } : { attr: 'status', ne: 'BLOCKED' }],
      },
    })
  // A closed chat no longer counts against either side's limit (a side that never saw it has it
  // in no set; deleting an absent member changes nothing).
  const leaveLiveSets = (['a', 'b'] as const)
    .filter((side) => chat.hiddenFrom !== side)
    .map((side) => LiveChats.build(UpdateTransaction).item({ userId: chat[side].userId, chatIds: $delete(new Set([chatId])), version: $add(1) }))
  const blocking = report
    ? [
        Block.build(PutTransaction).item({ blockerId: report.reporterId, blockedId: report.reportedId, createdAt: now }),
        Report.build(PutTransaction).item(report),
      ]
    : []
  return [close, ...leaveLiveSets, ...blocking] as const
}

/** A side's recent sends as one short string attribute (`key:seq`, space-separated), absent when none. */
export function fromRecentSends(sends: readonly RecentSend[] | undefined): string | undefined {
  return sends && sends.length > 0 ? sends.map(({ key, seq }) => `${key}:${seq}`).join(' ') : undefined
}

export function toRecentSends(attribute: string | undefined): RecentSend[] | undefined {
  return attribute?.split(' ').map((pair) => {
    const at = pair.lastIndexOf(':')
    return { key: pair.slice(0, at), seq: Number(pair.slice(at + 1)) }
  })
}

export function fromChat(chat: ChatRecord) {
  return {
    chatId: chat.chatId,
    pairKey: chat.pairKey,
    generation: chat.generation,
    postId: chat.postId,
    aUserId: chat.a.userId,
    aRole: chat.a.role,
    aAlias: chat.a.alias,
    aReadSeq: chat.a.readSeq,
    aDeliveredSeq: chat.a.deliveredSeq,
    aUnread: chat.a.unread,
    bUserId: chat.b.userId,
    bRole: chat.b.role,
    bAlias: chat.b.alias,
    bReadSeq: chat.b.readSeq,
    bDeliveredSeq: chat.b.deliveredSeq,
    bUnread: chat.b.unread,
    aMutedUntil: chat.a.mutedUntil,
    bMutedUntil: chat.b.mutedUntil,
    aRecentSends: fromRecentSends(chat.a.recentSends),
    bRecentSends: fromRecentSends(chat.b.recentSends),
    status: chat.status,
    closedBy: chat.closedBy,
    hiddenFrom: chat.hiddenFrom,
    createdAt: chat.createdAt,
    lastActivityAt: chat.lastActivityAt,
    expiresAt: chat.expiresAt,
    lastSeq: chat.lastSeq,
    ttl: ttlOf(chat.expiresAt),
  }
}

export function toChat(item: ChatItem): ChatRecord {
  return {
    chatId: item.chatId,
    pairKey: item.pairKey,
    generation: item.generation,
    postId: item.postId,
    a: { userId: item.aUserId, role: item.aRole, alias: item.aAlias, readSeq: item.aReadSeq, deliveredSeq: item.aDeliveredSeq, unread: item.aUnread, mutedUntil: item.aMutedUntil, recentSends: toRecentSends(item.aRecentSends) },
    b: { userId: item.bUserId, role: item.bRole, alias: item.bAlias, readSeq: item.bReadSeq, deliveredSeq: item.bDeliveredSeq, unread: item.bUnread, mutedUntil: item.bMutedUntil, recentSends: toRecentSends(item.bRecentSends) },
    status: item.status,
    closedBy: item.closedBy,
    hiddenFrom: item.hiddenFrom,
    createdAt: item.createdAt,
    lastActivityAt: item.lastActivityAt,
    expiresAt: item.expiresAt,
    lastSeq: item.lastSeq,
  }
}

export function toMessage(item: MessageItem): MessageRecord {
  return {
    chatId: item.chatId,
    seq: item.seq,
    senderId: item.senderId,
    clientMessageId: item.clientMessageId,
    body: item.body,
    photoId: item.photoId,
    createdAt: item.createdAt,
  }
}

