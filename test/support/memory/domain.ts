import { InMemoryRateLimiter } from '../../../src/infra/rate-limit/in-memory.js'
import { ChatAccess } from '../../../src/domain/chats/chat-access.js'
import { ChatIds } from '../../../src/domain/chats/chat-ids.js'
import { ChatCloser } from '../../../src/domain/chats/closing.js'
import { ChatDirectory } from '../../../src/domain/chats/directory.js'
import { LiveChats } from '../../../src/domain/chats/live-chats.js'
import { MessageService } from '../../../src/domain/chats/messages.js'
import { ReceiptService } from '../../../src/domain/chats/receipts.js'
import { ChatStarter } from '../../../src/domain/chats/start.js'
import { LiveService } from '../../../src/domain/live/live-service.js'
import { PresenceTracker } from '../../../src/domain/live/presence.js'
import { TypingTracker } from '../../../src/domain/live/typing.js'
import type { PhotoRecord, PhotoStore, PushJob, PushQueue, Viewer } from '../../../src/domain/ports.js'
import { ChatCatchUp } from '../../../src/domain/chats/catch-up.js'
import { ChatMutes } from '../../../src/domain/push/mutes.js'
import { OnlineTracker } from '../../../src/domain/push/online.js'
import { PushNotifier } from '../../../src/domain/push/push-notifier.js'
import { PostService } from '../../../src/domain/posts.js'
import { RateLimits, type Rates } from '../../../src/domain/rate-limits.js'
import { InProcessEventBus } from '../../../src/infra/events/in-process.js'
import { InMemoryPresenceStore } from '../../../src/infra/presence/in-memory.js'
import { InMemoryChatStore } from './chat-store.js'
import { FakeClock } from './fake-clock.js'
import { InMemoryPostStore } from './post-store.js'

const unlimited = { perSecond: 1_000_000, burst: 1_000_000 }
const RATES: Rates = {
  signUp: unlimited,
  startChat: unlimited,
  send: unlimited,
  markRead: unlimited,
  upload: unlimited,
  uploadBytes: unlimited,
  createPost: unlimited,
  addComment: unlimited,
  registerDevice: unlimited,
}

class NoPhotos implements PhotoStore {
  async putPhoto(): Promise<void> {}
  async getPhoto(): Promise<PhotoRecord | undefined> {
    return undefined
  }
  async claimView(): Promise<boolean> {
    return false
  }
}

/** Keeps what is queued, for the tests to look at or hand to a PushWorker themselves. */
export class RecordingPushQueue implements PushQueue {
  readonly jobs: PushJob[] = []
  readonly later: Array<{ job: PushJob; at: number; collapseKey: string | undefined }> = []

  async add(job: PushJob): Promise<void> {
    this.jobs.push(job)
  }

  async addLater(job: PushJob, at: number, collapseKey?: string): Promise<void> {
    if (collapseKey === undefined || !this.later.some((waiting) => waiting.collapseKey === collapseKey)) this.later.push({ job, at, collapseKey })
  }

  consume(): void {}

  async close(): Promise<void> {}
}

export interface DomainOptions {
  maxLiveChats?: number
  chatTtlSeconds?: number
  presenceTtlMs?: number
  maxQueuedBytes?: number
}

/**
 * Hush's domain services wired as src/wiring/services.ts wires them, on in-memory stores, the
 * in-process event bus and a fake clock: the rules, without DynamoDB, Redis or a transport.
 */
export function domainOnMemory(options: DomainOptions = {}) {
  const clock = new FakeClock()
  const chats = new InMemoryChatStore()
  const postStore = new InMemoryPostStore()
  const events = new InProcessEventBus()
  const secret = 'unit-test-secret-that-is-long-enough'
  const limiter = new InMemoryRateLimiter(() => clock.now())
  const limits = new RateLimits(limiter, RATES)
  const typing = new TypingTracker(events, clock, 6_000)
  const presence = new PresenceTracker({ presence: new InMemoryPresenceStore(), events, clock }, options.presenceTtlMs ?? 20_000)
  const posts = new PostService({ posts: postStore, clock, limits, maxBodyLength: 2_000, idSecret: secret })
  const access = new ChatAccess({ chats, clock })
  const liveChats = new LiveChats({ chats, clock })
  const receipts = new ReceiptService({ chats, events, access, limits })
  const chatTtlSeconds = options.chatTtlSeconds ?? 86_400
  const pushQueue = new RecordingPushQueue()
  const push = new PushNotifier(pushQueue, (error) => {
    throw error
  })
  const online = new OnlineTracker(new InMemoryPresenceStore(), clock, options.presenceTtlMs ?? 20_000, () => () => {})
  const services = {
    posts,
    access,
    chats: new ChatDirectory({ chats, access, clock }),
    starts: new ChatStarter({
      chats,
      posts,
      liveChats,
      events,
      push,
      limits,
      ids: new ChatIds(secret),
      clock,
      idSecret: secret,
      chatTtlSeconds,
      maxLiveChats: options.maxLiveChats ?? 100,
    }),
    closes: new ChatCloser({ chats, access, events, push, clock }),
    messages: new MessageService({ chats, photos: new NoPhotos(), access, receipts, events, typing, push, limits, clock, chatTtlSeconds, maxMessageLength: 4_000 }),
    receipts,
    typing,
    mutes: new ChatMutes({ chats, access, clock }),
    catchUp: new ChatCatchUp({ chats, clock, secret }),
    live: new LiveService({ chats, access, liveChats, receipts, events, presence, online, typing, clock, maxQueuedBytes: options.maxQueuedBytes ?? 1024 * 1024 }),
  }
  let users = 0
  const user = (): Viewer => ({ userId: `u_${(++users).toString().padStart(3, '0')}`, expiresAt: Number.MAX_SAFE_INTEGER })
  return {
    clock,
    chats,
    events,
    services,
    pushQueue,
    online,
    user,
    /** A post by `author` and a chat on it started by `starter`. */
    async chat(author: Viewer, starter: Viewer) {
      const post = await posts.createPost(author, 'a secret')
      return services.starts.startChat(starter, post.id, undefined)
    },
    close() {
      limiter.close()
      typing.close()
      presence.close()
      services.live.close()
    },
  }
}

