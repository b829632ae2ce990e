import { afterEach, describe, expect, it } from 'vitest'
import { topics } from '../../../src/domain/events.js'
import { domainOnMemory } from '../../support/memory/domain.js'
import { settle } from '../../support/memory/fake-clock.js'

describe('typing (domain, in memory)', () => {
  let domain: ReturnType<typeof domainOnMemory>
  afterEach(() => domain.close())

  async function watch() {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    const published: boolean[] = []
    await domain.events.subscribe(topics.chat(chat.id), { hear: (event) => event.kind === 'typing' && published.push(event.typing) })
    return { a, b, chat, published }
  }

  it('publishes a change once, keeps typing on while refreshed, and turns it off 6 s after the last refresh', async () => {
    const { a, chat, published } = await watch()
    await domain.services.live.setTyping(a, chat.id, true)
    await settle()
    expect(published).toEqual([true])
    for (let i = 0; i < 4; i++) {
      await domain.clock.advance(4_000)
      await domain.services.live.setTyping(a, chat.id, true)
    }
    await settle()
    expect(published).toEqual([true])
    await domain.clock.advance(5_900)
    expect(published).toEqual([true])
    await domain.clock.advance(400)
    expect(published).toEqual([true, false])
  })

  it('lets at most one change a side out per 500 ms: toggles in between collapse into the latest', async () => {
    const { a, chat, published } = await watch()
    for (let i = 0; i < 50; i++) {
      await domain.services.live.setTyping(a, chat.id, i % 2 === 0)
      await domain.clock.advance(20)
    }
    // 1 s of toggling (the last: false): true at once, then the state at each 500 ms mark at most.
    expect(published[0]).toBe(true)
    expect(published.length).toBeLessThanOrEqual(3)
    await domain.clock.advance(1_000)
    expect(published.at(-1)).toBe(false)
  })

  it('ends typing without an event when the typist sends: the message says it', async () => {
    const { a, chat, published } = await watch()
    await domain.services.live.setTyping(a, chat.id, true)
    await domain.services.messages.sendMessage(a, chat.id, 'c1', 'done', null)
    await domain.clock.advance(10_000)
    expect(published).toEqual([true])
  })
})
