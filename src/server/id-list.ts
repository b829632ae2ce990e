/** What an IdList holds: items that carry their id and the list's link. */
export interface Listed<T> {
  readonly id: string
  next: T | undefined
}

/**
 * Items by id, as a list threaded through the items themselves. For the few operations a socket
 * holds (one or two for most of its life, at most the operation limit): a Map's table costs about
 * 150 bytes even for one entry, more than the operations themselves, and a scan of a few items is
 * as fast as a hash.
 */
export class IdList<T extends Listed<T>> {
  private first: T | undefined

  get(id: string): T | undefined {
    let item = this.first
    while (item && item.id !== id) item = item.next
    return item
  }

  /** Adds an item whose id is not in the list. */
  add(item: T): void {
    item.next = this.first
    this.first = item
  }

  /** Removes the item of `id`, if it is `only` (when given); returns what was removed. */
  remove(id: string, only?: T): T | undefined {
    let previous: T | undefined
    let item = this.first
    while (item && item.id !== id) {
      previous = item
      item = item.next
    }
    if (!item || (only && item !== only)) return undefined
    if (previous) previous.next = item.next
    else this.first = item.next
    return item
  }

  /** Empties the list, returning what it held. */
  takeAll(): T[] {
    const all: T[] = []
    for (let item = this.first; item; item = item.next) all.push(item)
    this.first = undefined
    return all
  }
}
