import { LRUCache } from 'lru-cache'

export interface BoundedCacheOptions {
  /** Entries held at most; past it the least recently used go first. */
  maxEntries: number
  /** Milliseconds of the clock that entries age on. */
  now: () => number
  /** An entry's life (unset: until evicted); `set` may give one of its own. */
  ttlMs?: number
  /** A read starts an entry's life again (an idle timeout rather than an age limit). */
  renewOnGet?: boolean
  /** Stale entries are scanned out at most this often, when an entry is added. */
  sweepEveryMs: number
}

/**
 * An in-memory cache of a process: bounded by entry count, and rid of stale entries soon after
 * they go stale, so what it holds follows what is in use, not everything ever seen up to its bound.
 * Bounded by size (one unit an entry) rather than lru-cache's `max`, which allocates every slot up
 * front; stale entries go in a scan when an entry is added, at most once per `sweepEveryMs`, which
 * needs no timer.
 */
export class BoundedCache<K extends string, V extends object> {
  private readonly lru: LRUCache<K, V>
  private sweptAt: number

  constructor(private readonly options: BoundedCacheOptions) {
    this.lru = new LRUCache<K, V>({
      maxSize: options.maxEntries,
      sizeCalculation: () => 1,
      ...(options.ttlMs === undefined ? {} : { ttl: options.ttlMs }),
      updateAgeOnGet: options.renewOnGet ?? false,
      perf: { now: options.now },
      ttlResolution: 0,
    })
    this.sweptAt = options.now()
  }

  get size(): number {
    return this.lru.size
  }

  get(key: K): V | undefined {
    return this.lru.get(key)
  }

  set(key: K, value: V, ttlMs?: number): void {
    const now = this.options.now()
    if (now - this.sweptAt >= this.options.sweepEveryMs) {
      this.sweptAt = now
      this.lru.purgeStale()
    }
    this.lru.set(key, value, ttlMs === undefined ? undefined : { ttl: ttlMs })
  }

  delete(key: K): void {
    this.lru.delete(key)
  }
}
