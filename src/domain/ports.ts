/**
 * What the domain needs from the outside world. `infra/` implements these; the domain never
 * imports a driver.
 */

/** The authenticated caller. `userId` never leaves the domain except as the caller's own Viewer.id. */
export interface Viewer {
  userId: string
  /** Epoch seconds after which the credential is no longer valid. */
  expiresAt: number
}

export interface AccountRecord {
  userId: string
  createdAt: number
}

export interface AccountStore {
  /** Stores a new account; fails if the id is taken. */
  create(account: AccountRecord): Promise<void>
}

export interface PostRecord {
  postId: string
  authorId: string
  body: string
  createdAt: number
}

export interface CommentRecord {
  commentId: string
  postId: string
  authorId: string
  body: string
  createdAt: number
}

export interface Page<T> {
  items: T[]
  /** Id of the last item when more follow. */
  nextAfter: string | undefined
}

export interface PostStore {
  createPost(post: PostRecord): Promise<void>
  getPost(postId: string): Promise<PostRecord | undefined>
  /** Newest first, starting after the post with id `after`. */
  feed(limit: number, after: string | undefined): Promise<Page<PostRecord>>
  addComment(comment: CommentRecord): Promise<void>
  getComment(postId: string, commentId: string): Promise<CommentRecord | undefined>
  /** Oldest first: at most `limit`, after the comment with id `after`. */
  listComments(postId: string, limit: number, after: string | undefined): Promise<CommentRecord[]>
}

export interface TokenService {
  issue(userId: string): Promise<string>
  /** The viewer a token proves, or undefined for a bad, expired or foreign token. */
  verify(token: string): Promise<Viewer | undefined>
}

/** Stops a timer of {@link Clock}; calling it again does nothing. */
export type Cancel = () => void

/**
 * Time, read and waited on. Every rule that reads the time or waits goes through this port, so
 * the domain runs the same on a fake clock in unit tests. Timers never keep the process alive.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
  /** Runs `task` once, `ms` from now. */
  after(ms: number, task: () => void): Cancel
  /** Runs `task` every `ms`. */
  every(ms: number, task: () => void): Cancel
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, task) {
    const timer = setTimeout(task, ms)
    timer.unref()
    return () => clearTimeout(timer)
  },
  every(ms, task) {
    const timer = setInterval(task, ms)
    timer.unref()
    return () => clearInterval(timer)
  },
}

/** Resolves `ms` from now on `clock`. */
export const delay = (clock: Clock, ms: number): Promise<void> => new Promise((resolve) => clock.after(ms, resolve))

export type ParticipantRole = 'AUTHOR' | 'COMMENTER'
export type ChatStatus = 'ACTIVE' | 'LEFT' | 'BLOCKED'
/** The two participants of a chat are stored as side a (who started it) and side b. */
export type ChatSide = 'a' | 'b'

export interface ChatParticipant {
  userId: string
  role: ParticipantRole
  alias: string
  /** Highest chat seq this participant marked read. */
  readSeq: number
  /** Highest chat seq that reached one of this participant's devices. */
  deliveredSeq: number
  /** The peer's messages after readSeq. */
  unread: number
  /** Epoch ms until which this participant gets no push of the chat (muteChat); unset: never muted. */
  mutedUntil?: number | undefined
  /**
   * This participant's last few sends, oldest first: how a retried send is told from a new one
   * (domain/chats/recent-sends.ts). Unset on a chat without sends.
   */
  recentSends?: readonly RecentSend[] | undefined
}

/** A send a participant made: a short hash of its clientMessageId, and the seq it got. */
export interface RecentSend {
  key: string
  seq: number
}

export interface ChatRecord {
  chatId: string
  /** Identifies the two users and the post; the current chat of a pair is found through it. */
  pairKey: string
  generation: number
  postId: string
  a: ChatParticipant
  b: ChatParticipant
  status: ChatStatus
  closedBy: ChatSide | undefined
  /**
   * The side that never sees this chat: set when the peer of its starter had blocked the starter,
   * who gets a chat that looks like any other but reaches nobody (so a block is never revealed).
   */
  hiddenFrom: ChatSide | undefined
  createdAt: number
  lastActivityAt: number
  expiresAt: number
  lastSeq: number
}

export interface MessageRecord {
  chatId: string
  seq: number
  senderId: string
  clientMessageId: string
  body: string | undefined
  photoId: string | undefined
  createdAt: number
}

export interface ParticipantMarks {
  readSeq: number
  deliveredSeq: number
}

export interface ChatPair {
  chatId: string
  generation: number
}

export interface MessageRange {
  /** Only messages with seq > afterSeq. */
  afterSeq?: number | undefined
  /**
   * Only messages with seq <= throughSeq: at most the chat's lastSeq as the caller read it, since
   * a message past it may be a claim that is never committed (see ChatStore.claimMessage).
   */
  throughSeq: number
  limit: number
  /** Take the newest of the range first (the result is still returned in seq order). */
  fromEnd: boolean
}

/** Where sendMessage's commit moves the chat (ChatStore.commitMessage). */
export interface MessageCommit {
  /** Never earlier than the chat's: a commit only ever extends a chat. */
  expiresAt: number
  /** The sender's recent sends with this one added. */
  senderRecentSends: readonly RecentSend[]
}

/** A side's marks and unread counter, as markRead stores them in one write. */
export interface ReadMarks {
  readSeq: number
  deliveredSeq: number
  unread: number
}

export interface BlockReport {
  reportId: string
  chatId: string
  postId: string
  reporterId: string
  reportedId: string
  reason: string | undefined
  createdAt: number
}

/**
 * What createChat did: `created`; `pair-moved`, another start of the pair won (read it again);
 * `busy`, the transaction met concurrent writes (try again); or `full`: that side already holds
 * the most live chats it may.
 */
export type CreateChatResult = 'created' | 'pair-moved' | 'busy' | { full: ChatSide }

/** The chats counted as live and open for a user, at a version (see ChatStore.pruneLiveChats). */
export interface LiveChatSet {
  chatIds: string[]
  version: number
}

export interface ChatStore {
  getPair(pairKey: string): Promise<ChatPair | undefined>
  /** Strongly consistent. */
  getChat(chatId: string): Promise<ChatRecord | undefined>
  getChats(chatIds: string[]): Promise<ChatRecord[]>
  /** Ids of every chat the user is in that has not been reclaimed yet (live or expired). */
  listChatIds(userId: string): Promise<string[]>
  /**
   * Creates the chat, moves its pair pointer from `previousGeneration`, and adds it to the
   * memberships and live sets of the sides that see it, in one transaction that holds only while
   * each of those live sets has fewer than `maxLiveChats` chats.
   */
  createChat(chat: ChatRecord, previousGeneration: number | undefined, maxLiveChats: number): Promise<CreateChatResult>
  /**
   * The user's live set: every chat added at its start and not removed at its close. Chats that
   * expired since are still in it until pruned.
   */
  liveChatIds(userId: string): Promise<LiveChatSet>
  /** Keeps only `keep` of the user's live set if it is still at `version`; false when it moved. */
  pruneLiveChats(userId: string, keep: string[], version: number): Promise<boolean>
  /**
   * A send's first write: stores `message` only if no message has its seq yet (false when one
   * has). Until commitMessage moves the chat's lastSeq to it, the message is a claim that no read
   * returns (every read stops at lastSeq); a claim that can never be committed is dropped.
   */
  claimMessage(message: MessageRecord): Promise<boolean>
  /**
   * A send's second write, on the chat: lastSeq chat.lastSeq → message.seq, its activity and
   * expiry, the sender's read and delivered marks and recent sends, the recipient's unread counter
   * + 1; only while the chat is at chat.lastSeq, ACTIVE and live at `now`. The chat as written,
   * or undefined when a condition failed.
   */
  commitMessage(chat: ChatRecord, message: MessageRecord, commit: MessageCommit, now: number): Promise<ChatRecord | undefined>
  getMessage(chatId: string, seq: number): Promise<MessageRecord | undefined>
  /** Deletes a claim its chat can never commit (closed or expired), if it is still this sender's. */
  dropMessage(message: MessageRecord): Promise<void>
  listMessages(chatId: string, range: MessageRange): Promise<MessageRecord[]>
  /** Messages of `senderId` with afterSeq < seq <= throughSeq. */
  countMessagesFrom(chatId: string, senderId: string, afterSeq: number, throughSeq: number): Promise<number>
  /**
   * markRead's one write: a side's marks and unread counter, only while the chat is at
   * `ifLastSeq`, the read mark below `marks.readSeq` and the delivered mark not above
   * `marks.deliveredSeq` (so neither moves back). The chat as written, or undefined.
   */
  storeReadMarks(chatId: string, side: ChatSide, marks: ReadMarks, ifLastSeq: number): Promise<ChatRecord | undefined>
  /** Raises a participant's read or delivered mark; never lowers it. Its marks when it moved. */
  raiseMark(chatId: string, side: ChatSide, mark: 'readSeq' | 'deliveredSeq', seq: number): Promise<ParticipantMarks | undefined>
  /**
   * ACTIVE → LEFT/BLOCKED while live, and out of both users' live sets; false when it was no
   * longer ACTIVE and live. A block also stores the report and the block itself.
   */
  closeChat(chat: ChatRecord, status: 'LEFT' | 'BLOCKED', closedBy: ChatSide, now: number, report?: BlockReport): Promise<boolean>
  /** Holds back a side's pushes of the chat until `until` (epoch ms; 0 unmutes); false when the chat is gone. */
  setMute(chatId: string, side: ChatSide, until: number): Promise<boolean>
  /** True when `blockerId` blocked `blockedId` (in any chat, ever). */
  hasBlocked(blockerId: string, blockedId: string): Promise<boolean>
}

/**
 * Who has a live chatEvents subscription open on which chat, across processes. A process counts
 * its own subscriptions and keeps itself alive with one heartbeat, whatever their number; when a
 * process stops beating, another one's sweep removes what it held, so the subscribers of a crashed
 * process stop counting as present.
 */
export interface PresenceStore {
  /** Counts one more subscription of this process; true when the user was not present before. */
  join(chatId: string, userId: string): Promise<boolean>
  /** One subscription fewer; true when the user has none left on the chat, in any process. */
  leave(chatId: string, userId: string): Promise<boolean>
  isPresent(chatId: string, userId: string): Promise<boolean>
  /**
   * Tells the other processes that this one is alive. If it had been taken for dead (a long
   * pause), its entries are restored and the users that became present again are returned.
   */
  heartbeat(): Promise<PresenceKey[]>
  /**
   * Writes this process's entries again (Redis may have lost them: a failover, a restart) and
   * returns the users that became present again because of it.
   */
  restore(): Promise<PresenceKey[]>
  /**
   * Removes the entries of processes whose heartbeat stopped and returns the users that are no
   * longer present because of it. Each dead process is swept by exactly one caller.
   */
  sweepExpired(): Promise<PresenceKey[]>
  close(): Promise<void>
}

export interface PresenceKey {
  chatId: string
  userId: string
}

export type PhotoContentType = 'image/jpeg' | 'image/png' | 'image/webp' | 'image/gif'

export interface PhotoRecord {
  chatId: string
  photoId: string
  uploaderId: string
  contentType: PhotoContentType
  byteSize: number
  width: number
  height: number
  viewOnce: boolean
  /** Set once, atomically, when the recipient opened a view-once photo. */
  viewedAt: number | undefined
  createdAt: number
}

export interface PhotoStore {
  putPhoto(photo: PhotoRecord): Promise<void>
  getPhoto(chatId: string, photoId: string): Promise<PhotoRecord | undefined>
  /** Marks a view-once photo viewed; false when it already was (exactly one caller wins). */
  claimView(chatId: string, photoId: string, now: number): Promise<boolean>
}

export interface SanitizedImage {
  bytes: Uint8Array
  contentType: PhotoContentType
  width: number
  height: number
}

export interface ImageProcessor {
  /** The image type read from the bytes themselves; undefined for anything else. */
  detect(bytes: Uint8Array): Promise<PhotoContentType | undefined>
  /**
   * Decodes and re-encodes, so that no metadata (EXIF, GPS, thumbnails, comments) survives,
   * scaled down to a bounded size. Throws a DomainError to refuse an image on purpose
   * (BAD_USER_INPUT: too many pixels, judged before decoding; RATE_LIMITED: too many decodes
   * already waiting); anything else it throws means the image could not be decoded.
   */
  sanitize(bytes: Uint8Array, contentType: PhotoContentType): Promise<SanitizedImage>
}

/** A signed ticket to one photo, for one viewer, until `expires` (see PhotoService). */
export interface PhotoTicket {
  chatId: string
  photoId: string
  /** A keyed hash of the viewer: ties the ticket to them without naming them. */
  viewerTag: string
  /** Epoch milliseconds. */
  expires: number
  signature: string
}

/** The URLs photos are served at when Hush serves them itself: the transport knows its routes. */
export interface PhotoLinks {
  urlFor(ticket: PhotoTicket): string
}

/** Where photo bytes live: local disk under DATA_DIR, or S3. Keys are `<chatId>/<photoId>`. */
export interface BlobStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>
  get(key: string): Promise<Uint8Array | undefined>
  delete(key: string): Promise<void>
  /** Deletes every blob under `<prefix>/` (a chat's photos). */
  deletePrefix(prefix: string): Promise<void>
  /**
   * A URL that serves the blob directly until `expiresAt` (an S3 presigned GET), or undefined
   * when the store cannot sign one and Hush must serve the bytes itself.
   */
  directUrl(key: string, expiresAt: number): Promise<string | undefined>
}

/** A token bucket: `perSecond` sustained, up to `burst` at once. */
export interface Rate {
  perSecond: number
  burst: number
}

/** 0 when the tokens were taken; else how long until they could be. */
export type RetryAfterMs = number

/** Token buckets shared by every server process. */
export interface RateLimiter {
  /**
   * Takes `cost` tokens from the bucket `key`, refilled at `rate`; refused (taking nothing) when
   * it holds fewer, with the time until it would hold enough.
   */
  take(key: string, rate: Rate, cost: number): Promise<RetryAfterMs>
}

export type DevicePlatform = 'WEB_PUSH' | 'APNS' | 'FCM'

/** Where a push goes: an APNs or FCM token, or a browser's push subscription. */
export type PushAddress =
  | { platform: 'APNS' | 'FCM'; token: string }
  | { platform: 'WEB_PUSH'; endpoint: string; p256dh: string; auth: string }

export type PushKind = 'message' | 'chatStarted' | 'chatClosed'

/**
 * What one push says. Nothing in it names anyone (SPEC: no text, alias or user id): neutral words,
 * the chat's opaque id and the recipient's unread count; the app fetches the rest over the API.
 */
export interface PushMessage {
  kind: PushKind
  /** The chat's id, as the API shows it. */
  chatId: string
  /** The recipient's unread messages in this chat. */
  unread: number
  /** Neutral words for the visible notification. */
  title: string
  body: string
  /**
   * Pushes with the same key replace each other on the device and at the push service: one visible
   * notification per chat (APNs apns-collapse-id and thread-id, FCM collapse_key and tag, Web Push
   * Topic and the notification's tag).
   */
  collapseKey: string
  /** How long the push service may hold the push for a device that is off. */
  ttlSeconds: number
}

/**
 * A provider's answer: `sent`; `gone`, the token or subscription is dead (remove the device);
 * `retry`, try again later (429, 5xx, no answer), after the provider's Retry-After when it gave one;
 * `rejected`, a refusal that retrying cannot fix (a malformed request, bad credentials).
 */
export type PushOutcome =
  | { status: 'sent' }
  | { status: 'gone'; reason: string }
  | { status: 'retry'; reason: string; afterMs?: number | undefined }
  | { status: 'rejected'; reason: string }

/** One push service: Web Push (RFC 8030/8291/8292), APNs or FCM HTTP v1. */
export interface PushProvider {
  readonly platform: DevicePlatform
  /** Never throws: every failure is an outcome. */
  send(address: PushAddress, message: PushMessage): Promise<PushOutcome>
  close(): Promise<void>
}

/** A device a user registered for pushes. */
export interface DeviceRecord {
  /** A keyed hash of the platform and token (or endpoint): the same device always has the same id. */
  deviceId: string
  userId: string
  address: PushAddress
  /** First registered by this user. */
  createdAt: number
  /** Last registered (apps register on every launch); the device expires a while after it. */
  seenAt: number
}

export interface DeviceStore {
  /**
   * Stores the device for its user until `expiresAt`, taking it away from any other user that held
   * it (a token that registers on a new account moves there). Registering again refreshes it.
   */
  saveDevice(device: DeviceRecord, expiresAt: number): Promise<DeviceRecord>
  /** The user's devices that have not expired. */
  listDevices(userId: string): Promise<DeviceRecord[]>
  /** Removes one of the user's devices; false when the user holds no such device. */
  removeDevice(userId: string, deviceId: string): Promise<boolean>
}

/**
 * The work of the push pipeline, as plain JSON (it waits in Redis). `notify`: something happened
 * in a chat that the user may have to be told of (the handler decides with fresh state); `deliver`:
 * one push to one device, retried after a provider asked to try again.
 */
export type PushJob =
  | { type: 'notify'; kind: PushKind; chatId: string; userId: string }
  | { type: 'deliver'; userId: string; deviceId: string; address: PushAddress; message: PushMessage; attempt: number }

/**
 * A durable queue of push jobs shared by every process: a job is handed to one consumer, and to
 * another if its consumer dies before finishing it.
 */
export interface PushQueue {
  /** Stores the job for a consumer. */
  add(job: PushJob): Promise<void>
  /**
   * Stores the job to be handed out at `at` (epoch ms). With `collapseKey`, a job already waiting
   * under that key stays and this one is dropped: the waiting one will do for both.
   */
  addLater(job: PushJob, at: number, collapseKey?: string): Promise<void>
  /**
   * Hands jobs to `handler`, a few at a time. A job is finished when `handler` resolves; one whose
   * handler rejects, or whose process died, is handed out again later, a bounded number of times.
   */
  consume(handler: (job: PushJob) => Promise<void>): void
  close(): Promise<void>
}

/**
 * What became of a push, for logs and metrics: `sent`; `collapsed` into a later push of the same
 * chat; `skipped` (the user was online, had read it, muted the chat, or has no device); `retrying`
 * after a provider asked to; `failed` for good; `device-removed`, its token dead.
 */
export interface PushReport {
  outcome: 'sent' | 'collapsed' | 'skipped' | 'retrying' | 'failed' | 'device-removed'
  kind?: PushKind | undefined
  platform?: DevicePlatform | undefined
  reason?: string | undefined
}
