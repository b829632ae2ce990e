import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { topics, type ChatBusEvent } from '../../../src/domain/events.js'
import type { ChatEventView } from '../../../src/domain/live/views.js'
import type { Viewer } from '../../../src/domain/ports.js'
import { storeMessage } from '../../support/store-message.js'
import { domainOnMemory } from '../../support/memory/domain.js'
import { settle } from '../../support/memory/fake-clock.js'

/** Pulls everything a stream yields into an array. */
function drain(stream: AsyncIterableIterator<ChatEventView>): ChatEventView[] {
  const seen: ChatEventView[] = []
  void (async () => {
    for await (const event of stream) seen.push(event)
  })()
  return seen
}
const seqs = (events: ChatEventView[]) => events.flatMap((event) => (event.kind === 'message' ? [event.message.seq] : []))

describe('chat streams (domain, in memory)', () => {
  let domain: ReturnType<typeof domainOnMemory>
  afterEach(() => domain.close())

  const send = (viewer: Viewer, chatId: string, body: string) => domain.services.messages.sendMessage(viewer, chatId, randomUUID(), body, null)

  it('replays after afterSeq, then fills a gap from the store before a message that skipped ahead', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    await send(a, chat.id, 'one')
    const seen = drain(await domain.services.live.chatEvents(b, chat.id, 0))
    await settle()
    expect(seqs(seen)).toEqual([1])
    // Seq 2 is stored but its event is lost; seq 3's event arrives.
    const stored = (await domain.chats.getChat(chat.id))!
    await storeMessage(domain.chats, stored, { chatId: chat.id, seq: 2, senderId: a.userId, clientMessageId: 'x', body: 'lost', photoId: undefined, createdAt: domain.clock.now() }, domain.clock.now() + 86_400_000, domain.clock.now())
    // The send's cached chat is a seq behind: it loses the race for seq 2, waits a little, and
    // takes seq 3.
    const three = send(a, chat.id, 'three')
    await domain.clock.advance(100)
    expect((await three).seq).toBe(3)
    await settle()
    expect(seqs(seen)).toEqual([1, 2, 3])
    // A repeated event changes nothing.
    const repeat = (await domain.chats.listMessages(chat.id, { afterSeq: 2, throughSeq: 3, limit: 1, fromEnd: false }))[0]!
    await domain.events.publish(topics.chat(chat.id), { kind: 'message', chatId: chat.id, message: repeat, expiresAt: 0, recipientUnread: 1 })
    await settle()
    expect(seqs(seen)).toEqual([1, 2, 3])
  })

  it('catches up from the store when the bus says events may have been lost, without a new message', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    const seen = drain(await domain.services.live.chatEvents(b, chat.id, 0))
    // Two messages stored while no event reaches anyone.
    const publish = domain.events.publish.bind(domain.events)
    domain.events.publish = async () => {}
    await send(a, chat.id, 'm1')
    await send(a, chat.id, 'm2')
    domain.events.publish = publish
    await settle()
    expect(seqs(seen)).toEqual([])
    // What the Redis bus does when its subscriber is back.
    ;(domain.services.live as unknown as { resyncAll(): void }).resyncAll()
    await settle()
    expect(seqs(seen)).toEqual([1, 2])
  })

  it('compacts a flooded inbox into one resync: every message still arrives once, in order', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    const seen = drain(await domain.services.live.chatEvents(b, chat.id, 0))
    await settle()
    // 300 sends queued at once, plus 300 typing toggles: more than the inbox holds.
    const sends = Array.from({ length: 300 }, (_, i) => send(a, chat.id, `m${i}`))
    for (let i = 0; i < 300; i++) {
      const typing: ChatBusEvent = { kind: 'typing', chatId: chat.id, userId: a.userId, typing: i % 2 === 0 }
      void domain.events.publish(topics.chat(chat.id), typing)
    }
    await Promise.all(sends)
    await settle()
    await domain.clock.advance(1_000)
    expect(seqs(seen)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
  })

  it('ends with EXPIRED at the expiry instant, not before, and a message moves the instant later', async () => {
    domain = domainOnMemory({ chatTtlSeconds: 10 })
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    const seen = drain(await domain.services.live.chatEvents(b, chat.id, 0))
    await domain.clock.advance(5_000)
    await send(a, chat.id, 'still here')
    await domain.clock.advance(9_000)
    expect(seen.some((event) => event.kind === 'closed')).toBe(false)
    await domain.clock.advance(1_500)
    expect(seen.at(-1)).toEqual({ kind: 'closed', chatId: chat.id, reason: 'EXPIRED' })
    // Gone for both sides at once, on every read path.
    expect(await domain.services.chats.chat(a, chat.id)).toBeNull()
    await expect(send(b, chat.id, 'late')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('throttles the peer’s presence to one change a second, the latest winning', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    const seen = drain(await domain.services.live.chatEvents(b, chat.id, undefined))
    for (let i = 0; i < 20; i++) {
      void domain.events.publish(topics.chat(chat.id), { kind: 'presence', chatId: chat.id, userId: a.userId, present: i % 2 === 0 })
    }
    await settle()
    expect(seen.filter((event) => event.kind === 'presence')).toEqual([{ kind: 'presence', chatId: chat.id, peerPresent: true }])
    await domain.clock.advance(1_000)
    // The last said false.
    expect(seen.filter((event) => event.kind === 'presence').map((event) => (event as { peerPresent: boolean }).peerPresent)).toEqual([true, false])
  })
})
