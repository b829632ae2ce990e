import { afterEach, describe, expect, it } from 'vitest'
import { domainOnMemory } from '../../support/memory/domain.js'

const HOUR = 3_600_000

describe('catching up in one request (domain, in memory)', () => {
  let domain: ReturnType<typeof domainOnMemory>
  afterEach(() => domain.close())

  it('reports exactly the chats with new messages, the new, the closed and the expired since the cursor', async () => {
    domain = domainOnMemory({ chatTtlSeconds: 24 * 3600 })
    const { services, clock } = domain
    const me = domain.user()
    const peers = Array.from({ length: 5 }, () => domain.user())
    const old = await domain.chat(me, peers[0]!)
    await clock.advance(20 * HOUR)
    const [quiet, busy, leaving] = [await domain.chat(me, peers[1]!), await domain.chat(me, peers[2]!), await domain.chat(me, peers[3]!)]
    const first = await services.catchUp.inbox(me, undefined, undefined)
    expect(first.chats.map((c) => c.id).sort()).toEqual([old.id, quiet.id, busy.id, leaving.id].sort())
    expect(first.expired).toEqual([])

    await clock.advance(5 * HOUR) // `old` expires
    await services.messages.sendMessage(peers[2]!, busy.id, 'm1', 'one', null)
    await services.messages.sendMessage(peers[2]!, busy.id, 'm2', 'two', null)
    await services.closes.leaveChat(peers[3]!, leaving.id)
    await clock.advance(1_000)
    const fresh = await domain.chat(me, peers[4]!)
    const second = await services.catchUp.inbox(me, first.cursor, undefined)
    // Most recently active first: the new chat, then the messages (a leave is no activity).
    expect(second.chats.map((c) => [c.id, c.status, c.lastSeq])).toEqual([
      [fresh.id, 'ACTIVE', 0],
      [busy.id, 'ACTIVE', 2],
      [leaving.id, 'LEFT', 0],
    ])
    expect(second.expired).toEqual([old.id])
    expect(services.receipts.unreadCount(second.chats.find((c) => c.id === busy.id)!)).toBe(2)

    const third = await services.catchUp.inbox(me, second.cursor, undefined)
    expect(third).toMatchObject({ chats: [], expired: [], hasMore: false })
  })

  it('pages with first: what did not fit comes in the next answer', async () => {
    domain = domainOnMemory()
    const me = domain.user()
    const chats = []
    for (let i = 0; i < 5; i++) chats.push(await domain.chat(me, domain.user()))
    const page = await domain.services.catchUp.inbox(me, undefined, 2)
    expect(page).toMatchObject({ hasMore: true })
    const rest = await domain.services.catchUp.inbox(me, page.cursor, 10)
    expect([...page.chats, ...rest.chats].map((c) => c.id).sort()).toEqual(chats.map((c) => c.id).sort())
    expect(rest.hasMore).toBe(false)
  })

  it('refuses a cursor that was altered or that another user got', async () => {
    domain = domainOnMemory()
    const [me, other] = [domain.user(), domain.user()]
    await domain.chat(me, other)
    const { cursor } = await domain.services.catchUp.inbox(me, undefined, undefined)
    await expect(domain.services.catchUp.inbox(other, cursor, undefined)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' })
    const [body, signature] = cursor.split('.')
    const forged = `${Buffer.from(Buffer.from(body!, 'base64url').toString().replace(/\.0/, '.9')).toString('base64url')}.${signature}`
    await expect(domain.services.catchUp.inbox(me, forged, undefined)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' })
    await expect(domain.services.catchUp.inbox(me, 'garbage', undefined)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' })
  })
})
