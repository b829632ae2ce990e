/**
 * The feed written across shards and read back by merging them. Pure: no AWS here, so the merge is
 * unit-tested on its own (test/unit/feed-shards.test.ts) and post-store.ts only supplies the Query.
 */

/**
 * How many partitions (`FEED#00` … `FEED#31`) the feed is written across. Sized for the seed's
 * post writes (docs/data-model.md, "Partition keys and their worst case"): 1,000,000 users at the
 * createPost limit (10 an hour) are 2,778 posts/s, at most 8 WCU each (2,000 four-byte characters),
 * 22,200 WCU/s: 694 WCU/s on each of 32 partitions (limit 1,000). Every shard costs each page read
 * one Query, so no more than that.
 *
 * A post's partition is a function of its id and this number, so changing it moves every stored
 * post: it needs the migration in docs/data-model.md, and test/unit/feed-shards.test.ts pins both
 * the number and the function so that the change cannot happen silently.
 */
export const FEED_SHARDS = 32

/** The shard label of a post (two digits), derived from its id alone: FNV-1a of the id. */
export function feedShardOf(postId: string): string {
  return shardLabel(fnv1a(postId) % FEED_SHARDS)
}

export const shardLabel = (shard: number): string => String(shard).padStart(2, '0')

/** FNV-1a, 32 bits: cheap, stable across processes and versions, and spreads ULIDs evenly. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}

/** One Query of one shard: items newest first, and whether the shard holds more after them. */
export interface ShardBatch<T> {
  items: T[]
  more: boolean
}

/** Reads up to `limit` items of `shard` older than `before` (all when undefined), newest first. */
export type ShardReader<T> = (shard: number, before: string | undefined, limit: number) => Promise<ShardBatch<T>>

export interface MergedPage<T> {
  items: T[]
  /** Id of the last item when older ones follow. */
  nextAfter: string | undefined
  /** How many shard Queries the page took (what it costs: docs/data-model.md). */
  queries: number
}

interface ShardState<T> {
  shard: number
  fetched: T[]
  more: boolean
  ask: number
}

/**
 * The newest `limit` items older than `after` across `shards` shards, each sorted by `idOf`.
 *
 * Every shard is read from the cursor with a small limit (its share of the page, plus slack), then
 * only the shards that may still hold a page item are read further. A shard may hold one when it has
 * more and its oldest fetched item is newer than the (limit + 1)-th newest item fetched so far; it
 * can then add at most as many items as sit below that frontier in the merge, so it is never asked
 * for more. Page exactness follows: the page is cut only where every unread item is older.
 */
export async function newestAcrossShards<T>(
  shards: number,
  limit: number,
  after: string | undefined,
  idOf: (item: T) => string,
  read: ShardReader<T>,
): Promise<MergedPage<T>> {
  // One item beyond the page tells whether another page follows.
  const want = limit + 1
  const firstAsk = Math.ceil(want / shards) + 2
  const states: ShardState<T>[] = Array.from({ length: shards }, (_, shard) => ({ shard, fetched: [], more: true, ask: firstAsk }))
  let pending = states
  let queries = 0
  let merged: T[] = []
  while (pending.length > 0) {
    await Promise.all(
      pending.map(async (state) => {
        const oldest = state.fetched.at(-1)
        const batch = await read(state.shard, oldest === undefined ? after : idOf(oldest), state.ask)
        state.fetched.push(...batch.items)
        // An empty answer ends the shard even if DynamoDB gave a LastEvaluatedKey.
        state.more = batch.more && batch.items.length > 0
      }),
    )
    queries += pending.length
    merged = mergeNewestFirst(states, idOf)
    pending = shardsToReadFurther(states, merged, want, idOf)
  }
  const items = merged.slice(0, limit)
  return { items, nextAfter: merged.length > limit ? idOf(items.at(-1)!) : undefined, queries }
}

/** The shards that may still hold one of the newest `want`, each with what to ask it for next. */
function shardsToReadFurther<T>(states: ShardState<T>[], merged: T[], want: number, idOf: (item: T) => string): ShardState<T>[] {
  const edge = merged[want - 1]
  const next: ShardState<T>[] = []
  for (const state of states) {
    if (!state.more) continue
    const frontier = idOf(state.fetched.at(-1)!)
    if (edge !== undefined && frontier <= idOf(edge)) continue
    // Items at or above this shard's frontier are ahead of all it has left; it can fill the rest.
    const ahead = countAtOrAbove(merged, frontier, idOf)
    // Doubling keeps rounds few when one shard holds a run of the page; the cap avoids reading
    // items that cannot be on it.
    state.ask = Math.max(1, Math.min(want - ahead, state.ask * 2))
    next.push(state)
  }
  return next
}

function countAtOrAbove<T>(newestFirst: T[], id: string, idOf: (item: T) => string): number {
  let count = 0
  while (count < newestFirst.length && idOf(newestFirst[count]!) >= id) count++
  return count
}

function mergeNewestFirst<T>(states: ShardState<T>[], idOf: (item: T) => string): T[] {
  return states.flatMap((state) => state.fetched).sort((x, y) => (idOf(x) < idOf(y) ? 1 : idOf(x) > idOf(y) ? -1 : 0))
}
