import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { topics, type ChatBusEvent } from '../../../src/domain/events.js'
import { domainOnMemory } from '../../support/memory/domain.js'
import { settle } from '../../support/memory/fake-clock.js'

describe('delivery receipts (domain, in memory)', () => {
  let domain: ReturnType<typeof domainOnMemory>
  afterEach(() => domain.close())

  it('sends one receipt per burst of delivered messages, stores the mark 5 s later, and at once when the stream closes', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    const receipts: ChatBusEvent[] = []
    await domain.events.subscribe(topics.chat(chat.id), { hear: (event) => event.kind === 'receipt' && receipts.push(event) })
    const stream = await domain.services.live.chatEvents(b, chat.id, 0)
    void (async () => {
      for await (const _ of stream);
    })()
    for (let i = 0; i < 10; i++) await domain.services.messages.sendMessage(a, chat.id, randomUUID(), `m${i}`, null)
    await settle()
    expect(receipts).toEqual([])
    await domain.clock.advance(100)
    // One receipt for the burst, sent from the live stream, not stored yet.
    expect(receipts).toEqual([{ kind: 'receipt', chatId: chat.id, userId: b.userId, readSeq: 0, deliveredSeq: 10, stored: false }])
    const deliveredOfB = async () => {
      const stored = (await domain.chats.getChat(chat.id))!
      return (stored.a.userId === b.userId ? stored.a : stored.b).deliveredSeq
    }
    expect(await deliveredOfB()).toBe(0)
    await domain.clock.advance(5_000)
    expect(await deliveredOfB()).toBe(10)
    // Two more, then the stream closes before either timer: both go out at once.
    for (let i = 0; i < 2; i++) await domain.services.messages.sendMessage(a, chat.id, randomUUID(), `late ${i}`, null)
    await settle()
    await stream.return!()
    await settle()
    expect(receipts.at(-1)).toMatchObject({ deliveredSeq: 12 })
    expect(await deliveredOfB()).toBe(12)
  })

  it('shows the sender the peer’s marks as they move, never backwards', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    for (let i = 0; i < 3; i++) await domain.services.messages.sendMessage(a, chat.id, randomUUID(), `m${i}`, null)
    const seen: unknown[] = []
    const stream = await domain.services.live.chatEvents(a, chat.id, undefined)
    void (async () => {
      for await (const event of stream) if (event.kind === 'receipt') seen.push([event.peerDeliveredSeq, event.peerReadSeq])
    })()
    await domain.services.receipts.markRead(b, chat.id, 2)
    await domain.services.receipts.markRead(b, chat.id, 1)
    await domain.services.receipts.markRead(b, chat.id, 3)
    await settle()
    expect(seen).toEqual([
      [2, 2],
      [3, 3],
    ])
    expect((await domain.services.chats.chat(b, chat.id))!.internal).toMatchObject({ chat: { lastSeq: 3 } })
    const { chat: stored, side } = (await domain.services.chats.chat(b, chat.id))!.internal
    expect(stored[side].unread).toBe(0)
  })

  it('tells the peer of the marks a send raised (one receipt per burst), so a later markRead of an older seq leaves nothing untold', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    const send = (viewer: typeof a, body: string) => domain.services.messages.sendMessage(viewer, chat.id, randomUUID(), body, null)
    const stream = await domain.services.live.chatEvents(b, chat.id, undefined)
    const seen: unknown[] = []
    void (async () => {
      for await (const event of stream) if (event.kind === 'receipt') seen.push([event.peerDeliveredSeq, event.peerReadSeq])
    })()
    for (let i = 1; i <= 3; i++) await send(b, `b${i}`)
    await send(a, 'a reply reads everything before it')
    await settle()
    expect(seen).toEqual([[4, 4]])
    // Moves nothing, publishes nothing: the stream already knows.
    await domain.services.receipts.markRead(a, chat.id, 2)
    // A burst of the peer's messages, one of them lost on the bus and filled from the store: one receipt.
    const publish = domain.events.publish.bind(domain.events)
    domain.events.publish = async () => {}
    await send(a, 'lost')
    domain.events.publish = publish
    await send(a, 'found')
    await settle()
    expect(seen).toEqual([
      [4, 4],
      [6, 6],
    ])
    const view = (await domain.services.chats.chat(b, chat.id))!
    expect(seen.at(-1)).toEqual([view.peerDeliveredSeq, view.peerReadSeq])
  })
})
