import { afterEach, describe, expect, it } from 'vitest'
import { domainOnMemory } from '../../support/memory/domain.js'

describe('starting chats (domain, in memory)', () => {
  let domain: ReturnType<typeof domainOnMemory>
  afterEach(() => domain.close())

  it('gives 20 concurrent starts from both sides of one pair the same chat', async () => {
    domain = domainOnMemory()
    const [author, commenter] = [domain.user(), domain.user()]
    const post = await domain.services.posts.createPost(author, 'p')
    const comment = await domain.services.posts.addComment(commenter, post.id, 'c')
    const starts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 ? domain.services.starts.startChat(author, post.id, comment.id) : domain.services.starts.startChat(commenter, post.id, undefined),
      ),
    )
    expect(new Set(starts.map((chat) => chat.id)).size).toBe(1)
    expect(domain.chats.chats.size).toBe(1)
  })

  it('holds the live-chat limit for both sides under concurrent starts, counting only open, unexpired chats', async () => {
    domain = domainOnMemory({ maxLiveChats: 3, chatTtlSeconds: 60 })
    const victim = domain.user()
    const strangers = Array.from({ length: 10 }, () => domain.user())
    const post = await domain.services.posts.createPost(victim, 'popular')
    const results = await Promise.allSettled(strangers.map((stranger) => domain.services.starts.startChat(stranger, post.id, undefined)))
    const started = results.filter((result) => result.status === 'fulfilled')
    expect(started).toHaveLength(3)
    const refusals = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as { code: string }] : []))
    expect(refusals.map((reason) => reason.code)).toEqual(Array(7).fill('CHAT_LIMIT'))
    // A close frees a place; an expiry frees them all.
    const [first] = started as Array<PromiseFulfilledResult<{ id: string }>>
    await domain.services.closes.leaveChat(victim, first!.value.id)
    await expect(domain.services.starts.startChat(strangers[9]!, post.id, undefined)).resolves.toMatchObject({ status: 'ACTIVE' })
    await expect(domain.services.starts.startChat(strangers[8]!, post.id, undefined)).rejects.toMatchObject({ code: 'CHAT_LIMIT' })
    await domain.clock.advance(60_001)
    await expect(domain.services.starts.startChat(strangers[8]!, post.id, undefined)).resolves.toMatchObject({ status: 'ACTIVE' })
    expect((await domain.chats.liveChatIds(victim.userId)).chatIds).toHaveLength(1)
  })

  it('gives the blocked side a chat hidden from the blocker, and the blocker a chat of its own', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const blocked = await domain.chat(a, b)
    await domain.services.closes.blockChat(a, blocked.id, 'rude')
    const post = await domain.services.posts.createPost(a, 'another')
    const hidden = await domain.services.starts.startChat(b, post.id, undefined)
    expect(hidden.status).toBe('ACTIVE')
    expect(await domain.services.chats.chat(a, hidden.id)).toBeNull()
    expect((await domain.chats.liveChatIds(a.userId)).chatIds).not.toContain(hidden.id)
    const own = await domain.services.starts.startChat(a, post.id, (await domain.services.posts.addComment(b, post.id, 'x')).id)
    expect(own.id).not.toBe(hidden.id)
    expect(await domain.services.chats.chat(b, own.id)).toMatchObject({ id: own.id, status: 'ACTIVE' })
  })
})
