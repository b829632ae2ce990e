import type { Config } from '../config.js'
import { AccountService } from '../domain/accounts.js'
import { ChatCatchUp } from '../domain/chats/catch-up.js'
import { ChatAccess } from '../domain/chats/chat-access.js'
import { ChatIds } from '../domain/chats/chat-ids.js'
import { LiveChats } from '../domain/chats/live-chats.js'
import { ChatCloser } from '../domain/chats/closing.js'
import { ChatDirectory } from '../domain/chats/directory.js'
import { MessageService } from '../domain/chats/messages.js'
import { ReceiptService } from '../domain/chats/receipts.js'
import { ChatStarter } from '../domain/chats/start.js'
import { LiveService } from '../domain/live/live-service.js'
import { PresenceTracker } from '../domain/live/presence.js'
import { TypingTracker } from '../domain/live/typing.js'
import { PhotoService } from '../domain/photos.js'
import { ChatMutes } from '../domain/push/mutes.js'
import { systemClock, type BlobStore, type Clock, type PhotoLinks } from '../domain/ports.js'
import { PostService } from '../domain/posts.js'
import { RateLimits } from '../domain/rate-limits.js'
import type { Services } from '../domain/services.js'
import { JwtTokenService } from '../infra/auth/tokens.js'
import { SharpImageProcessor } from '../infra/images/sharp.js'
import type { Secrets } from '../infra/secrets.js'
import type { Lifecycle } from './lifecycle.js'
import type { Messaging } from './messaging.js'
import type { Push } from './push.js'
import type { Storage } from './storage.js'

/** SPEC: the server sends typing=false after 6 s without a refresh. */
const TYPING_TIMEOUT_MS = 6_000

export interface ServiceParts {
  config: Config
  storage: Storage
  messaging: Messaging
  blobs: BlobStore
  secrets: Secrets
  /** The URLs of photos Hush serves itself (the server's routes). */
  photoLinks: PhotoLinks
  push: Push
  /** Told of each rate-limit refusal, by limit (metrics). */
  onRateLimited?: ((limit: string) => void) | undefined
}

/** The domain services on their stores: the rules, wired to the infrastructure. */
export function buildServices(parts: ServiceParts, lifecycle: Lifecycle): Services {
  const { config, storage, messaging, secrets } = parts
  const { limits } = config
  const clock = systemClock
  const rateLimits = new RateLimits(messaging.rateLimiter, limits.rates, parts.onRateLimited)
  const tokens = new JwtTokenService({ ...config.jwt, secret: secrets.jwtSecret })
  const posts = new PostService({ posts: storage.posts, clock, limits: rateLimits, maxBodyLength: limits.maxPostLength, idSecret: secrets.idSecret })
  const access = new ChatAccess({ chats: storage.chats, clock })
  const chat = chatServices(parts, { clock, rateLimits, posts, access }, lifecycle)
  return {
    accounts: new AccountService({ accounts: storage.accounts, tokens, clock, limits: rateLimits }),
    posts,
    ...chat,
    devices: parts.push.devices,
    mutes: new ChatMutes({ chats: storage.chats, access, clock }),
    catchUp: new ChatCatchUp({ chats: storage.chats, clock, secret: secrets.idSecret }),
    photos: new PhotoService({
      photos: storage.photos,
      blobs: parts.blobs,
      images: new SharpImageProcessor({ maxPixels: limits.maxPhotoPixels }),
      limits: rateLimits,
      access,
      chatById: (chatId) => storage.chats.getChat(chatId),
      clock,
      secret: secrets.idSecret,
      links: parts.photoLinks,
      maxBytes: limits.maxPhotoBytes,
      urlTtlMs: config.photos.urlTtlSeconds * 1000,
    }),
  }
}

/** The services of chats and their live events, which share stores, caches and trackers. */
function chatServices(
  { config, storage, messaging, secrets, push }: ServiceParts,
  shared: { clock: Clock; rateLimits: RateLimits; posts: PostService; access: ChatAccess },
  lifecycle: Lifecycle,
): Pick<Services, 'chats' | 'starts' | 'closes' | 'messages' | 'receipts' | 'live'> {
  const { clock, rateLimits: limits, posts, access } = shared
  const { events } = messaging
  const { chats } = storage
  const { chatTtlSeconds } = config
  const typing = new TypingTracker(events, clock, TYPING_TIMEOUT_MS)
  const presence = new PresenceTracker({ presence: messaging.presence, events, clock }, config.presenceTtlMs)
  const liveChats = new LiveChats({ chats, clock })
  const receipts = new ReceiptService({ chats, events, access, limits })
  const live = new LiveService({ chats, access, liveChats, receipts, events, presence, online: push.online, typing, clock, maxQueuedBytes: config.limits.maxQueuedBytes })
  lifecycle.onStop(() => {
    live.close()
    presence.close()
    typing.close()
  })
  const ids = new ChatIds(secrets.idSecret)
  const { maxLiveChats, maxMessageLength } = config.limits
  return {
    chats: new ChatDirectory({ chats, access, clock }),
    starts: new ChatStarter({ chats, posts, liveChats, events, push: push.notifier, limits, ids, clock, idSecret: secrets.idSecret, chatTtlSeconds, maxLiveChats }),
    closes: new ChatCloser({ chats, access, events, push: push.notifier, clock }),
    messages: new MessageService({ chats, photos: storage.photos, access, receipts, events, typing, push: push.notifier, limits, clock, chatTtlSeconds, maxMessageLength }),
    receipts,
    live,
  }
}
