import type {
  AppendResult,
  BlockReport,
  ChatPair,
  ChatRecord,
  ChatSide,
  ChatStore,
  CreateChatResult,
  LiveChatSet,
  MessageRange,
  MessageRecord,
  ParticipantMarks,
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
  private readonly messages = new Map<string, MessageRecord[]>()
  private readonly requests = new Map<string, number>()
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

  async appendMessage(chat: ChatRecord, message: MessageRecord, expiresAt: number, now: number): Promise<AppendResult> {
    const stored = this.chats.get(chat.chatId)
    const requestKey = `${chat.chatId} ${message.senderId} ${message.clientMessageId}`
    if (!stored || stored.lastSeq !== message.seq - 1 || stored.status !== 'ACTIVE' || stored.expiresAt <= now) {
      return this.requests.has(requestKey) ? 'duplicate' : 'conflict'
    }
    if (this.requests.has(requestKey)) return 'duplicate'
    const sender: ChatSide = stored.a.userId === message.senderId ? 'a' : 'b'
    const recipient: ChatSide = sender === 'a' ? 'b' : 'a'
    Object.assign(stored, { lastSeq: message.seq, lastActivityAt: now, expiresAt })
    Object.assign(stored[sender], { readSeq: message.seq, deliveredSeq: message.seq, unread: 0 })
    stored[recipient].unread += 1
    this.requests.set(requestKey, message.seq)
    this.messages.set(chat.chatId, [...(this.messages.get(chat.chatId) ?? []), copy(message)])
    return 'appended'
  }

  async getMessageByClientId(chatId: string, senderId: string, clientMessageId: string): Promise<MessageRecord | undefined> {
    const seq = this.requests.get(`${chatId} ${senderId} ${clientMessageId}`)
    return seq === undefined ? undefined : copy(this.messages.get(chatId)?.find((message) => message.seq === seq))
  }

  async listMessages(chatId: string, range: MessageRange): Promise<MessageRecord[]> {
    const inRange = (this.messages.get(chatId) ?? []).filter(
      (message) => message.seq > (range.afterSeq ?? 0) && (range.beforeSeq === undefined || message.seq < range.beforeSeq),
    )
    const page = range.fromEnd ? inRange.slice(-range.limit) : inRange.slice(0, range.limit)
    return copy(page)
  }

  async countMessagesFrom(chatId: string, senderId: string, afterSeq: number): Promise<number> {
    return (this.messages.get(chatId) ?? []).filter((message) => message.senderId === senderId && message.seq > afterSeq).length
  }

  async setUnread(chatId: string, side: ChatSide, unread: number, ifLastSeq: number): Promise<boolean> {
    const chat = this.chats.get(chatId)
    if (!chat || chat.lastSeq !== ifLastSeq) return false
    chat[side].unread = unread
    return true
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

  private liveSet(userId: string): LiveChatSet {
    return this.live.get(userId) ?? { chatIds: [], version: 0 }
  }
}
