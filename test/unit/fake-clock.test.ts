import { describe, expect, it } from 'vitest'
import { FakeClock, settle } from '../support/memory/fake-clock.js'

const START = Date.UTC(2026, 0, 1)

describe('the fake clock', () => {
  it('fires timers in due order, those due together in the order they were set, each at its own time', async () => {
    const clock = new FakeClock(START)
    const fired: Array<[string, number]> = []
    const at = (name: string) => () => fired.push([name, clock.now() - START])
    clock.after(300, at('c'))
    clock.after(100, at('a'))
    clock.after(200, at('b1'))
    clock.after(200, at('b2'))
    clock.after(1_000, at('later'))
    await clock.advance(300)
    expect(fired).toEqual([
      ['a', 100],
      ['b1', 200],
      ['b2', 200],
      ['c', 300],
    ])
    expect(clock.now()).toBe(START + 300)
    await clock.advance(699)
    expect(fired).toHaveLength(4)
    await clock.advance(1)
    expect(fired.at(-1)).toEqual(['later', 1_000])
    expect(clock.pending).toBe(0)
  })

  it('repeats an interval every period until cancelled, including from its own task', async () => {
    const clock = new FakeClock(START)
    const ticks: number[] = []
    const cancel = clock.every(100, () => {
      ticks.push(clock.now() - START)
      if (ticks.length === 5) cancel()
    })
    await clock.advance(350)
    expect(ticks).toEqual([100, 200, 300])
    await clock.advance(10_000)
    expect(ticks).toEqual([100, 200, 300, 400, 500])
    expect(clock.pending).toBe(0)
  })

  it('never fires a cancelled timer, and drops it at once', async () => {
    const clock = new FakeClock(START)
    const fired: string[] = []
    const cancelB = clock.after(200, () => fired.push('b'))
    // Cancelled by an earlier timer of the same instant, and by one before it.
    let cancelD = () => {}
    clock.after(300, () => {
      fired.push('c')
      cancelD()
    })
    cancelD = clock.after(300, () => fired.push('d'))
    const cancelTick = clock.every(50, () => fired.push('tick'))
    clock.after(100, () => {
      fired.push('a')
      cancelTick()
    })
    expect(clock.pending).toBe(5)
    cancelB()
    cancelB() // a second cancel is harmless
    expect(clock.pending).toBe(4)
    await clock.advance(1_000)
    // The interval's second tick, due with 'a' but set after it, comes after it: cancelled.
    expect(fired).toEqual(['tick', 'a', 'c'])
    expect(clock.pending).toBe(0)
  })

  it('runs a timer that a task sets within the same advance, and a zero delay on the next turn without one', async () => {
    const clock = new FakeClock(START)
    const fired: Array<[string, number]> = []
    clock.after(100, () => clock.after(50, () => fired.push(['nested', clock.now() - START])))
    await clock.advance(150)
    expect(fired).toEqual([['nested', 150]])
    clock.after(0, () => fired.push(['zero', clock.now() - START]))
    clock.after(0, () => fired.push(['cancelled', 0]))()
    await settle()
    expect(fired.at(-1)).toEqual(['zero', 150])
    expect(fired).toHaveLength(2)
  })

  it('lets what each timer starts finish before the next one fires', async () => {
    const clock = new FakeClock(START)
    const log: string[] = []
    // A chain of promises and setImmediate hops (an in-process bus delivers on setImmediate), far
    // deeper than a fixed number of turns would cover.
    const chain = async (name: string, hops: number) => {
      for (let i = 0; i < hops; i++) {
        await Promise.resolve()
        await new Promise((resolve) => setImmediate(resolve))
      }
      log.push(`${name} done`)
    }
    clock.after(10, () => {
      log.push('first')
      void chain('first', 40)
    })
    // And a long chain of promises alone, which no setImmediate shows pending.
    clock.after(10, () => {
      log.push('second')
      void (async () => {
        for (let i = 0; i < 200; i++) await Promise.resolve()
        log.push('second done')
      })()
    })
    clock.after(20, () => log.push('third'))
    await clock.advance(20)
    expect(log).toEqual(['first', 'first done', 'second', 'second done', 'third'])
  })

  it('only moves forward, and an interval under a millisecond fires once a millisecond', async () => {
    const clock = new FakeClock(START)
    await expect(clock.advance(-1)).rejects.toThrow(RangeError)
    let ticks = 0
    clock.every(0, () => ticks++)
    await clock.advance(10)
    expect(ticks).toBe(10)
  })
})
