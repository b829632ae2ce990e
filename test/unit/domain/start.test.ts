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

  it("holds the caller's live-chat limit under concurrent starts, counting only open, unexpired chats", async () => {
    domain = domainOnMemory({ maxLiveChats: 3, chatTtlSeconds: 60 })
    const caller = domain.user()
    const posts = await Promise.all(Array.from({ length: 10 }, () => domain.services.posts.createPost(domain.user(), 'p')))
    const results = await Promise.allSettled(posts.map((post) => domain.services.starts.startChat(caller, post.id, undefined)))
    const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
    expect(started).toHaveLength(3)
    const refusals = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as { code: string }] : []))
    expect(refusals.map((reason) => reason.code)).toEqual(Array(7).fill('CHAT_LIMIT'))
    // A close frees a place; an expiry frees them all.
    await domain.services.closes.leaveChat(caller, started[0]!.id)
    await expect(domain.services.starts.startChat(caller, posts[9]!.id, undefined)).resolves.toMatchObject({ status: 'ACTIVE' })
    await expect(domain.services.starts.startChat(caller, posts[8]!.id, undefined)).rejects.toMatchObject({ code: 'CHAT_LIMIT' })
    await domain.clock.advance(60_001)
    await expect(domain.services.starts.startChat(caller, posts[8]!.id, undefined)).resolves.toMatchObject({ status: 'ACTIVE' })
    expect((await domain.chats.liveChatIds(caller.userId)).chatIds).toHaveLength(1)
  })

  it('never puts a peer over the limit: past it, starts on their posts answer alike with chats hidden from them', async () => {
    domain = domainOnMemory({ maxLiveChats: 3, chatTtlSeconds: 60 })
    const victim = domain.user()
    const strangers = Array.from({ length: 12 }, () => domain.user())
    const post = await domain.services.posts.createPost(victim, 'popular')
    const started = await Promise.all(strangers.slice(0, 10).map((stranger) => domain.services.starts.startChat(stranger, post.id, undefined)))
    expect(started.map((chat) => chat.status)).toEqual(Array(10).fill('ACTIVE'))
    const seenByVictim = async (chats: Array<{ id: string }>) =>
      (await Promise.all(chats.map((chat) => domain.services.chats.chat(victim, chat.id)))).filter((chat) => chat !== null)
    expect(await seenByVictim(started)).toHaveLength(3)
    expect((await domain.chats.liveChatIds(victim.userId)).chatIds).toHaveLength(3)
    // A close frees a place for the next start; an expiry frees them all.
    const [first] = await seenByVictim(started)
    await domain.services.closes.leaveChat(victim, first!.id)
    const afterLeave = await domain.services.starts.startChat(strangers[10]!, post.id, undefined)
    expect(await seenByVictim([afterLeave])).toHaveLength(1)
    await domain.clock.advance(60_001)
    const afterExpiry = await domain.services.starts.startChat(strangers[11]!, post.id, undefined)
    expect(await seenByVictim([afterExpiry])).toHaveLength(1)
    expect((await domain.chats.liveChatIds(victim.userId)).chatIds).toEqual([afterExpiry.id])
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
