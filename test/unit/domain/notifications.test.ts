import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { NotificationView } from '../../../src/domain/live/views.js'
import { domainOnMemory } from '../../support/memory/domain.js'
import { settle } from '../../support/memory/fake-clock.js'

describe('notifications (domain, in memory)', () => {
  let domain: ReturnType<typeof domainOnMemory>
  afterEach(() => domain.close())

  const open = async (viewer: Parameters<typeof domain.services.live.notifications>[0]) => {
    const seen: NotificationView[] = []
    const stream = await domain.services.live.notifications(viewer)
    void (async () => {
      for await (const event of stream) seen.push(event)
    })()
    return seen
  }
  const kinds = (seen: NotificationView[]) => seen.map((n) => `${n.kind}${n.kind === 'newMessage' ? `:${n.message.body}:${n.unreadCount}` : ''}`)

  it('routes to the user what concerns them: chats started with them, the peer’s messages, closes and expiries', async () => {
    domain = domainOnMemory({ chatTtlSeconds: 30 })
    const [author, commenter] = [domain.user(), domain.user()]
    const seen = await open(author)
    const chat = await domain.chat(author, commenter)
    await settle()
    await domain.services.messages.sendMessage(commenter, chat.id, randomUUID(), 'hi', null)
    await domain.services.messages.sendMessage(author, chat.id, randomUUID(), 'mine', null)
    await domain.services.messages.sendMessage(commenter, chat.id, randomUUID(), 'again', null)
    await settle()
    expect(kinds(seen)).toEqual(['chatStarted', 'newMessage:hi:1', 'newMessage:again:1'])
    // A second chat expires: the stream says so once, and stops following it.
    const other = await domain.chat(author, domain.user())
    await settle()
    await domain.clock.advance(31_000)
    expect(seen.filter((n) => n.kind === 'chatClosed')).toEqual([
      { kind: 'chatClosed', chatId: chat.id, reason: 'EXPIRED' },
      { kind: 'chatClosed', chatId: other.id, reason: 'EXPIRED' },
    ])
  })

  it('follows every open chat of the user, not a capped number, and drops closed ones', async () => {
    domain = domainOnMemory({ maxLiveChats: 500 })
    const user = domain.user()
    const peers = Array.from({ length: 250 }, () => domain.user())
    const chats = []
    for (const peer of peers) chats.push(await domain.chat(user, peer))
    const seen = await open(user)
    await settle()
    for (const [i, chat] of chats.entries()) await domain.services.messages.sendMessage(peers[i]!, chat.id, randomUUID(), 'x', null)
    await settle()
    expect(new Set(seen.filter((n) => n.kind === 'newMessage').map((n) => n.chatId)).size).toBe(250)
    await domain.services.closes.leaveChat(peers[0]!, chats[0]!.id)
    await domain.services.messages.sendMessage(peers[1]!, chats[1]!.id, randomUUID(), 'y', null)
    await settle()
    expect(seen.slice(-2).map((n) => n.kind)).toEqual(['chatClosed', 'newMessage'])
    expect(domain.events.activeTopics()).toBe(250 + 1 - 1)
  })

  it('after a possible loss, notifies the chats started, the newest messages and the closes it missed', async () => {
    domain = domainOnMemory()
    const [user, peer, stranger] = [domain.user(), domain.user(), domain.user()]
    const known = await domain.chat(user, peer)
    const seen = await open(user)
    await settle()
    const publish = domain.events.publish.bind(domain.events)
    domain.events.publish = async () => {}
    await domain.services.messages.sendMessage(peer, known.id, randomUUID(), 'missed', null)
    const post = await domain.services.posts.createPost(user, 'new')
    const fresh = await domain.services.starts.startChat(stranger, post.id, undefined)
    await domain.services.messages.sendMessage(stranger, fresh.id, randomUUID(), 'hello', null)
    domain.events.publish = publish
    ;(domain.services.live as unknown as { resyncAll(): void }).resyncAll()
    await settle()
    expect(kinds(seen)).toEqual(['newMessage:missed:1', 'chatStarted', 'newMessage:hello:1'])
  })
})
