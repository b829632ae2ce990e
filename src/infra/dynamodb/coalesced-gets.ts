import DataLoader from 'dataloader'

/** BatchGetItem's limit on keys per request. */
export const BATCH_GET_MAX = 100

/** How the items are read: one by GetItem, several by one BatchGetItem (an entry per id, in order, undefined where none is stored). */
export interface ItemReads<Item> {
  getOne(id: string): Promise<Item | undefined>
  getBatch(ids: readonly string[]): Promise<Array<Item | undefined>>
}

/**
 * Gets of one entity's items by id, coalesced: every get asked for in one tick goes out in one
 * BatchGetItem (up to 100 keys each; DataLoader's batching, without its cache), instead of one
 * GetItem each. A reconnect storm reads a chat and a live-chat set per subscription; batched, a
 * hundred connections' reads cost DynamoDB one request and this process one SDK call instead of
 * a hundred. A get alone in its tick stays a GetItem (cheaper to make and to serve than a
 * BatchGetItem of one key). Capacity is the same per item, and each read is still issued after the call that
 * asked for it (the batch leaves at the end of the tick), so a consistent get keeps its meaning
 * for a caller that subscribed to a channel before reading.
 */
export class CoalescedGets<Item> {
  private readonly loader: DataLoader<string, Item | undefined>

  constructor(reads: ItemReads<Item>) {
    this.loader = new DataLoader<string, Item | undefined>(
      async (ids) => {
        // BatchGetItem refuses a key twice: ask once per id, answer every caller.
        const unique = [...new Set(ids)]
        const found = unique.length === 1 ? [await reads.getOne(unique[0]!)] : await reads.getBatch(unique)
        const byId = new Map(unique.map((id, i) => [id, found[i]]))
        return ids.map((id) => byId.get(id))
      },
      // setImmediate: the gets of every socket message and DynamoDB answer that one turn of the event
      // loop handles go together; a quiet process still sends each at once.
      { cache: false, maxBatchSize: BATCH_GET_MAX, batchScheduleFn: (send) => setImmediate(send) },
    )
  }

  get(id: string): Promise<Item | undefined> {
    return this.loader.load(id)
  }

  /** The stored items of these ids, in their order, the missing left out. */
  async getMany(ids: readonly string[]): Promise<Item[]> {
    const found: Array<Item | undefined> = await Promise.all(ids.map((id) => this.loader.load(id)))
    return found.filter((item): item is Item => item !== undefined)
  }
}
