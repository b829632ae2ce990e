/**
 * The head of the feed (its newest posts), kept by each process for a second. Every first page of
 * the feed, whoever asks, is the same few posts; without this each one would Query all FEED_SHARDS
 * shards, and every shard would take every reader's page (docs/data-model.md, "Partition keys and
 * their worst case"). With it a shard takes about one head read per process per second. Pure: the
 * loader does the reading.
 */

/** The newest posts: `items` newest first, and whether older ones exist beyond them. */
export interface HeadSnapshot<T> {
  items: T[]
  more: boolean
}

/** How many of the newest posts the head holds: the largest page of the feed. */
export const FEED_HEAD_SIZE = 100
/** How long a process serves first pages from one read of the head. */
export const FEED_HEAD_MAX_AGE_MS = 1000

export class FeedHead<T> {
  private snapshot: { at: number; head: HeadSnapshot<T> } | undefined
  private loading: Promise<HeadSnapshot<T>> | undefined
  /** Posts this process wrote lately: put into every snapshot, which may have been read before them. */
  private recent: { at: number; item: T }[] = []

  constructor(
    private readonly load: (size: number) => Promise<HeadSnapshot<T>>,
    private readonly idOf: (item: T) => string,
    private readonly now: () => number = Date.now,
    private readonly maxAgeMs = FEED_HEAD_MAX_AGE_MS,
  ) {}

  /** The first page of `limit` (at most FEED_HEAD_SIZE): the posts and whether more follow. */
  async firstPage(limit: number): Promise<HeadSnapshot<T>> {
    const head = this.withRecent(await this.current())
    const items = head.items.slice(0, limit)
    return { items, more: head.items.length > limit || head.more }
  }

  /** A post this process has just stored: its writer sees it on the next first page. */
  added(item: T): void {
    const now = this.now()
    // Twice the age: a snapshot read just before the write may be served for a whole max age.
    this.recent = [...this.recent.filter((entry) => now - entry.at < 2 * this.maxAgeMs), { at: now, item }]
  }

  private async current(): Promise<HeadSnapshot<T>> {
    if (this.snapshot && this.now() - this.snapshot.at < this.maxAgeMs) return this.snapshot.head
    // One read at a time per process, however many first pages are waiting for it.
    this.loading ??= this.refresh().finally(() => (this.loading = undefined))
    return this.loading
  }

  private async refresh(): Promise<HeadSnapshot<T>> {
    const at = this.now()
    const head = await this.load(FEED_HEAD_SIZE)
    this.snapshot = { at, head }
    return head
  }

  private withRecent(head: HeadSnapshot<T>): HeadSnapshot<T> {
    const known = new Set(head.items.map(this.idOf))
    const missing = this.recent.filter((entry) => !known.has(this.idOf(entry.item))).map((entry) => entry.item)
    if (missing.length === 0) return head
    const merged = [...head.items, ...missing].sort((x, y) => (this.idOf(x) < this.idOf(y) ? 1 : -1))
    // Anything pushed out of the head by the additions is an older post that exists: more follow.
    const items = merged.slice(0, FEED_HEAD_SIZE)
    return { items, more: head.more || merged.length > FEED_HEAD_SIZE }
  }
}
