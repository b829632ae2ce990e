import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { ChatRecord, ChatStore, MessageRecord } from '../src/domain/ports.js'
import { DynamoChatStore } from '../src/infra/dynamodb/chat-store.js'
import { createDynamoClients } from '../src/infra/dynamodb/client.js'
import { createEntities } from '../src/infra/dynamodb/entities.js'
import { createHushTable, ensureTable } from '../src/infra/dynamodb/table.js'
import { InMemoryChatStore } from './support/memory/chat-store.js'
import { storeMessage } from './support/store-message.js'

const NOW = 1_800_000_000_000
const DAY = 86_400_000

function chatOf(a: string, b: string, extra: Partial<ChatRecord> = {}): ChatRecord {
  const participant = (userId: string) => ({ userId, role: 'COMMENTER' as const, alias: `alias ${userId}`, readSeq: 0, deliveredSeq: 0, unread: 0 })
  return {
    chatId: `c${randomUUID().replaceAll('-', '')}`,
    pairKey: `p${randomUUID().replaceAll('-', '')}`,
    generation: 0,
    postId: '01JABCDEFGHJKMNPQRSTVWXYZ0',
    a: participant(a),
    b: participant(b),
    status: 'ACTIVE',
    closedBy: undefined,
    hiddenFrom: undefined,
    createdAt: NOW,
    lastActivityAt: NOW,
    expiresAt: NOW + DAY,
    lastSeq: 0,
    ...extra,
  }
}

const messageOf = (chat: ChatRecord, seq: number, senderId: string, clientMessageId: string = randomUUID()): MessageRecord => ({
  chatId: chat.chatId,
  seq,
  senderId,
  clientMessageId,
  body: `m${seq}`,
  photoId: undefined,
  createdAt: NOW + seq,
})

const user = () => `u_${randomUUID().slice(0, 8)}`

/**
 * One contract for the two ChatStores: what the domain relies on holds for DynamoDB and for the
 * in-memory store its unit tests run on, so those tests prove something about the real thing.
 */
const stores: Array<{ name: string; create: () => Promise<{ store: ChatStore; close: () => void }> }> = [
  { name: 'in memory', create: async () => ({ store: new InMemoryChatStore(), close: () => {} }) },
  {
    name: 'DynamoDB',
    create: async () => {
      const clients = createDynamoClients(inject('dynamodbEndpoint'), `contract-${randomUUID().slice(0, 8)}`)
      const table = `hush_contract_${randomUUID().slice(0, 8)}`
      await ensureTable(clients.client, table)
      return {
        store: new DynamoChatStore(createEntities(createHushTable(clients.documentClient, table))),
        close: () => {
          clients.client.destroy()
          clients.streamsClient.destroy()
        },
      }
    },
  },
]

describe.each(stores)('ChatStore contract: $name', ({ create }) => {
  let store: ChatStore
  let close: () => void
  beforeAll(async () => {
    ;({ store, close } = await create())
  })
  afterAll(() => close())

  it('creates a chat once per pair generation, and only while both live sets have room', async () => {
    const [a, b, c] = [user(), user(), user()]
    const first = chatOf(a, b)
    expect(await store.createChat(first, undefined, 2)).toBe('created')
    expect(await store.createChat({ ...chatOf(a, b), pairKey: first.pairKey }, undefined, 2)).toBe('pair-moved')
    expect(await store.getPair(first.pairKey)).toEqual({ chatId: first.chatId, generation: 0 })
    expect(await store.createChat(chatOf(a, c), undefined, 2)).toBe('created')
    expect(await store.createChat(chatOf(c, a), undefined, 2)).toEqual({ full: 'b' })
    expect(await store.createChat(chatOf(a, user()), undefined, 2)).toEqual({ full: 'a' })
    expect((await store.liveChatIds(a)).chatIds.sort()).toHaveLength(2)
    expect((await store.listChatIds(b))).toEqual([first.chatId])
  })

  it('answers reads made together (one batch on DynamoDB) each with its own chat or live set, the missing as missing', async () => {
    const [a, b, c] = [user(), user(), user()]
    const ab = chatOf(a, b)
    const ac = chatOf(a, c, { lastSeq: 0, expiresAt: NOW + 2 * DAY })
    await store.createChat(ab, undefined, 5)
    await store.createChat(ac, undefined, 5)
    const [one, two, none, again, setA, setB, setNobody, listed] = await Promise.all([
      store.getChat(ab.chatId),
      store.getChat(ac.chatId),
      store.getChat('cNoSuchChat'),
      store.getChat(ab.chatId),
      store.liveChatIds(a),
      store.liveChatIds(b),
      store.liveChatIds(user()),
      store.getChats([ac.chatId, 'cNoSuchChat', ab.chatId]),
    ])
    expect([one?.chatId, two?.chatId, none, again?.chatId]).toEqual([ab.chatId, ac.chatId, undefined, ab.chatId])
    expect(two?.expiresAt).toBe(NOW + 2 * DAY)
    expect(setA.chatIds.sort()).toEqual([ab.chatId, ac.chatId].sort())
    expect(setB.chatIds).toEqual([ab.chatId])
    expect(setNobody).toEqual({ chatIds: [], version: 0 })
    expect(listed.map((chat) => chat.chatId)).toEqual([ac.chatId, ab.chatId])
  })

  it('keeps a hidden chat out of the hidden side’s memberships and live set', async () => {
    const [a, b] = [user(), user()]
    const hidden = chatOf(a, b, { hiddenFrom: 'b' })
    expect(await store.createChat(hidden, undefined, 1)).toBe('created')
    expect(await store.listChatIds(b)).toEqual([])
    expect((await store.liveChatIds(b)).chatIds).toEqual([])
    expect((await store.getChat(hidden.chatId))?.hiddenFrom).toBe('b')
  })

  it('prunes a live set only at the version read, and a close takes the chat out of both sets', async () => {
    const [a, b] = [user(), user()]
    const chat = chatOf(a, b)
    await store.createChat(chat, undefined, 5)
    const { version } = await store.liveChatIds(a)
    expect(await store.pruneLiveChats(a, [], version - 1)).toBe(false)
    expect(await store.closeChat(chat, 'LEFT', 'a', NOW)).toBe(true)
    expect((await store.liveChatIds(a)).chatIds).toEqual([])
    expect((await store.liveChatIds(b)).chatIds).toEqual([])
    expect(await store.closeChat(chat, 'LEFT', 'b', NOW)).toBe(false)
    expect((await store.getChat(chat.chatId))?.status).toBe('LEFT')
  })

  it('claims a seq once, commits it only at n − 1 while open and live, and drops a claim only of its sender', async () => {
    const [a, b] = [user(), user()]
    const chat = chatOf(a, b)
    await store.createChat(chat, undefined, 5)
    const first = messageOf(chat, 1, a, 'same')
    expect(await store.claimMessage(first)).toBe(true)
    expect(await store.claimMessage(messageOf(chat, 1, b))).toBe(false)
    const commit = { expiresAt: NOW + 2 * DAY, senderRecentSends: [{ key: 'k1', seq: 1 }] }
    const after = await store.commitMessage(chat, first, commit, NOW)
    expect(after).toMatchObject({ lastSeq: 1, expiresAt: NOW + 2 * DAY, a: { readSeq: 1, deliveredSeq: 1, unread: 0, recentSends: [{ key: 'k1', seq: 1 }] }, b: { unread: 1 } })
    expect(await store.getChat(chat.chatId)).toEqual(after)
    // Only once, and only from n − 1.
    expect(await store.commitMessage(chat, first, commit, NOW)).toBeUndefined()
    expect(await store.getMessage(chat.chatId, 1)).toMatchObject({ seq: 1, senderId: a, clientMessageId: 'same' })

    // A claim on a chat that expired is never committed; only its own sender's drop removes it.
    const second = messageOf(after!, 2, b)
    expect(await store.claimMessage(second)).toBe(true)
    expect(await store.commitMessage(after!, second, { expiresAt: NOW + 4 * DAY, senderRecentSends: [] }, NOW + 3 * DAY)).toBeUndefined()
    await store.dropMessage({ ...second, clientMessageId: 'someone else' })
    expect(await store.getMessage(chat.chatId, 2)).toBeDefined()
    await store.dropMessage(second)
    expect(await store.getMessage(chat.chatId, 2)).toBeUndefined()
    expect((await store.getChat(chat.chatId))?.lastSeq).toBe(1)
  })

  it('stores read marks and the unread counter in one write, only at the lastSeq read and never back', async () => {
    const [a, b] = [user(), user()]
    const chat = chatOf(a, b)
    await store.createChat(chat, undefined, 5)
    await storeMessage(store, chat, messageOf(chat, 1, a), NOW + DAY, NOW)
    expect(await store.storeReadMarks(chat.chatId, 'b', { readSeq: 1, deliveredSeq: 1, unread: 0 }, 0)).toBeUndefined()
    expect(await store.storeReadMarks(chat.chatId, 'b', { readSeq: 1, deliveredSeq: 1, unread: 0 }, 1)).toMatchObject({ b: { readSeq: 1, deliveredSeq: 1, unread: 0 } })
    expect(await store.storeReadMarks(chat.chatId, 'b', { readSeq: 1, deliveredSeq: 1, unread: 0 }, 1)).toBeUndefined()
    expect(await store.raiseMark(chat.chatId, 'a', 'deliveredSeq', 1)).toBeUndefined()
    // The delivered mark never moves back either.
    expect(await store.raiseMark(chat.chatId, 'b', 'deliveredSeq', 1)).toBeUndefined()
  })

  it('lists messages in a seq range from either end, never past throughSeq, and counts a sender’s messages in a range', async () => {
    const [a, b] = [user(), user()]
    let chat = chatOf(a, b)
    await store.createChat(chat, undefined, 5)
    for (let seq = 1; seq <= 6; seq++) chat = await storeMessage(store, chat, messageOf(chat, seq, seq % 2 ? a : b), NOW + DAY, NOW)
    // A claim past lastSeq.
    expect(await store.claimMessage(messageOf(chat, 7, a))).toBe(true)
    const seqs = async (range: Parameters<ChatStore['listMessages']>[1]) => (await store.listMessages(chat.chatId, range)).map((m) => m.seq)
    expect(await seqs({ afterSeq: 2, throughSeq: 6, limit: 2, fromEnd: false })).toEqual([3, 4])
    expect(await seqs({ throughSeq: 5, limit: 2, fromEnd: true })).toEqual([4, 5])
    expect(await seqs({ afterSeq: 1, throughSeq: 3, limit: 10, fromEnd: false })).toEqual([2, 3])
    expect(await seqs({ afterSeq: 4, throughSeq: chat.lastSeq, limit: 10, fromEnd: true })).toEqual([5, 6])
    expect(await store.countMessagesFrom(chat.chatId, a, 2, 6)).toBe(2)
    expect(await store.countMessagesFrom(chat.chatId, a, 2, 4)).toBe(1)
  })

  it('refuses to close an expired chat, and remembers a block one way', async () => {
    const [a, b] = [user(), user()]
    const chat = chatOf(a, b, { expiresAt: NOW - 1 })
    await store.createChat(chat, undefined, 5)
    expect(await store.closeChat(chat, 'BLOCKED', 'a', NOW)).toBe(false)
    const live = chatOf(a, b)
    await store.createChat(live, undefined, 5)
    const report = { reportId: '01JABCDEFGHJKMNPQRSTVWXYZ1', chatId: live.chatId, postId: live.postId, reporterId: a, reportedId: b, reason: 'r', createdAt: NOW }
    expect(await store.closeChat(live, 'BLOCKED', 'a', NOW, report)).toBe(true)
    expect(await store.hasBlocked(a, b)).toBe(true)
    expect(await store.hasBlocked(b, a)).toBe(false)
  })
})
