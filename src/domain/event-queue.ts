import { DomainError } from './errors.js'

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
 * The bytes of events a consumer may leave unread, across every queue that shares it: one per
 * socket (all of its subscriptions), or one per queue.
 */
export interface QueueBudget {
  /** Counts `bytes` of an event about to wait; false, counting nothing, when that passes the budget. */
  reserve(bytes: number): boolean
  release(bytes: number): void
}

/** A budget of `maxBytes` for the queues that share it. */
export class ByteBudget implements QueueBudget {
  private used = 0

  constructor(private readonly maxBytes: number) {}

  reserve(bytes: number): boolean {
    if (this.used + bytes > this.maxBytes) return false
    this.used += bytes
    return true
  }

  release(bytes: number): void {
    this.used -= bytes
  }
}

/**
 * A queue's consumer left more unread than its budget allows; the queue ended with this. Expected,
 * so a DomainError: the client is told, nothing is logged as a fault.
 */
export class SlowConsumerError extends DomainError {
  constructor() {
    super('RATE_LIMITED', 'The subscriber fell too far behind: reconnect and resume.')
  }
}

/**
 * A queue behind one subscription: producers push, the consumer pulls. Events wait only while the
 * consumer is not pulling (a client that stopped reading), and what waits counts against a byte
 * budget: when it would pass it, the queue fails with SlowConsumerError, so a slow client costs
 * bounded memory.
 *
 * It is an async iterator for GraphQL, and also offers `pullInto`, which hands the next event to
 * a consumer object without a promise: a subscription idles on one waiting consumer instead of a
 * pending promise with its reactions and resolvers (the socket server uses it).
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  /** Replaced by a fresh array when drained, so an idle queue keeps no grown backing store. */
  private buffer: T[] = []
  private bufferedBytes = 0
  private waiter: EventConsumer<T> | undefined
  /** Pulls made while another waits (the async iterator protocol allows them); rare. */
  private moreWaiters: Array<EventConsumer<T>> | undefined
  private ended = false
  private failure: unknown
  /** A producer waiting for the buffer to shrink (see whenShorterThan). */
  private shrinkWaiter: { length: number; resolve: () => void } | undefined

  constructor(
    private readonly owner: QueueOwner,
    private readonly budget: QueueBudget,
    /** About how many bytes an event takes while it waits (its text, mostly). */
    private readonly sizeOf: (value: T) => number,
  ) {}

  get isEnded(): boolean {
    return this.ended
  }

  /** Events waiting for the consumer. */
  get length(): number {
    return this.buffer.length
  }

  push(value: T): void {
    if (this.ended) return
    const waiter = this.nextWaiter()
    if (waiter) return waiter.take(value)
    const size = this.sizeOf(value)
    if (!this.budget.reserve(size)) return this.fail(new SlowConsumerError())
    this.bufferedBytes += size
    this.buffer.push(value)
  }

  /**
   * Resolves once fewer than `length` events wait (or the queue ended): a producer with much to
   * push (a replay) pushes at the consumer's pace instead of all at once. One producer at a time.
   */
  whenShorterThan(length: number): Promise<void> {
    if (this.buffer.length < length || this.ended) return Promise.resolve()
    return new Promise((resolve) => (this.shrinkWaiter = { length, resolve }))
  }

  /** Ends after the buffered events have been pulled. */
  end(): void {
    if (this.ended) return
    this.ended = true
    this.wakeProducer()
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
    this.drop()
    this.end()
  }

  /** Hands the next event (or the end, or the failure) to `consumer`: now if there is one, else when it comes. */
  pullInto(consumer: EventConsumer<T>): void {
    const { buffer } = this
    if (buffer.length > 0) {
      const value = buffer.shift()!
      const size = this.sizeOf(value)
      this.bufferedBytes -= size
      this.budget.release(size)
      if (buffer.length === 0) this.buffer = []
      this.wakeProducer()
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
    this.drop()
    this.end()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this
  }

  private drop(): void {
    this.budget.release(this.bufferedBytes)
    this.bufferedBytes = 0
    this.buffer = []
  }

  private wakeProducer(): void {
    const waiter = this.shrinkWaiter
    if (!waiter || (this.buffer.length >= waiter.length && !this.ended)) return
    this.shrinkWaiter = undefined
    waiter.resolve()
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
