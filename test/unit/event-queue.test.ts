import { describe, expect, it } from 'vitest'
import { EventQueue, type EventConsumer } from '../../src/domain/event-queue.js'

/** A consumer that records what it was handed. */
function recorder(): EventConsumer<number> & { got: unknown[] } {
  const got: unknown[] = []
  return { got, take: (v) => got.push(v), end: () => got.push('end'), fail: (e) => got.push(`fail: ${(e as Error).message}`) }
}

describe('EventQueue', () => {
  it('hands buffered events in order, then waits, then ends after what is buffered', async () => {
    let closed = 0
    const queue = new EventQueue<number>(10, { queueClosed: () => closed++ })
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

  it('calls onOverflow once and fails the consumer when it stops pulling past capacity', () => {
    let overflows = 0
    let closed = 0
    const queue = new EventQueue<number>(2, { queueClosed: () => closed++ }, () => overflows++)
    for (let n = 0; n < 5; n++) queue.push(n)
    expect([overflows, closed]).toEqual([1, 1])
    const consumer = recorder()
    queue.pullInto(consumer)
    expect(consumer.got).toEqual(['fail: subscriber fell too far behind'])
  })

  it('gives a failure to the consumer already waiting, and serves iterator pulls as promises', async () => {
    const queue = new EventQueue<number>(10, { queueClosed: () => {} })
    const pending = queue.next()
    queue.push(7)
    expect(await pending).toEqual({ value: 7, done: false })
    const consumer = recorder()
    queue.pullInto(consumer)
    queue.fail(new Error('store read failed'))
    expect(consumer.got).toEqual(['fail: store read failed'])
    await expect(queue.next()).resolves.toEqual({ value: undefined, done: true })
  })
})
