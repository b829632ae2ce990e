/**
 * Takes a queue's events one at a time (see {@link EventQueue.pullInto}): exactly one of its
 * methods is called per pull.
 */
export interface EventConsumer<T> {
  take(value: T): void
  end(): void
  fail(error: unknown): void
}

/** Told once, when its queue ends (by end, fail, overflow or the consumer's return). */
export interface QueueOwner {
  queueClosed(): void
}

/**
 * A bounded queue behind one subscription: producers push, the consumer pulls. When the consumer
 * stops pulling (a client that stopped reading) and `capacity` events are waiting, `onOverflow`
 * is called once and the queue ends, so a slow client costs bounded memory.
 *
 * It is an async iterator for GraphQL, and also offers `pullInto`, which hands the next event to
 * a consumer object without a promise: a subscription idles on one waiting consumer instead of a
 * pending promise with its reactions and resolvers (the socket server uses it).
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  /** Replaced by a fresh array when drained, so an idle queue keeps no grown backing store. */
  private buffer: T[] = []
  private waiter: EventConsumer<T> | undefined
  /** Pulls made while another waits (the async iterator protocol allows them); rare. */
  private moreWaiters: Array<EventConsumer<T>> | undefined
  private ended = false
  private failure: unknown

  constructor(
    private readonly capacity: number,
    private readonly owner: QueueOwner,
    private readonly onOverflow: () => void = () => {},
  ) {}

  get isEnded(): boolean {
    return this.ended
  }

  push(value: T): void {
    if (this.ended) return
    const waiter = this.nextWaiter()
    if (waiter) return waiter.take(value)
    if (this.buffer.length >= this.capacity) {
      this.onOverflow()
      this.fail(new Error('subscriber fell too far behind'))
      return
    }
    this.buffer.push(value)
  }

  /** Ends after the buffered events have been pulled. */
  end(): void {
    if (this.ended) return
    this.ended = true
    for (let waiter = this.nextWaiter(); waiter; waiter = this.nextWaiter()) {
      if (this.failure === undefined) waiter.end()
      else waiter.fail(this.takeFailure())
    }
    this.owner.queueClosed()
  }

  /** Ends with `error`, dropping what is buffered; the consumer gets the error on its next pull. */
  fail(error: unknown): void {
    if (this.ended) return
    this.failure = error
    this.buffer = []
    this.end()
  }

  /** Hands the next event (or the end, or the failure) to `consumer`: now if there is one, else when it comes. */
  pullInto(consumer: EventConsumer<T>): void {
    const { buffer } = this
    if (buffer.length > 0) {
      const value = buffer.shift()!
      if (buffer.length === 0) this.buffer = []
      return consumer.take(value)
    }
    if (this.failure !== undefined) return consumer.fail(this.takeFailure())
    if (this.ended) return consumer.end()
    if (!this.waiter) this.waiter = consumer
    else (this.moreWaiters ??= []).push(consumer)
  }

  next(): Promise<IteratorResult<T>> {
    return new Promise((resolve, reject) =>
      this.pullInto({
        take: (value) => resolve({ value, done: false }),
        end: () => resolve({ value: undefined, done: true }),
        fail: reject,
      }),
    )
  }

  async return(): Promise<IteratorResult<T>> {
    this.buffer = []
    this.end()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this
  }

  private nextWaiter(): EventConsumer<T> | undefined {
    const waiter = this.waiter
    this.waiter = this.moreWaiters?.shift()
    return waiter
  }

  private takeFailure(): unknown {
    const failure = this.failure
    this.failure = undefined
    return failure
  }
}
