import { afterEach, describe, expect, it, vi } from 'vitest'
import { RECENT_SENDS } from '../../../src/domain/chats/recent-sends.js'
import type { MessageRecord, Viewer } from '../../../src/domain/ports.js'
import { domainOnMemory } from '../../support/memory/domain.js'

/**
 * A send is two writes (claim seq n, commit it on the chat); these are the cases between them,
 * which the transport tests cannot stop at: a process that died after its claim, a retry of
 * such a send, a chat closed under a claim, and what each path costs the store.
 */
describe('sends and reads (domain, in memory)', () => {
  let domain: ReturnType<typeof domainOnMemory>
  afterEach(() => domain.close())

  const send = (viewer: Viewer, chatId: string, clientMessageId: string, body = clientMessageId) =>
    domain.services.messages.sendMessage(viewer, chatId, clientMessageId, body, null)

  /** Stored messages up to the chat's lastSeq, as every read sees them. */
  async function visible(chatId: string): Promise<Array<Pick<MessageRecord, 'seq' | 'body'>>> {
    const chat = (await domain.chats.getChat(chatId))!
    const messages = await domain.chats.listMessages(chatId, { throughSeq: chat.lastSeq, limit: 100, fromEnd: false })
    return messages.map(({ seq, body }) => ({ seq, body }))
  }

  /** A claim of seq n with no commit: what a process that died between the two writes leaves. */
  async function claimOnly(chatId: string, sender: Viewer, clientMessageId: string): Promise<void> {
    const chat = (await domain.chats.getChat(chatId))!
    const message = { chatId, seq: chat.lastSeq + 1, senderId: sender.userId, clientMessageId, body: clientMessageId, photoId: undefined, createdAt: domain.clock.now() }
    expect(await domain.chats.claimMessage(message)).toBe(true)
  }

  it('commits a claim its sender left behind before taking the next seq: no gap, nothing lost', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    await send(a, chat.id, 'one')
    await claimOnly(chat.id, a, 'two, whose process died')
    expect(await visible(chat.id)).toEqual([{ seq: 1, body: 'one' }])

    expect((await send(b, chat.id, 'three')).seq).toBe(3)
    expect(await visible(chat.id)).toEqual([
      { seq: 1, body: 'one' },
      { seq: 2, body: 'two, whose process died' },
      { seq: 3, body: 'three' },
    ])
    const stored = (await domain.chats.getChat(chat.id))!
    const [ofA, ofB] = stored.a.userId === a.userId ? [stored.a, stored.b] : [stored.b, stored.a]
    // b's send read everything before it; a has b's one message unread.
    expect(ofB).toMatchObject({ readSeq: 3, unread: 0 })
    expect(ofA).toMatchObject({ readSeq: 2, unread: 1 })
  })

  it('answers the retry of a send that only claimed its seq with that very message, once', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    await claimOnly(chat.id, a, 'retried')
    const retry = await send(a, chat.id, 'retried', 'retried')
    expect(retry.seq).toBe(1)
    expect(await send(a, chat.id, 'retried')).toEqual(retry)
    expect(await visible(chat.id)).toEqual([{ seq: 1, body: 'retried' }])
  })

  it(`recognises a retry while the first attempt is among the sender's last ${RECENT_SENDS} sends`, async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    await send(a, chat.id, 'first')
    for (let i = 1; i < RECENT_SENDS; i++) {
      await send(a, chat.id, `a${i}`)
      // The peer's messages in between do not push it out of the window.
      await send(b, chat.id, `b${i}`)
    }
    expect((await send(a, chat.id, 'first')).seq).toBe(1)
    await send(a, chat.id, 'one more')
    // Past the window the id is a new message's.
    expect((await send(a, chat.id, 'first')).seq).toBe(2 * RECENT_SENDS + 1)
  })

  it('drops its claim when the chat closed under it, and answers CHAT_CLOSED', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    await send(a, chat.id, 'one')
    // Closed behind this process's copy of the chat (as by another process).
    const stored = (await domain.chats.getChat(chat.id))!
    const sideOfB = stored.a.userId === b.userId ? 'a' : 'b'
    expect(await domain.chats.closeChat(stored, 'LEFT', sideOfB, domain.clock.now())).toBe(true)
    const claims = vi.spyOn(domain.chats, 'claimMessage')

    await expect(send(a, chat.id, 'two')).rejects.toMatchObject({ code: 'CHAT_CLOSED' })
    expect(claims).toHaveBeenCalledTimes(1)
    expect(await domain.chats.getMessage(chat.id, 2)).toBeUndefined()
  })

  it('costs a send on a current copy two writes and no read, and reading to the end one write and no count', async () => {
    domain = domainOnMemory()
    const [a, b] = [domain.user(), domain.user()]
    const chat = await domain.chat(a, b)
    await send(a, chat.id, 'one')
    const { chats } = domain
    const calls = (['claimMessage', 'commitMessage', 'getChat', 'getMessage', 'storeReadMarks', 'countMessagesFrom'] as const).map((name) => [name, vi.spyOn(chats, name)] as const)
    const counts = () => Object.fromEntries(calls.map(([name, spy]) => [name, spy.mock.calls.length]))
    const reset = () => calls.forEach(([, spy]) => spy.mockClear())

    await send(a, chat.id, 'two')
    expect(counts()).toEqual({ claimMessage: 1, commitMessage: 1, getChat: 0, getMessage: 0, storeReadMarks: 0, countMessagesFrom: 0 })

    reset()
    const view = await domain.services.receipts.markRead(b, chat.id, 2)
    expect(domain.services.receipts.unreadCount(view)).toBe(0)
    expect(counts()).toMatchObject({ storeReadMarks: 1, countMessagesFrom: 0 })

    // Reading to a message before the last counts what is left.
    await send(a, chat.id, 'three')
    await send(a, chat.id, 'four')
    reset()
    expect(domain.services.receipts.unreadCount(await domain.services.receipts.markRead(b, chat.id, 3))).toBe(1)
    expect(counts()).toMatchObject({ storeReadMarks: 1, countMessagesFrom: 1 })
  })
})
