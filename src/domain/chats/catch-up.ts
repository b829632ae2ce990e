import { createHmac, timingSafeEqual } from 'node:crypto'
import { badInput } from '../errors.js'
import type { ChatStore, Clock, Viewer } from '../ports.js'
import { validatePageSize } from '../text.js'
import { asCallerChat, toChatView, type CallerChat, type ChatView } from './views.js'

export interface CatchUp {
  /** Chats that changed since the cursor (new, new messages, closed), most recently active first. */
  chats: ChatView[]
  /** Ids of chats in the cursor that are gone since: expired (and a closed chat expires too). */
  expired: string[]
  /** More changed chats than `first`: ask again with `cursor`. */
  hasMore: boolean
  /** Pass it as `since` next time. */
  cursor: string
}

const PAGE_DEFAULT = 20
const PAGE_MAX = 100
/** Bytes of the cursor's signature (a truncated HMAC-SHA256). */
const SIGNATURE_BYTES = 16

/** What the caller was told of one chat: its last seq and whether it was closed. */
type Seen = Map<string, { lastSeq: number; closed: boolean }>

/**
 * The one-request catch-up of a returning app (`inbox(since)`). The cursor is the state of each
 * chat as the caller was last told it (its last seq and whether it was closed), signed, so the
 * answer is exact whatever the clocks: a chat is reported when its seq or status moved, or when it
 * is new; a chat of the cursor that is no longer visible has expired. Chats that changed but did
 * not fit in `first` keep their old state in the next cursor, so they come in the next answer.
 */
export class ChatCatchUp {
  constructor(private readonly deps: { chats: ChatStore; clock: Clock; secret: string }) {}

  async inbox(viewer: Viewer, since: string | null | undefined, first: number | null | undefined): Promise<CatchUp> {
    const limit = validatePageSize('first', first, PAGE_DEFAULT, PAGE_MAX)
    const seen: Seen = since === null || since === undefined ? new Map<string, never>() : this.read(viewer, since)
    const { chats, clock } = this.deps
    const now = clock.now()
    const visible = (await chats.getChats(await chats.listChatIds(viewer.userId))).flatMap((chat) => asCallerChat(chat, viewer.userId, now) ?? [])
    const visibleIds = new Set(visible.map(({ chat }) => chat.chatId))
    const changed = visible.filter(({ chat }) => {
      const before = seen.get(chat.chatId)
      return !before || before.lastSeq !== chat.lastSeq || before.closed !== (chat.status !== 'ACTIVE')
    })
    changed.sort((x, y) => y.chat.lastActivityAt - x.chat.lastActivityAt || (x.chat.chatId < y.chat.chatId ? -1 : 1))
    const told = new Set(changed.slice(0, limit).map(({ chat }) => chat.chatId))
    const next: Seen = new Map()
    for (const found of visible) {
      const { chatId } = found.chat
      const kept = told.has(chatId) || !changed.includes(found) ? stateOf(found) : seen.get(chatId)
      if (kept) next.set(chatId, kept)
    }
    return {
      chats: changed.slice(0, limit).map(toChatView),
      expired: [...seen.keys()].filter((chatId) => !visibleIds.has(chatId)),
      hasMore: changed.length > limit,
      cursor: this.write(viewer, next),
    }
  }

  private write(viewer: Viewer, seen: Seen): string {
    const body = [...seen].map(([chatId, { lastSeq, closed }]) => `${chatId}.${lastSeq}${closed ? 'c' : ''}`).join(',')
    return `${Buffer.from(body).toString('base64url')}.${this.sign(viewer, body).toString('base64url')}`
  }

  private read(viewer: Viewer, cursor: string): Seen {
    const [encoded, signature, extra] = cursor.split('.')
    const body = Buffer.from(encoded ?? '', 'base64url').toString()
    const given = Buffer.from(signature ?? '', 'base64url')
    // Signed per caller: a cursor is only ever its own user's, and cannot be made up.
    if (extra !== undefined || given.length !== SIGNATURE_BYTES || !timingSafeEqual(given, this.sign(viewer, body))) {
      throw badInput('since is not a cursor that inbox gave you.')
    }
    const seen: Seen = new Map()
    for (const entry of body === '' ? [] : body.split(',')) {
      const match = /^([A-Za-z0-9_-]+)\.(\d+)(c?)$/.exec(entry)
      if (match) seen.set(match[1]!, { lastSeq: Number(match[2]), closed: match[3] === 'c' })
    }
    return seen
  }

  private sign(viewer: Viewer, body: string): Buffer {
    return createHmac('sha256', this.deps.secret).update(`inbox\n${viewer.userId}\n${body}`).digest().subarray(0, SIGNATURE_BYTES)
  }
}

const stateOf = ({ chat }: CallerChat) => ({ lastSeq: chat.lastSeq, closed: chat.status !== 'ACTIVE' })
