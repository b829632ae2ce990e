import { withRecentSend } from '../../src/domain/chats/recent-sends.js'
import type { ChatRecord, ChatStore, MessageRecord } from '../../src/domain/ports.js'

/**
 * Stores `message` straight through the store, with a send's two writes (claim, then commit) and
 * none of its events: the chat as committed.
 */
export async function storeMessage(store: ChatStore, chat: ChatRecord, message: MessageRecord, expiresAt: number, now: number): Promise<ChatRecord> {
  if (!(await store.claimMessage(message))) throw new Error(`seq ${message.seq} of ${message.chatId} is taken`)
  const side = chat.a.userId === message.senderId ? 'a' : 'b'
  const committed = await store.commitMessage(chat, message, { expiresAt, senderRecentSends: withRecentSend(chat[side], message.clientMessageId, message.seq) }, now)
  if (!committed) throw new Error(`seq ${message.seq} of ${message.chatId} not committed`)
  return committed
}
