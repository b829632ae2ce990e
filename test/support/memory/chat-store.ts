import type {
  BlockReport,
  ChatPair,
  ChatRecord,
  ChatSide,
  ChatStore,
  CreateChatResult,
  LiveChatSet,
  MessageCommit,
  MessageRange,
  MessageRecord,
  ParticipantMarks,
  ReadMarks,
} from '../../../src/domain/ports.js'

const copy = <T>(value: T): T => structuredClone(value)

/**
 * The ChatStore port in memory, with DynamoDB's semantics where the domain relies on them: each
 * call is one atomic step (a transaction, a conditional write), conditions are checked against the
 * state at that step, reads return copies. For fast tests of the domain's rules; the DynamoDB
 * store has the same contract (test/chat-store.test.ts runs it against both).
 */
export class InMemoryChatStore implements ChatStore {
  readonly chats = new Map<string, ChatRecord>()
  private readonly pairs = new Map<string, ChatPair>()
  /** Each chat's messages by seq, committed or claimed. */
  private readonly messages = new Map<string, Map<number, MessageRecord>>()
  private readonly memberships = new Map<string, Set<string>>()
  private readonly live = new Map<string, LiveChatSet>()
  private readonly blocks = new Set<string>()
  readonly reports: BlockReport[] = []

  async getPair(pairKey: string): Promise<ChatPair | undefined> {
    return copy(this.pairs.get(pairKey))
  }

  async getChat(chatId: string): Promise<ChatRecord | undefined> {
    return copy(this.chats.get(chatId))
  }

  async getChats(chatIds: string[]): Promise<ChatRecord[]> {
    return chatIds.flatMap((chatId) => (this.chats.has(chatId) ? [copy(this.chats.get(chatId)!)] : []))
  }

  async listChatIds(userId: string): Promise<string[]> {
    return [...(this.memberships.get(userId) ?? [])]
  }

  async createChat(chat: ChatRecord, previousGeneration: number | undefined, maxLiveChats: number): Promise<CreateChatResult> {
    const pair = this.pairs.get(chat.pairKey)
    if (previousGeneration === undefined ? pair !== undefined : pair?.generation !== previousGeneration) return 'pair-moved'
    const sides = (['a', 'b'] as const).filter((side) => chat.hiddenFrom !== side)
    for (const side of sides) {
      if (this.liveSet(chat[side].userId).chatIds.length >= maxLiveChats) return { full: side }
    }
    this.pairs.set(chat.pairKey, { chatId: chat.chatId, generation: chat.generation })
    this.chats.set(chat.chatId, copy(chat))
    for (const side of sides) {
      const { userId } = chat[side]
      this.memberships.set(userId, (this.memberships.get(userId) ?? new Set()).add(chat.chatId))
      const set = this.liveSet(userId)
      this.live.set(userId, { chatIds: [...set.chatIds, chat.chatId], version: set.version + 1 })
    }
    return 'created'
  }

  async liveChatIds(userId: string): Promise<LiveChatSet> {
    return copy(this.liveSet(userId))
  }

  async pruneLiveChats(userId: string, keep: string[], version: number): Promise<boolean> {
    if (this.liveSet(userId).version !== version) return false
    this.live.set(userId, { chatIds: [...keep], version: version + 1 })
    return true
  }

  async claimMessage(message: MessageRecord): Promise<boolean> {
    const messages = this.messagesOf(message.chatId)
    if (messages.has(message.seq)) return false
    messages.set(message.seq, copy(message))
    return true
  }

  async commitMessage(chat: ChatRecord, message: MessageRecord, commit: MessageCommit, now: number): Promise<ChatRecord | undefined> {
    const stored = this.chats.get(chat.chatId)
    if (!stored || stored.lastSeq !== message.seq - 1 || stored.status !== 'ACTIVE' || stored.expiresAt <= now) return undefined
    const sender: ChatSide = stored.a.userId === message.senderId ? 'a' : 'b'
    const recipient: ChatSide = sender === 'a' ? 'b' : 'a'
    Object.assign(stored, { lastSeq: message.seq, lastActivityAt: message.createdAt, expiresAt: commit.expiresAt })
    Object.assign(stored[sender], { readSeq: message.seq, deliveredSeq: message.seq, unread: 0, recentSends: copy(commit.senderRecentSends) })
    stored[recipient].unread += 1
    return copy(stored)
  }

  async getMessage(chatId: string, seq: number): Promise<MessageRecord | undefined> {
    return copy(this.messages.get(chatId)?.get(seq))
  }

  async dropMessage(message: MessageRecord): Promise<void> {
    const messages = this.messagesOf(message.chatId)
    const stored = messages.get(message.seq)
    if (stored?.senderId === message.senderId && stored.clientMessageId === message.clientMessageId) messages.delete(message.seq)
  }

  async listMessages(chatId: string, range: MessageRange): Promise<MessageRecord[]> {
    const inRange = this.sorted(chatId).filter((message) => message.seq > (range.afterSeq ?? 0) && message.seq <= range.throughSeq)
    const page = range.fromEnd ? inRange.slice(-range.limit) : inRange.slice(0, range.limit)
    return copy(page)
  }

  async countMessagesFrom(chatId: string, senderId: string, afterSeq: number, throughSeq: number): Promise<number> {
    return this.sorted(chatId).filter((message) => message.senderId === senderId && message.seq > afterSeq && message.seq <= throughSeq).length
  }

  async storeReadMarks(chatId: string, side: ChatSide, marks: ReadMarks, ifLastSeq: number): Promise<ChatRecord | undefined> {
    const chat = this.chats.get(chatId)
    if (!chat || chat.lastSeq !== ifLastSeq || chat[side].readSeq >= marks.readSeq || chat[side].deliveredSeq > marks.deliveredSeq) return undefined
    Object.assign(chat[side], marks)
    return copy(chat)
  }

  async raiseMark(chatId: string, side: ChatSide, mark: 'readSeq' | 'deliveredSeq', seq: number): Promise<ParticipantMarks | undefined> {
    const chat = this.chats.get(chatId)
    if (!chat || chat[side][mark] >= seq) return undefined
    chat[side][mark] = seq
    return { readSeq: chat[side].readSeq, deliveredSeq: chat[side].deliveredSeq }
  }

  async setMute(chatId: string, side: ChatSide, until: number): Promise<boolean> {
    const chat = this.chats.get(chatId)
    if (!chat) return false
    chat[side].mutedUntil = until === 0 ? undefined : until
    return true
  }

  async closeChat(chat: ChatRecord, status: 'LEFT' | 'BLOCKED', closedBy: ChatSide, now: number, report?: BlockReport): Promise<boolean> {
    const stored = this.chats.get(chat.chatId)
    if (!stored || stored.expiresAt <= now) return false
    if (status === 'LEFT' ? stored.status !== 'ACTIVE' : stored.status === 'BLOCKED') return false
    Object.assign(stored, { status, closedBy })
    for (const side of ['a', 'b'] as const) {
      const set = this.liveSet(stored[side].userId)
      this.live.set(stored[side].userId, { chatIds: set.chatIds.filter((id) => id !== chat.chatId), version: set.version + 1 })
    }
    if (report) {
      this.blocks.add(`${report.reporterId} ${report.reportedId}`)
      this.reports.push(copy(report))
    }
    return true
  }

  async hasBlocked(blockerId: string, blockedId: string): Promise<boolean> {
    return this.blocks.has(`${blockerId} ${blockedId}`)
  }

  private messagesOf(chatId: string): Map<number, MessageRecord> {
    let messages = this.messages.get(chatId)
    if (!messages) this.messages.set(chatId, (messages = new Map<number, MessageRecord>()))
    return messages
  }

  private sorted(chatId: string): MessageRecord[] {
    return [...(this.messages.get(chatId)?.values() ?? [])].sort((x, y) => x.seq - y.seq)
  }

  private liveSet(userId: string): LiveChatSet {
    return this.live.get(userId) ?? { chatIds: [], version: 0 }
  }
}
