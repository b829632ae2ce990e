import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { newUlid } from '../../src/domain/ids.js'
import { FEED_SHARDS, feedShardOf, newestAcrossShards, type ShardReader } from '../../src/infra/dynamodb/feed-shards.js'

/** Shards in memory: ids per shard, read newest first like the Query (lt before, reverse, limit). */
function memoryShards(shards: number) {
  const held: string[][] = Array.from({ length: shards }, () => [])
  /** Whether each shard's ids are in order (sorted once after adds, not on every read). */
  const sorted = new Array<boolean>(shards).fill(true)
  const asked: number[] = []
  const read: ShardReader<string> = async (shard, before, limit) => {
    asked.push(limit)
    const ids = held[shard]!
    if (!sorted[shard]) {
      ids.sort()
      sorted[shard] = true
    }
    // The ids older than `before`: all of those before the first that is not.
    const older = before === undefined ? ids.length : firstNotBefore(ids, before)
    // DynamoDB answers a LastEvaluatedKey whenever the limit was reached, even with nothing left.
    return { items: ids.slice(Math.max(0, older - limit), older).reverse(), more: older >= limit }
  }
  const add = (shard: number, id: string) => {
    held[shard]!.push(id)
    sorted[shard] = false
  }
  return { held, read, asked, add }
}

/** The index of the first of the sorted `ids` that is not below `before` (ids.length if none). */
function firstNotBefore(ids: string[], before: string): number {
  let [low, high] = [0, ids.length]
  while (low < high) {
    const middle = (low + high) >>> 1
    if (ids[middle]! < before) low = middle + 1
    else high = middle
  }
  return low
}

const idOf = (id: string) => id
const id = (n: number) => `P${String(n).padStart(6, '0')}`

/** Pages through everything, `size` at a time, calling `between` before each page after the first. */
async function pageAll(shards: number, read: ShardReader<string>, size: number, between: (page: number) => void = () => {}) {
  const seen: string[] = []
  let after: string | undefined
  for (let page = 0; ; page++) {
    if (page > 0) between(page)
    const result = await newestAcrossShards(shards, size, after, idOf, read)
    seen.push(...result.items)
    const { items, nextAfter } = result
    // Checked by hand first: a property's thousands of pages would spend more in expect than in
    // the merge. The same expectations then report whatever is wrong.
    if (items.length > size || (nextAfter !== undefined && (items.length !== size || nextAfter !== items.at(-1)))) {
      expect(items.length).toBeLessThanOrEqual(size)
      expect(items.length).toBe(size)
      expect(nextAfter).toBe(items.at(-1))
    }
    if (nextAfter === undefined) return seen
    after = nextAfter
  }
}

describe('the feed merged across shards', () => {
  it('pages every item exactly once, newest first, however the items fall on the shards', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        // Runs of consecutive items on one shard: the skew that makes a shard hold a whole page.
        fc.array(fc.tuple(fc.nat(7), fc.integer({ min: 1, max: 15 })), { maxLength: 12 }),
        fc.integer({ min: 1, max: 12 }),
        async (shards, runs, size) => {
          const placement = runs.flatMap(([shard, length]) => new Array<number>(length).fill(shard))
          const store = memoryShards(shards)
          placement.forEach((shard, n) => store.add(shard % shards, id(n)))
          const seen = await pageAll(shards, store.read, size)
          expect(seen).toEqual(placement.map((_, n) => id(n)).reverse())
        },
      ),
      { numRuns: 300 },
    )
  })

  it('neither skips nor repeats when newer items arrive between pages', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(4), fc.integer({ min: 1, max: 9 })), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 7 }), async (runs, size) => {
        const placement = runs.flatMap(([shard, length]) => new Array<number>(length).fill(shard))
        const store = memoryShards(5)
        placement.forEach((shard, n) => store.add(shard, id(1000 + n)))
        let next = 5000
        // New items are newer than all the old ones, on every shard in turn.
        const seen = await pageAll(5, store.read, size, () => store.add(next % 5, id(next++)))
        expect(seen).toEqual(placement.map((_, n) => id(1000 + n)).reverse())
      }),
      { numRuns: 200 },
    )
  })

  it('reads evenly spread shards once each for a page, with a small limit per shard', async () => {
    const store = memoryShards(FEED_SHARDS)
    for (let n = 0; n < 2000; n++) store.add(n % FEED_SHARDS, id(n))
    const page = await newestAcrossShards(FEED_SHARDS, 20, id(1500), idOf, store.read)
    expect(page.items).toEqual(Array.from({ length: 20 }, (_, k) => id(1499 - k)))
    expect(page.queries).toBe(FEED_SHARDS)
    expect(Math.max(...store.asked)).toBe(3)
  })

  it('follows one shard holding the whole page in a few rounds, never asking for more than the page', async () => {
    const store = memoryShards(FEED_SHARDS)
    for (let n = 0; n < 300; n++) store.add(n < 250 ? 0 : 1 + (n % (FEED_SHARDS - 1)), id(n < 250 ? 10_000 + n : n))
    const page = await newestAcrossShards(FEED_SHARDS, 100, undefined, idOf, store.read)
    expect(page.items).toEqual(Array.from({ length: 100 }, (_, k) => id(10_249 - k)))
    expect(page.nextAfter).toBe(id(10_150))
    // 32 first reads of 6, then shard 0 alone: 12, 24, 48, then what is left of the 101.
    expect(page.queries).toBeLessThanOrEqual(FEED_SHARDS + 4)
    expect(Math.max(...store.asked)).toBeLessThanOrEqual(101)
  })

  it('keeps every post in the shard that its id alone names (changing this needs a migration)', () => {
    // Pinned: stored posts sit at FEED#<feedShardOf(id)>. If this fails, FEED_SHARDS or the hash
    // changed, and every stored post would be read from the wrong partition: see docs/data-model.md,
    // "Feed shards", for the migration that must ship with such a change.
    expect(FEED_SHARDS).toBe(32)
    expect(['01M8HN0DHB6QEHS3SNE4KHN3QQ', '01JQ0000000000000000000000', '01JQ7Z3X9K2M4N6P8R0T2V4W6Y'].map(feedShardOf)).toEqual(PINNED)
  })

  it('spreads server-made ids evenly over the shards', () => {
    const counts = new Array<number>(FEED_SHARDS).fill(0)
    // Real ids: several per millisecond too, where the generator increments the random part.
    const start = Date.now()
    for (let n = 0; n < 32_000; n++) counts[Number(feedShardOf(newUlid(start + Math.floor(n / 4))))]!++
    // 1,000 expected per shard; a binomial deviation of 150 is over 4.5 sigma.
    for (const count of counts) expect(Math.abs(count - 1000)).toBeLessThan(150)
  })
})

const PINNED = ['07', '27', '18']
