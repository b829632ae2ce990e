import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_RATES, loadConfig } from '../../../src/config.js'
import type {
  DevicePlatform,
  DeviceRecord,
  DeviceStore,
  PushAddress,
  PushMessage,
  PushOutcome,
  PushProvider,
  PushReport,
  RateLimiter,
} from '../../../src/domain/ports.js'
import { DeviceService } from '../../../src/domain/push/devices.js'
import { PushHostAllowList } from '../../../src/domain/push/push-hosts.js'
import { PushWorker } from '../../../src/domain/push/push-worker.js'
import { RateLimits } from '../../../src/domain/rate-limits.js'
import { domainOnMemory } from '../../support/memory/domain.js'
import { FakeClock } from '../../support/memory/fake-clock.js'
import { InMemoryRateLimiter } from '../../../src/infra/rate-limit/in-memory.js'

/** A provider that answers what it is told and keeps what it was sent (pure logic: the real ones are in test/push.test.ts). */
class ScriptedProvider implements PushProvider {
  readonly sent: Array<{ address: PushAddress; message: PushMessage }> = []
  readonly answers: PushOutcome[] = []
  constructor(readonly platform: DevicePlatform) {}
  async send(address: PushAddress, message: PushMessage): Promise<PushOutcome> {
    this.sent.push({ address, message })
    return this.answers.shift() ?? { status: 'sent' }
  }
  async close(): Promise<void> {}
}

class MemoryDevices implements DeviceStore {
  readonly devices = new Map<string, DeviceRecord>()
  /** The expiry each device was last saved with. */
  readonly expiries = new Map<string, number>()
  async saveDevice(device: DeviceRecord, expiresAt = Number.POSITIVE_INFINITY): Promise<DeviceRecord> {
    this.devices.set(device.deviceId, device)
    this.expiries.set(device.deviceId, expiresAt)
    return device
  }
  async listDevices(userId: string): Promise<DeviceRecord[]> {
    return [...this.devices.values()].filter((device) => device.userId === userId)
  }
  async removeDevice(userId: string, deviceId: string): Promise<boolean> {
    return this.devices.get(deviceId)?.userId === userId && this.devices.delete(deviceId)
  }
}

const WINDOW_MS = 5_000

/**
 * `decisionMs`: how long each push decision takes, in turn, before it reaches the collapse gate
 * (its reads of the chat and of presence); none when the list runs out.
 */
function setUp({ decisionMs = [] }: { decisionMs?: number[] } = {}) {
  const domain = domainOnMemory()
  const limiter = new InMemoryRateLimiter(() => domain.clock.now())
  const gate: RateLimiter = {
    async take(key, rate, cost) {
      const ms = decisionMs.shift() ?? 0
      if (ms > 0) await domain.clock.advance(ms)
      return limiter.take(key, rate, cost)
    },
  }
  const devices = new MemoryDevices()
  const apns = new ScriptedProvider('APNS')
  const web = new ScriptedProvider('WEB_PUSH')
  const reports: PushReport[] = []
  const worker = new PushWorker({
    chats: domain.chats,
    devices,
    online: domain.online,
    providers: new Map<DevicePlatform, PushProvider>([
      ['APNS', apns],
      ['WEB_PUSH', web],
    ]),
    queue: domain.pushQueue,
    gate,
    hosts: new PushHostAllowList(['push.example']),
    clock: domain.clock,
    collapseWindowMs: WINDOW_MS,
    maxAttempts: 3,
    report: (report) => reports.push(report),
  })
  /** Hands every queued job to the worker, as the queue would. */
  const drain = async () => {
    for (let job = domain.pushQueue.jobs.shift(); job; job = domain.pushQueue.jobs.shift()) await worker.handle(job)
  }
  /** Moves the jobs for later that are due by now into the queue. */
  const due = () => {
    const { later, jobs } = domain.pushQueue
    for (const waiting of later.filter((w) => w.at <= domain.clock.now())) {
      later.splice(later.indexOf(waiting), 1)
      jobs.push(waiting.job)
    }
  }
  const addDevice = (userId: string, address: PushAddress) =>
    devices.saveDevice({ deviceId: `d${devices.devices.size}`, userId, address, createdAt: 0, seenAt: 0 })
  return { domain, devices, apns, web, reports, worker, drain, due, addDevice }
}

describe('push decisions (domain, in memory)', () => {
  let context: ReturnType<typeof setUp>
  afterEach(() => context.domain.close())

  it('pushes a message to an offline user at once, and folds a burst into one later push with the unread count of then', async () => {
    context = setUp()
    const { domain, apns, drain, due, addDevice } = context
    const [author, starter] = [domain.user(), domain.user()]
    const chat = await domain.chat(author, starter)
    await addDevice(author.userId, { platform: 'APNS', token: 'a'.repeat(64) })
    domain.pushQueue.jobs.length = 0 // the chatStarted push is another test's
    await domain.services.messages.sendMessage(starter, chat.id, 'm1', 'first', null)
    await drain()
    expect(apns.sent.map((s) => s.message)).toEqual([expect.objectContaining({ kind: 'message', chatId: chat.id, unread: 1, collapseKey: chat.id })])
    for (const n of [2, 3, 4]) await domain.services.messages.sendMessage(starter, chat.id, `m${n}`, 'more', null)
    await drain()
    expect(apns.sent).toHaveLength(1)
    expect(domain.pushQueue.later).toHaveLength(1)
    await domain.clock.advance(WINDOW_MS)
    due()
    await drain()
    expect(apns.sent.map((s) => s.message.unread)).toEqual([1, 4])
    // Nothing in a push names or quotes anyone.
    expect(JSON.stringify(apns.sent)).not.toMatch(new RegExp(`${author.userId}|${starter.userId}|first|more|${chat.peer.alias}|${chat.me.alias}`))
  })

  it('holds a push folded into a window until the window has reopened, however long the decision took: it is collapsed once', async () => {
    // The message's decision takes 100 ms before it reaches the gate; the chat start's and the held push's none.
    context = setUp({ decisionMs: [0, 100, 0] })
    const { domain, apns, reports, drain, due, addDevice } = context
    const [author, starter] = [domain.user(), domain.user()]
    const chat = await domain.chat(author, starter)
    await addDevice(author.userId, { platform: 'APNS', token: 'e'.repeat(64) })
    await drain()
    await domain.services.messages.sendMessage(starter, chat.id, 'm1', 'hi', null)
    await drain()
    expect(domain.pushQueue.later).toHaveLength(1)
    await domain.clock.advance(domain.pushQueue.later[0]!.at - domain.clock.now())
    due()
    await drain()
    expect(apns.sent.map((s) => s.message.kind)).toEqual(['chatStarted', 'message'])
    expect(reports.map((r) => r.outcome)).toEqual(['sent', 'collapsed', 'sent'])
  })

  it('skips users who are online anywhere, who read the message already, or who muted the chat', async () => {
    context = setUp()
    const { domain, apns, reports, drain, addDevice } = context
    const [author, starter] = [domain.user(), domain.user()]
    const chat = await domain.chat(author, starter)
    await addDevice(author.userId, { platform: 'APNS', token: 'b'.repeat(64) })
    await domain.online.join(author.userId)
    await domain.services.messages.sendMessage(starter, chat.id, 'm1', 'hi', null)
    await drain()
    await domain.online.leave(author.userId)
    await domain.services.receipts.markRead(author, chat.id, 1)
    domain.pushQueue.jobs.push({ type: 'notify', kind: 'message', chatId: chat.id, userId: author.userId })
    await drain()
    await domain.services.mutes.muteChat(author, chat.id, new Date(domain.clock.now() + 60_000))
    await domain.services.messages.sendMessage(starter, chat.id, 'm2', 'hi', null)
    await drain()
    expect(apns.sent).toEqual([])
    // The chatStarted push and the first message while online, then read, then muted.
    expect(reports.filter((r) => r.outcome === 'skipped').map((r) => r.reason)).toEqual(['online', 'online', 'read', 'muted'])
  })

  it('never queues a push of a chat hidden from its recipient (a blocker), nor of a chat the recipient closed', async () => {
    context = setUp()
    const { domain } = context
    const [author, starter] = [domain.user(), domain.user()]
    const first = await domain.chat(author, starter)
    await domain.services.closes.blockChat(author, first.id, 'spam')
    domain.pushQueue.jobs.length = 0
    const hidden = await domain.chat(author, starter)
    await domain.services.messages.sendMessage(starter, hidden.id, 'm1', 'still there?', null)
    await domain.services.closes.leaveChat(starter, hidden.id)
    expect(domain.pushQueue.jobs).toEqual([])
  })

  it('retries after the provider’s Retry-After, gives up after maxAttempts, and removes a device whose token is dead', async () => {
    context = setUp()
    const { domain, apns, devices, reports, drain, due, addDevice } = context
    const [author, starter] = [domain.user(), domain.user()]
    const chat = await domain.chat(author, starter)
    await addDevice(author.userId, { platform: 'APNS', token: 'c'.repeat(64) })
    domain.pushQueue.jobs.length = 0
    apns.answers.push({ status: 'retry', reason: '429', afterMs: 30_000 }, { status: 'retry', reason: '503' }, { status: 'retry', reason: '503' })
    await domain.services.messages.sendMessage(starter, chat.id, 'm1', 'hi', null)
    await drain()
    expect(domain.pushQueue.later[0]!.at - domain.clock.now()).toBeGreaterThanOrEqual(30_000)
    for (let i = 0; i < 3; i++) {
      await domain.clock.advance(31_000)
      due()
      await drain()
    }
    expect(apns.sent).toHaveLength(3)
    expect(reports.map((r) => r.outcome)).toEqual(['retrying', 'retrying', 'failed'])
    apns.answers.push({ status: 'gone', reason: 'Unregistered' })
    await domain.services.messages.sendMessage(starter, chat.id, 'm2', 'hi', null)
    await drain()
    expect(devices.devices.size).toBe(0)
    expect(reports.at(-1)).toMatchObject({ outcome: 'device-removed', platform: 'APNS' })
  })

  it('sends Web Push only to allowed hosts: a device whose endpoint is no longer allowed is removed unsent', async () => {
    context = setUp()
    const { domain, web, devices, drain, addDevice } = context
    const [author, starter] = [domain.user(), domain.user()]
    const chat = await domain.chat(author, starter)
    const keys = { p256dh: 'k', auth: 'a' }
    await addDevice(author.userId, { platform: 'WEB_PUSH', endpoint: 'https://push.example/ok', ...keys })
    await addDevice(author.userId, { platform: 'WEB_PUSH', endpoint: 'https://169.254.169.254/latest', ...keys })
    await drain()
    expect(web.sent.map((s) => (s.address as { endpoint: string }).endpoint)).toEqual(['https://push.example/ok'])
    expect([...devices.devices.values()].map((d) => (d.address as { endpoint: string }).endpoint)).toEqual(['https://push.example/ok'])
    expect(web.sent[0]!.message).toMatchObject({ kind: 'chatStarted', chatId: chat.id, unread: 0 })
  })
})

describe('the Web Push allow-list', () => {
  it('takes host (any port), host:port and *.domain, https only, without credentials', () => {
    const hosts = new PushHostAllowList(['fcm.googleapis.com', '127.0.0.1:8443', '*.notify.windows.com'])
    expect(hosts.allows('https://fcm.googleapis.com/fcm/send/x')).toBe(true)
    expect(hosts.allows('https://fcm.googleapis.com:8080/x')).toBe(true)
    expect(hosts.allows('https://127.0.0.1:8443/push/1')).toBe(true)
    expect(hosts.allows('https://wns2-par02p.notify.windows.com/w/?token=x')).toBe(true)
    for (const refused of [
      'http://fcm.googleapis.com/x',
      'https://127.0.0.1:8444/push/1',
      'https://127.0.0.1/push/1',
      'https://notify.windows.com/x',
      'https://user:pw@fcm.googleapis.com/x',
      'https://fcm.googleapis.com.evil.example/x',
      'not a url',
    ]) {
      expect(hosts.allows(refused), refused).toBe(false)
    }
  })
})

describe('registerDevice', () => {
  const DAY_MS = 86_400_000

  it('saves a device to expire DEVICE_TTL_DAYS (60 by default) after its latest registration', async () => {
    const clock = new FakeClock()
    const devices = new MemoryDevices()
    const { push } = loadConfig({})
    const service = new DeviceService({
      devices,
      hosts: new PushHostAllowList(push.allowedHosts),
      limits: new RateLimits(new InMemoryRateLimiter(() => clock.now()), DEFAULT_RATES),
      clock,
      idSecret: 'unit-test-secret-that-is-long-enough',
      platforms: new Set<DevicePlatform>(['APNS', 'FCM', 'WEB_PUSH']),
      vapidPublicKey: undefined,
      // As src/wiring/push.ts makes it of the config.
      deviceTtlMs: push.deviceTtlDays * DAY_MS,
      maxDevicesPerUser: push.maxDevicesPerUser,
    })
    const viewer = { userId: 'u_001', expiresAt: Number.MAX_SAFE_INTEGER }
    const input = { platform: 'APNS' as const, token: 'd'.repeat(64) }
    const registeredAt = clock.now()
    const device = await service.register(viewer, input)
    expect(devices.expiries.get(device.id)).toBe(registeredAt + 60 * DAY_MS)
    await clock.advance(59 * DAY_MS)
    // Registered again a day before it would expire: 60 days from now.
    expect(await service.register(viewer, input)).toMatchObject({ id: device.id })
    expect(devices.expiries.get(device.id)).toBe(registeredAt + 119 * DAY_MS)
  })
})
