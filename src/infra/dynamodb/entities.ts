import { Entity } from 'dynamodb-toolbox/entity'
import { EntityParser } from 'dynamodb-toolbox/entity/actions/parse'
import { item } from 'dynamodb-toolbox/schema/item'
import { number } from 'dynamodb-toolbox/schema/number'
import { string } from 'dynamodb-toolbox/schema/string'
import { prefix } from 'dynamodb-toolbox/transformers/prefix'
import type { HushTable } from './table.js'

/**
 * One Entity per item type. Keys are declared here once, as prefixed attributes; no other module
 * builds a key string. docs/data-model.md lists every item and access pattern.
 */
export function createEntities(table: HushTable) {
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

  /** POST#<postId> / POST; in the feed index under FEED, ordered by postId (a ULID). */
  const Post = new Entity({
    name: 'Post',
    table,
    timestamps: false,
    schema: item({
      postId: string().key().savedAs('pk').transform(prefix('POST')),
      itemKind: string().key().savedAs('sk').const('POST'),
      authorId: string(),
      body: string(),
      createdAt: number(),
      feed: string().const('FEED').savedAs('gsi1pk'),
    }).and((schema) => ({
      feedOrder: string()
        .savedAs('gsi1sk')
        .link<typeof schema>(({ postId }) => postId),
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

export type HushEntities = ReturnType<typeof createEntities>

/**
 * The stored primary key of an item of `entity`, computed by the entity itself. With an empty
 * sort-key attribute it gives the prefix shared by all such items of a partition.
 */
export function keyOf(entity: Entity, key: Record<string, unknown>): { pk: string; sk: string } {
  const parsed = entity.build(EntityParser).parse(key, { mode: 'key' }).key as Record<string, unknown>
  return { pk: String(parsed.pk), sk: String(parsed.sk) }
}
