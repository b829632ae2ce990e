import { Entity } from 'dynamodb-toolbox/entity'
import { EntityParser } from 'dynamodb-toolbox/entity/actions/parse'
import { item } from 'dynamodb-toolbox/schema/item'
import { boolean } from 'dynamodb-toolbox/schema/boolean'
import { number } from 'dynamodb-toolbox/schema/number'
import { string } from 'dynamodb-toolbox/schema/string'
import { set } from 'dynamodb-toolbox/schema/set'
import { prefix } from 'dynamodb-toolbox/transformers/prefix'
import { feedShardOf } from './feed-shards.js'
import { TTL_ATTRIBUTE, type HushTable } from './table.js'

/** Seqs are zero-padded in sort keys so that string order is seq order. */
export const paddedSeq = (seq: number): string => String(seq).padStart(10, '0')

/**
 * One Entity per item type. Keys are declared here once, as prefixed attributes; no other module
 * builds a key string. docs/data-model.md lists every item and access pattern.
 */
export function createEntities(table: HushTable) {
  return { ...accountEntities(table), ...moderationEntities(table), ...chatEntities(table), ...messageEntities(table), ...pairingEntities(table), ...expiryEntities(table), ...deviceEntities(table) }
}

/** Accounts and what they write: users, posts, comments. */
function accountEntities(table: HushTable) {
  /** USER#<userId> / PROFILE */
  const User = new Entity({
    name: 'User',
    table,
    timestamps: false,
    schema: item({
      userId: string().key().savedAs('pk').transform(prefix('USER')),
      itemKind: string().key().savedAs('sk').const('PROFILE'),
      createdAt: number(),
    }),
  })

  /**
   * FEED#<shard> / POST#<postId>: posts spread over FEED_SHARDS partitions so that no one takes the
   * app's post writes, the shard derived from the id (so a post's key needs only its id). In each
   * shard posts sort by postId (a ULID); the feed merges the shards (feed-shards.ts).
   */
  const Post = new Entity({
    name: 'Post',
    table,
    timestamps: false,
    schema: item({
      postId: string().key().savedAs('sk').transform(prefix('POST')),
      authorId: string(),
      body: string(),
      createdAt: number(),
    }).and((_schema) => ({
      // Given explicitly only by the feed's Query of one shard; otherwise computed from the id.
      feedShard: string()
        .key()
        .savedAs('pk')
        .transform(prefix('FEED'))
        .link<typeof _schema>(({ postId }) => feedShardOf(postId)),
    })),
  })

  /** POST#<postId> / COMMENT#<commentId>: a post's comments sit in its partition, oldest first. */
  const Comment = new Entity({
    name: 'Comment',
    table,
    timestamps: false,
    schema: item({
      postId: string().key().savedAs('pk').transform(prefix('POST')),
      commentId: string().key().savedAs('sk').transform(prefix('COMMENT')),
      authorId: string(),
      body: string(),
      createdAt: number(),
    }),
  })
  return { User, Post, Comment }
}

/** What a block leaves: the block itself and the report for the moderators. */
function moderationEntities(table: HushTable) {
  /** USER#<blockerId> / BLOCKED#<blockedId>: kept after the chat, so they never chat again. */
  const Block = new Entity({
    name: 'Block',
    table,
    timestamps: false,
    schema: item({
      blockerId: string().key().savedAs('pk').transform(prefix('USER')),
      blockedId: string().key().savedAs('sk').transform(prefix('BLOCKED')),
      createdAt: number(),
    }),
  })

  /** REPORTS / REPORT#<reportId>: the moderators' queue, oldest first. */
  const Report = new Entity({
    name: 'Report',
    table,
    timestamps: false,
    schema: item({
      queue: string().key().savedAs('pk').const('REPORTS'),
      reportId: string().key().savedAs('sk').transform(prefix('REPORT')),
      chatId: string(),
      postId: string(),
      reporterId: string(),
      reportedId: string(),
      reason: string().optional(),
      createdAt: number(),
    }),
  })
  return { Block, Report }
}

/** A chat and its photos. */
function chatEntities(table: HushTable) {
  /**
   * CHAT#<chatId> / CHAT: the chat, its two sides, its seq counter and its expiry. Its `ttl` is
   * the only TTL a chat needs: the stream's REMOVE of this item cascades to everything else.
   */
  const Chat = new Entity({
    name: 'Chat',
    table,
    timestamps: false,
    schema: item({
      chatId: string().key().savedAs('pk').transform(prefix('CHAT')),
      itemKind: string().key().savedAs('sk').const('CHAT'),
      pairKey: string(),
      generation: number(),
      postId: string(),
      aUserId: string(),
      aRole: string().enum('AUTHOR', 'COMMENTER'),
      aAlias: string(),
      aReadSeq: number(),
      aDeliveredSeq: number(),
      aUnread: number(),
      bUserId: string(),
      bRole: string().enum('AUTHOR', 'COMMENTER'),
      bAlias: string(),
      bReadSeq: number(),
      bDeliveredSeq: number(),
      bUnread: number(),
      /** A side's last sends, `<key>:<seq>` separated by spaces (domain/chats/recent-sends.ts); absent before its first. */
      aRecentSends: string().optional(),
      bRecentSends: string().optional(),
      /** muteChat: epoch ms until which a side gets no push; absent when never muted. */
      aMutedUntil: number().optional(),
      bMutedUntil: number().optional(),
      status: string().enum('ACTIVE', 'LEFT', 'BLOCKED'),
      closedBy: string().enum('a', 'b').optional(),
      hiddenFrom: string().enum('a', 'b').optional(),
      createdAt: number(),
      lastActivityAt: number(),
      expiresAt: number(),
      lastSeq: number(),
      ttl: number().savedAs(TTL_ATTRIBUTE),
    }),
  })

  /** CHAT#<chatId> / PHOTO#<photoId>: a photo's record lives (and is reclaimed) with its chat. */
  const Photo = new Entity({
    name: 'Photo',
    table,
    timestamps: false,
    schema: item({
      chatId: string().key().savedAs('pk').transform(prefix('CHAT')),
      photoId: string().key().savedAs('sk').transform(prefix('PHOTO')),
      uploaderId: string(),
      contentType: string().enum('image/jpeg', 'image/png', 'image/webp', 'image/gif'),
      byteSize: number(),
      width: number(),
      height: number(),
      viewOnce: boolean(),
      viewedAt: number().optional(),
      createdAt: number(),
    }),
  })
  return { Chat, Photo }
}

/** A chat's messages (a retried send is told by its chat's recent sends: Chat.aRecentSends). */
function messageEntities(table: HushTable) {
  /** CHAT#<chatId> / MSG#<seq, zero-padded>: a chat's messages in seq order, in its partition. */
  const Message = new Entity({
    name: 'Message',
    table,
    timestamps: false,
    schema: item({
      chatId: string().key().savedAs('pk').transform(prefix('CHAT')),
      seq: number().key(),
      senderId: string(),
      clientMessageId: string(),
      body: string().optional(),
      photoId: string().optional(),
      createdAt: number(),
    }).and((_schema) => ({
      // `_schema` is there for its type only (link's type parameter), hence the underscore.
      seqKey: string()
        .key()
        .savedAs('sk')
        .transform(prefix('MSG'))
        .link<typeof _schema>(({ seq }) => paddedSeq(seq)),
    })),
  })

  return { Message }
}
/** How users find their chats: the current chat of a pair, memberships and live sets. */
function pairingEntities(table: HushTable) {
  /** PAIR#<pairKey> / PAIR: the current chat of two users on one post; the lock startChat takes. */
  const Pair = new Entity({
    name: 'Pair',
    table,
    timestamps: false,
    schema: item({
      pairKey: string().key().savedAs('pk').transform(prefix('PAIR')),
      itemKind: string().key().savedAs('sk').const('PAIR'),
      chatId: string(),
      generation: number(),
    }),
  })

  /** USER#<userId> / CHAT#<chatId>: the chats of a user. */
  const Membership = new Entity({
    name: 'Membership',
    table,
    timestamps: false,
    schema: item({
      userId: string().key().savedAs('pk').transform(prefix('USER')),
      chatId: string().key().savedAs('sk').transform(prefix('CHAT')),
      createdAt: number(),
    }),
  })

  /**
   * USER#<userId> / LIVE: the user's open chats, added by startChat's transaction (which holds
   * only while there are fewer than the limit) and removed by the close's. Chats that expired stay
   * until pruned, when the set is found full. DynamoDB drops an emptied set, hence optional.
   */
  const LiveChats = new Entity({
    name: 'LiveChats',
    table,
    timestamps: false,
    schema: item({
      userId: string().key().savedAs('pk').transform(prefix('USER')),
      itemKind: string().key().savedAs('sk').const('LIVE'),
      chatIds: set(string()).optional(),
      version: number(),
    }),
  })
  return { Pair, Membership, LiveChats }
}

/** What the expiry path keeps: leases of its background work and the expiry index. */
function expiryEntities(table: HushTable) {
  /**
   * LEASES / LEASE#<leaseName>: who reads a stream shard (the name is the shard id) or runs a job
   * (the backstop). All leases share one partition, read by one Query: a few dozen small items,
   * written a few times a minute each (docs/data-model.md, "Expiry").
   */
  const Lease = new Entity({
    name: 'Lease',
    table,
    timestamps: false,
    schema: item({
      leases: string().key().savedAs('pk').const('LEASES'),
      leaseName: string().key().savedAs('sk').transform(prefix('LEASE')),
      kind: string().enum('shard', 'job'),
      /** Absent while nobody holds it. */
      owner: string().optional(),
      /** Raised by every write: a holder that stops raising it is dead (see lease-plan.ts). */
      counter: number(),
      /** Shards: the last sequence number handled; jobs: their own progress. */
      checkpoint: string().optional(),
      parentShardId: string().optional(),
      /** A shard read to its end: its children may start. */
      finished: boolean().optional(),
    }),
  })

  /**
   * EXPIRY#<bucketStart>#<shard> / CHAT#<chatId>: a chat filed under the time bucket of its
   * (earliest known) expiry, for the backstop. It carries what the reclaim needs, since the chat
   * item may already be gone.
   */
  const ExpiryIndex = new Entity({
    name: 'ExpiryIndex',
    table,
    timestamps: false,
    schema: item({
      bucketStart: number().key(),
      shard: number().key(),
      chatId: string().key().savedAs('sk').transform(prefix('CHAT')),
      pairKey: string(),
      aUserId: string(),
      bUserId: string(),
      expiresAt: number(),
    }).and((_schema) => ({
      // `_schema` is there for its type only (link's type parameter), hence the underscore.
      bucketKey: string()
        .key()
        .savedAs('pk')
        .transform(prefix('EXPIRY'))
        .link<typeof _schema>(({ bucketStart, shard }) => `${bucketStart}#${shard}`),
    })),
  })
  return { Lease, ExpiryIndex }
}

/** The devices users registered for pushes. */
function deviceEntities(table: HushTable) {
  /**
   * USER#<userId> / DEVICE#<deviceId>: one device of a user, where its pushes go. Expires by TTL
   * when not registered again for DEVICE_TTL (SPEC: 60 days).
   */
  const Device = new Entity({
    name: 'Device',
    table,
    timestamps: false,
    schema: item({
      userId: string().key().savedAs('pk').transform(prefix('USER')),
      deviceId: string().key().savedAs('sk').transform(prefix('DEVICE')),
      platform: string().enum('WEB_PUSH', 'APNS', 'FCM'),
      /** APNs or FCM token. */
      token: string().optional(),
      /** A browser's push subscription. */
      endpoint: string().optional(),
      p256dh: string().optional(),
      auth: string().optional(),
      createdAt: number(),
      seenAt: number(),
      ttl: number().savedAs(TTL_ATTRIBUTE),
    }),
  })

  /**
   * DEVICE#<deviceId> / OWNER: the one user a token belongs to, so that registering it on another
   * account moves it (the old account's Device item goes in the same transaction).
   */
  const DeviceOwner = new Entity({
    name: 'DeviceOwner',
    table,
    timestamps: false,
    schema: item({
      deviceId: string().key().savedAs('pk').transform(prefix('DEVICE')),
      itemKind: string().key().savedAs('sk').const('OWNER'),
      userId: string(),
      createdAt: number(),
      ttl: number().savedAs(TTL_ATTRIBUTE),
    }),
  })
  return { Device, DeviceOwner }
}

export type HushEntities = ReturnType<typeof createEntities>

/**
 * The stored primary key of an item of `entity`, computed by the entity itself. With an empty
 * sort-key attribute it gives the prefix shared by all such items of a partition.
 */
export function keyOf(entity: Entity, key: Record<string, unknown>): { pk: string; sk: string } {
  const parsed = entity.build(EntityParser).parse(key, { mode: 'key' }).key as Record<string, unknown>
  return { pk: String(parsed.pk), sk: String(parsed.sk) }
}
