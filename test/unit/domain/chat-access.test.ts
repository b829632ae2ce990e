import { afterEach, describe, expect, it } from 'vitest'
import { domainOnMemory } from '../../support/memory/domain.js'

describe('chat copies kept by a process (domain, in memory)', () => {
  let domain: ReturnType<typeof domainOnMemory>
  afterEach(() => domain.close())

  it('drops its copy of a chat within a minute of the chat expiring, and keeps live ones', async () => {
    domain = domainOnMemory()
    const [a, b, c] = [domain.user(), domain.user(), domain.user()]
    const quiet = await domain.chat(a, b)
    await domain.services.messages.sendMessage(a, quiet.id, 'm1', 'hello', null)
    expect(domain.services.access.cachedChats).toBe(1)

    const ttlMs = (await domain.chats.getChat(quiet.id))!.expiresAt - domain.clock.now()
    await domain.clock.advance(ttlMs - 60_000)
    const busy = await domain.chat(c, b)
    await domain.services.messages.sendMessage(c, busy.id, 'm1', 'still here', null)
    expect(domain.services.access.cachedChats).toBe(2)

    // Past the quiet chat's expiry: the next copy this process keeps scans out the dead one.
    await domain.clock.advance(2 * 60_000)
    await domain.services.messages.sendMessage(c, busy.id, 'm2', 'and here', null)
    expect(domain.services.access.cachedChats).toBe(1)
    expect(await domain.services.access.load(a, quiet.id, 'cached')).toBeUndefined()
    expect((await domain.services.access.load(c, busy.id, 'cached'))?.chat.lastSeq).toBe(2)
  })
})
