import { BoundedCache } from '../bounded-cache.js'
import { notFound } from '../errors.js'
import type { ChatRecord, ChatStore, Clock, Viewer } from '../ports.js'
import { asCallerChat, isLive, type CallerChat } from './views.js'

/**
 * How current a chat must be for the caller's purpose:
 * - `fresh`: read from the store; for whatever decides on the chat's status or marks.
 * - `cached`: any copy this process holds, read afresh only when it has none. For a send, whose
 *   write is conditional on everything it relies on (seq, status, expiry) and so fails, and is
 *   retried on a fresh read, if the copy was old.
 * - `recent`: a copy at most RECENT_MAX_AGE_MS old (less a random part, so chats read together
 *   are not re-read together); an older one still answers once while it is re-read in the
 *   background, so a hot path never waits on a read after the first. For typing: participants
 *   never change and expiry only moves later, so a cached copy that says "live" is right about
 *   both; only its status may be old, and typing into a chat closed elsewhere reaches nobody.
 */
export type Freshness = 'fresh' | 'cached' | 'recent'

/** Chats kept in memory (a record is about 0.5 KB). */
const CACHED_CHATS_MAX = 50_000
const RECENT_MAX_AGE_MS = 5 * 60_000
/** Copies of chats that expired are dropped at most this long after (a scan of the cache). */
const SWEEP_EVERY_MS = 60_000

/** The shape of the chat ids this service makes; anything else is never read. */
export const isChatId = (chatId: string): boolean => /^[A-Za-z0-9_-]{1,64}$/.test(chatId)

interface CachedChat {
  chat: ChatRecord
  refreshAt: number
  refreshing: boolean
}

/**
 * The one way to load a chat for a caller: the caller's live chat and side, or nothing (missing,
 * not theirs and expired look alike, so there is no existence oracle). Every read also refreshes
 * this process's copy, and writes of this process leave theirs here (`remember`).
 */
export class ChatAccess {
  /** A copy lives until its chat's expiry (a dead chat's copy only holds memory). */
  private readonly cache: BoundedCache<string, CachedChat>

  constructor(private readonly deps: { chats: ChatStore; clock: Clock }) {
    this.cache = new BoundedCache({ maxEntries: CACHED_CHATS_MAX, now: () => deps.clock.now(), sweepEveryMs: SWEEP_EVERY_MS })
  }

  /** Chats this process holds a copy of. */
  get cachedChats(): number {
    return this.cache.size
  }

  async load(viewer: Viewer, chatId: string, freshness: Freshness = 'fresh'): Promise<CallerChat | undefined> {
    if (!isChatId(chatId)) return undefined
    const now = this.deps.clock.now()
    const cached = freshness === 'fresh' ? undefined : this.cache.get(chatId)
    if (cached && isLive(cached.chat, now)) {
      if (freshness === 'recent' && now >= cached.refreshAt && !cached.refreshing) {
        cached.refreshing = true
        this.read(chatId).catch(() => (cached.refreshing = false))
      }
      return asCallerChat(cached.chat, viewer.userId, now)
    }
    return asCallerChat(await this.read(chatId), viewer.userId, this.deps.clock.now())
  }

  /** Like `load`, or NOT_FOUND. */
  async require(viewer: Viewer, chatId: string, freshness: Freshness = 'fresh'): Promise<CallerChat> {
    const found = await this.load(viewer, chatId, freshness)
    if (!found) throw notFound('Chat')
    return found
  }

  /** Keeps the chat as a write of this process left it. */
  remember(chat: ChatRecord): void {
    const now = this.deps.clock.now()
    if (!isLive(chat, now)) return this.forget(chat.chatId)
    this.cache.set(chat.chatId, { chat, refreshAt: this.refreshAt(), refreshing: false }, chat.expiresAt - now)
  }

  /** Drops this process's copy (the chat changed in a way a cached copy must not hide). */
  forget(chatId: string): void {
    this.cache.delete(chatId)
  }

  private async read(chatId: string): Promise<ChatRecord | undefined> {
    const chat = await this.deps.chats.getChat(chatId)
    if (chat) this.remember(chat)
    else this.forget(chatId)
    return chat
  }

  private refreshAt(): number {
    return this.deps.clock.now() + RECENT_MAX_AGE_MS * (0.5 + Math.random() / 2)
  }
}
