import type {
  ChatRecord,
  ChatSide,
  ChatStore,
  Clock,
  DevicePlatform,
  DeviceStore,
  PushJob,
  PushKind,
  PushMessage,
  PushProvider,
  PushQueue,
  PushReport,
  RateLimiter,
} from '../ports.js'
import type { OnlineTracker } from './online.js'
import type { PushHostAllowList } from './push-hosts.js'

export interface PushWorkerOptions {
  chats: ChatStore
  devices: DeviceStore
  online: OnlineTracker
  providers: ReadonlyMap<DevicePlatform, PushProvider>
  queue: PushQueue
  /** Holds the collapse window of each user and chat, across processes. */
  gate: RateLimiter
  hosts: PushHostAllowList
  clock: Clock
  /** At most one push per user and chat this often; what comes in between goes in one push after it. */
  collapseWindowMs: number
  /** Tries of one push to one device before it is given up. */
  maxAttempts: number
  report(report: PushReport): void
}

type NotifyJob = Extract<PushJob, { type: 'notify' }>
type DeliverJob = Extract<PushJob, { type: 'deliver' }>

/** The first retry waits this long, each next one twice as long, up to RETRY_MAX_MS. */
const RETRY_BASE_MS = 1_000
const RETRY_MAX_MS = 10 * 60_000
/** A push outlives neither its chat nor this. */
const PUSH_TTL_MAX_SECONDS = 24 * 3600

/**
 * Decides and sends pushes, one queued job at a time, on whichever process the queue hands the
 * job to. Every decision reads fresh state, because a job may wait (a collapse window, a retry):
 * the chat (its unread count, status, mute), whether the user is online, and the devices.
 *
 * Collapsing: the first push of a chat goes at once and closes the chat's window for the user;
 * what happens while it is closed is folded into one push at its end (a job waiting under the
 * chat's collapse key), which carries the unread count of then. So a burst of messages gives at
 * most one push per window, and every push shows the count the user has.
 */
export class PushWorker {
  private readonly gateRate

  constructor(private readonly deps: PushWorkerOptions) {
    this.gateRate = { perSecond: 1000 / deps.collapseWindowMs, burst: 1 }
  }

  handle(job: PushJob): Promise<void> {
    return job.type === 'notify' ? this.notify(job) : this.deliver(job)
  }

  private async notify(job: NotifyJob): Promise<void> {
    const { deps } = this
    const now = deps.clock.now()
    const chat = await deps.chats.getChat(job.chatId)
    const side = chat && sideOf(chat, job.userId)
    // The side a chat is hidden from (a blocker) must never learn of it, not even by a push.
    if (!chat || !side || chat.hiddenFrom === side || chat.expiresAt <= now) return this.skip(job, 'chat gone')
    const kind: PushKind = chat.status === 'ACTIVE' ? job.kind : 'chatClosed'
    const me = chat[side]
    if ((me.mutedUntil ?? 0) > now) return this.skip(job, 'muted')
    if (kind === 'message' && me.unread === 0) return this.skip(job, 'read')
    if (await deps.online.isOnline(job.userId)) return this.skip(job, 'online')
    const wait = await deps.gate.take(`push:${job.userId}:${job.chatId}`, this.gateRate, 1)
    if (wait > 0) {
      // `wait` counts from the gate's answer, not from `now`: the reads above took time, and a
      // job due before the window reopens would only be held (and counted collapsed) again.
      await deps.queue.addLater(job, deps.clock.now() + wait, `${job.userId} ${job.chatId}`)
      return deps.report({ outcome: 'collapsed', kind })
    }
    const devices = await deps.devices.listDevices(job.userId)
    if (devices.length === 0) return this.skip(job, 'no device')
    const message = pushMessage(kind, chat, side, now)
    await Promise.all(
      devices.map((device) => this.deliver({ type: 'deliver', userId: job.userId, deviceId: device.deviceId, address: device.address, message, attempt: 0 })),
    )
  }

  private async deliver(job: DeliverJob): Promise<void> {
    const { deps } = this
    const { platform } = job.address
    const report = (outcome: PushReport['outcome'], reason?: string) => deps.report({ outcome, kind: job.message.kind, platform, reason })
    const provider = deps.providers.get(platform)
    if (!provider) return report('failed', 'platform not configured')
    // The list may have shrunk since the device registered.
    if (job.address.platform === 'WEB_PUSH' && !deps.hosts.allows(job.address.endpoint)) {
      await deps.devices.removeDevice(job.userId, job.deviceId)
      return report('device-removed', 'push service not allowed')
    }
    if (job.attempt > 0 && (await deps.online.isOnline(job.userId))) return report('skipped', 'online')
    const outcome = await provider.send(job.address, job.message)
    switch (outcome.status) {
      case 'sent':
        return report('sent')
      case 'gone':
        await deps.devices.removeDevice(job.userId, job.deviceId)
        return report('device-removed', outcome.reason)
      case 'rejected':
        return report('failed', outcome.reason)
      case 'retry': {
        if (job.attempt + 1 >= deps.maxAttempts) return report('failed', `${outcome.reason}; gave up after ${deps.maxAttempts} tries`)
        const backoff = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** job.attempt) * (0.8 + 0.4 * Math.random())
        await deps.queue.addLater({ ...job, attempt: job.attempt + 1 }, deps.clock.now() + Math.max(outcome.afterMs ?? 0, backoff))
        return report('retrying', outcome.reason)
      }
    }
  }

  private skip(job: NotifyJob, reason: string): void {
    this.deps.report({ outcome: 'skipped', kind: job.kind, reason })
  }
}

const sideOf = (chat: ChatRecord, userId: string): ChatSide | undefined =>
  chat.a.userId === userId ? 'a' : chat.b.userId === userId ? 'b' : undefined

const WORDS: Record<PushKind, (unread: number) => string> = {
  message: (unread) => (unread > 1 ? `${unread} new messages` : 'New message'),
  chatStarted: () => 'Someone started a chat with you',
  chatClosed: () => 'A chat has ended',
}

/** Neutral words, the chat's opaque id and the unread count: nothing that names or quotes anyone. */
function pushMessage(kind: PushKind, chat: ChatRecord, side: ChatSide, now: number): PushMessage {
  const unread = chat[side].unread
  return {
    kind,
    chatId: chat.chatId,
    unread,
    title: 'Hush',
    body: WORDS[kind](unread),
    collapseKey: chat.chatId,
    ttlSeconds: Math.max(60, Math.min(PUSH_TTL_MAX_SECONDS, Math.floor((chat.expiresAt - now) / 1000))),
  }
}
