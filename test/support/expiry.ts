import { randomUUID } from 'node:crypto'
import type { ChatRecord } from '../../src/domain/ports.js'
import type { DynamoChatStore } from '../../src/infra/dynamodb/chat-store.js'
import { storeMessage } from './store-message.js'

/**
 * A chat of two new users with two messages, stored straight through the store so that its expiry
 * is the test's to choose: `ms` from now.
 */
export async function storeChatExpiringIn(store: DynamoChatStore, ms: number): Promise<ChatRecord> {
  const now = Date.now()
  const side = () => ({ userId: `u_${randomUUID().slice(0, 8)}`, role: 'COMMENTER' as const, alias: 'Amber Fox', readSeq: 0, deliveredSeq: 0, unread: 0 })
  const chat: ChatRecord = {
    ...{ chatId: `c${randomUUID().replaceAll('-', '')}`, pairKey: `p${randomUUID().replaceAll('-', '')}`, generation: 0, postId: 'post' },
    ...{ a: side(), b: side(), status: 'ACTIVE', closedBy: undefined, hiddenFrom: undefined },
    ...{ createdAt: now, lastActivityAt: now, expiresAt: now + ms, lastSeq: 0 },
  }
  const created = await store.createChat(chat, undefined, 100)
  if (created !== 'created') throw new Error(`chat not created: ${JSON.stringify(created)}`)
  for (const seq of [1, 2]) {
    const message = { chatId: chat.chatId, seq, senderId: chat.a.userId, clientMessageId: randomUUID(), body: `m${seq}`, photoId: undefined, createdAt: now }
    await storeMessage(store, { ...chat, lastSeq: seq - 1 }, message, chat.expiresAt, now)
  }
  return { ...chat, lastSeq: 2 }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it holds; the time it took, or an error naming `what` after `ms`. */
export async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms: ${what}`)
    await sleep(200)
  }
  return Date.now() - started
}
