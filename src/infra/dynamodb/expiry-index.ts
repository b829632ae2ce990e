import type { HushEntities } from './entities.js'

/**
 * The expiry index: every chat is filed, from its start, under the time bucket of its earliest
 * possible expiry, so the backstop finds expired chats by reading the buckets that have passed,
 * never by scanning. Messages do not touch it (a send stays 3 writes): the backstop re-files a
 * chat it finds still live under the bucket of its current expiry, about once per chat lifetime
 * (a day) of activity.
 */
export interface ExpiryIndexLayout {
  /** Width of a bucket; the backstop reclaims a chat at most this long (plus its run interval) after its expiry. */
  bucketMs: number
  /** Partitions per bucket, so that one hour's chat starts do not all write one partition. */
  shards: number
}

const HOUR_MS = 3_600_000
/** 8 partitions per bucket take ~8,000 chat starts a second before any reaches DynamoDB's 1,000 WCU. */
const SHARDS = 8

/**
 * An hour for the default 24 h life; a 24th of a shorter life (tests run chats of seconds), and
 * at least a second. Derived rather than configured so the writer (startChat) and the reader (the
 * backstop) of every process agree without another setting.
 */
export function expiryIndexLayout(chatTtlSeconds: number): ExpiryIndexLayout {
  const bucketMs = Math.min(HOUR_MS, Math.max(1_000, Math.floor((chatTtlSeconds * 1000) / 24)))
  return { bucketMs, shards: SHARDS }
}

export const bucketStartOf = (layout: ExpiryIndexLayout, at: number): number => Math.floor(at / layout.bucketMs) * layout.bucketMs

/** A stable spread of chat ids (HMACs already, so any cheap hash of them is uniform). */
export function shardOf(layout: ExpiryIndexLayout, chatId: string): number {
  let hash = 0
  for (let i = 0; i < chatId.length; i++) hash = (hash * 31 + chatId.charCodeAt(i)) >>> 0
  return hash % layout.shards
}

export interface IndexedChat {
  chatId: string
  pairKey: string
  aUserId: string
  bUserId: string
}

/**
 * The index item of a chat filed for `expiresAt` (its expiry at the start; when DynamoDB may delete
 * it, once re-filed): its bucket, its shard and what a reclaim needs.
 */
export function indexItemOf(layout: ExpiryIndexLayout, chat: IndexedChat, expiresAt: number) {
  return {
    bucketStart: bucketStartOf(layout, expiresAt),
    shard: shardOf(layout, chat.chatId),
    chatId: chat.chatId,
    pairKey: chat.pairKey,
    aUserId: chat.aUserId,
    bUserId: chat.bUserId,
    expiresAt,
  }
}

export type ExpiryIndexItem = ReturnType<typeof indexItemOf>
export type ExpiryIndexEntity = HushEntities['ExpiryIndex']
