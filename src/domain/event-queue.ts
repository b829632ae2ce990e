/**
 * A bounded async queue behind one subscription: producers push, GraphQL pulls. When the consumer
 * stops pulling (a client that stopped reading) and `capacity` events are waiting, `onOverflow`
 * is called once and the queue ends, so a slow client costs bounded memory.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = []
  private readonly waiting: Array<(result: IteratorResult<T>) => void> = []
  private ended = false
  private failure: unknown

  constructor(
    private readonly capacity: number,
    private readonly onClose: () => void,
    private readonly onOverflow: () => void = () => {},
  ) {}

  get isEnded(): boolean {
    return this.ended
  }

  push(value: T): void {
    if (this.ended) return
    const next = this.waiting.shift()
    if (next) return next({ value, done: false })
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
    for (const resolve of this.waiting.splice(0)) resolve({ value: undefined, done: true })
    this.onClose()
  }

  fail(error: unknown): void {
    if (this.ended) return
    this.failure = error
    this.buffer.length = 0
    this.end()
  }

  async next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return { value: this.buffer.shift()!, done: false }
    if (this.failure !== undefined) {
      const failure = this.failure
      this.failure = undefined
      throw failure
    }
    if (this.ended) return { value: undefined, done: true }
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  async return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0
    this.end()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this
  }
}
