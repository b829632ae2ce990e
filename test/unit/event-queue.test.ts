import { describe, expect, it } from 'vitest'
import { ByteBudget, EventQueue, SlowConsumerError, type EventConsumer } from '../../src/domain/event-queue.js'

/** A consumer that records what it was handed. */
function recorder(): EventConsumer<number> & { got: unknown[] } {
  const got: unknown[] = []
  return { got, take: (v) => got.push(v), end: () => got.push('end'), fail: (e) => got.push(`fail: ${(e as Error).name}`) }
}

const tenBytesEach = () => 10

describe('EventQueue', () => {
  it('hands buffered events in order, then waits, then ends after what is buffered', async () => {
    let closed = 0
    const queue = new EventQueue<number>({ queueClosed: () => closed++ }, new ByteBudget(1_000), tenBytesEach)
    queue.push(1)
    queue.push(2)
    const consumer = recorder()
    queue.pullInto(consumer)
    queue.pullInto(consumer)
    queue.pullInto(consumer)
    expect(consumer.got).toEqual([1, 2])
    queue.push(3) // to the waiting consumer, at once
    expect(consumer.got).toEqual([1, 2, 3])
    queue.push(4)
    queue.end()
    expect(closed).toBe(1)
    queue.pullInto(consumer)
    queue.pullInto(consumer)
    expect(consumer.got).toEqual([1, 2, 3, 4, 'end'])
    // And as an async iterator, after the end.
    expect(await queue.next()).toEqual({ value: undefined, done: true })
  })

  it('fails with SlowConsumerError once unread events would pass the budget, and gives the budget back', () => {
    let closed = 0
    const budget = new ByteBudget(25)
    const queue = new EventQueue<number>({ queueClosed: () => closed++ }, budget, tenBytesEach)
    for (let n = 0; n < 5; n++) queue.push(n)
    expect(closed).toBe(1)
    const consumer = recorder()
    queue.pullInto(consumer)
    expect(consumer.got).toEqual(['fail: DomainError'])
    // What the failed queue held was released: the budget serves another queue in full.
    const other = new EventQueue<number>({ queueClosed: () => {} }, budget, tenBytesEach)
    other.push(1)
    other.push(2)
    expect(other.isEnded).toBe(false)
  })

  it('shares one budget between queues: what one holds, another cannot', () => {
    const budget = new ByteBudget(30)
    const one = new EventQueue<number>({ queueClosed: () => {} }, budget, tenBytesEach)
    const two = new EventQueue<number>({ queueClosed: () => {} }, budget, tenBytesEach)
    one.push(1)
    one.push(2)
    two.push(3)
    expect([one.isEnded, two.isEnded]).toEqual([false, false])
    two.push(4)
    expect(two.isEnded).toBe(true)
    // Pulling from one frees room for the other's events.
    const consumer = recorder()
    one.pullInto(consumer)
    const three = new EventQueue<number>({ queueClosed: () => {} }, budget, tenBytesEach)
    three.push(5)
    expect(three.isEnded).toBe(false)
    expect(new SlowConsumerError().code).toBe('RATE_LIMITED')
  })

  it('lets a producer wait until fewer than n events are unread', async () => {
    const queue = new EventQueue<number>({ queueClosed: () => {} }, new ByteBudget(1_000), tenBytesEach)
    for (let n = 0; n < 3; n++) queue.push(n)
    let resumed = false
    const waiting = queue.whenShorterThan(2).then(() => (resumed = true))
    const consumer = recorder()
    queue.pullInto(consumer)
    await Promise.resolve()
    expect(resumed).toBe(false)
    queue.pullInto(consumer)
    await waiting
    expect(resumed).toBe(true)
  })

  it('gives a failure to the consumer already waiting, and serves iterator pulls as promises', async () => {
    const queue = new EventQueue<number>({ queueClosed: () => {} }, new ByteBudget(1_000), tenBytesEach)
    const pending = queue.next()
    queue.push(7)
    expect(await pending).toEqual({ value: 7, done: false })
    const consumer = recorder()
    queue.pullInto(consumer)
    queue.fail(new Error('store read failed'))
    expect(consumer.got).toEqual(['fail: Error'])
    await expect(queue.next()).resolves.toEqual({ value: undefined, done: true })
  })
})
