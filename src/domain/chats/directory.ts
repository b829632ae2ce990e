import { badInput } from '../errors.js'
import { validatePageSize } from '../text.js'
import type { ChatStore, Clock, Viewer } from '../ports.js'
import type { ChatAccess } from './chat-access.js'
import { asCallerChat, toChatView, type CallerChat, type ChatView } from './views.js'

const CHATS_PAGE_MAX = 100

/** What a caller reads of their chats: one by id, or all of them, most recently active first. */
export class ChatDirectory {
  constructor(private readonly deps: { chats: ChatStore; access: ChatAccess; clock: Clock }) {}

  /** The caller's chat, or null when it does not exist, is not theirs, or has expired. */
  async chat(viewer: Viewer, chatId: string): Promise<ChatView | null> {
    const found = await this.deps.access.load(viewer, chatId)
    return found ? toChatView(found) : null
  }

  /**
   * The caller's unexpired chats (open or closed), most recently active first, `first` at a time
   * after the cursor `after`. A user holds at most the live-chat limit open, but closed chats stay
   * visible until they expire, so there may be more than one page.
   */
  async chats(viewer: Viewer, first: number | null | undefined, after: string | null | undefined): Promise<ChatView[]> {
    const limit = validatePageSize('first', first, CHATS_PAGE_MAX, CHATS_PAGE_MAX)
    const from = after === null || after === undefined ? undefined : parseCursor(after)
    const { chats, clock } = this.deps
    const now = clock.now()
    const all = (await chats.getChats(await chats.listChatIds(viewer.userId)))
      .flatMap((chat) => asCallerChat(chat, viewer.userId, now) ?? [])
      .sort(byActivity)
    const start = from ? all.findIndex((found) => byActivity(found, from) > 0) : 0
    return (start < 0 ? [] : all.slice(start, start + limit)).map(toChatView)
  }

  /** The chat's place in `chats`: pass it as `after` for the chats that follow it. */
  cursorOf(chat: ChatView): string {
    return Buffer.from(`${chat.lastActivityAt.getTime()}:${chat.id}`).toString('base64url')
  }
}

/** A position in the list: the chat's last activity, then its id. */
interface Position {
  lastActivityAt: number
  chatId: string
}

const positionOf = ({ chat }: CallerChat): Position => ({ lastActivityAt: chat.lastActivityAt, chatId: chat.chatId })

/** Most recently active first; ties by id, so the order is total and a cursor is exact. */
function byActivity(x: CallerChat | Position, y: CallerChat | Position): number {
  const [p, q] = [x, y].map((v) => ('chat' in v ? positionOf(v) : v)) as [Position, Position]
  return q.lastActivityAt - p.lastActivityAt || (p.chatId < q.chatId ? -1 : p.chatId > q.chatId ? 1 : 0)
}

function parseCursor(cursor: string): Position {
  const match = /^(\d{1,15}):([A-Za-z0-9_-]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!match) throw badInput('after is not a cursor of this list.')
  return { lastActivityAt: Number(match[1]), chatId: match[2]! }
}
