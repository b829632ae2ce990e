import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { GetItemCommand } from 'dynamodb-toolbox/entity/actions/get'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createDynamoClients } from '../src/infra/dynamodb/client.js'
import { createEntities } from '../src/infra/dynamodb/entities.js'
import { createHushTable } from '../src/infra/dynamodb/table.js'
import { generateVapidKeys } from '../src/infra/push/web-push.js'
import {
  ChatEventsDocument,
  CreatePostDocument,
  LeaveChatDocument,
  MuteChatDocument,
  NotificationsDocument,
  PeerPresentDocument,
  PushSettingsDocument,
  RegisterDeviceDocument,
  SendMessageDocument,
  StartChatDocument,
  UnregisterDeviceDocument,
  type DeviceInput,
} from './generated/graphql.js'
import { redisEnv, startPeerApp, startTestApp, testEnv, type TestApp } from './support/app.js'
import { collect, errorCode, mustRequest, request, signUp, wsClient, type TestUser } from './support/client.js'
import { spawnServer, within } from './support/process.js'
import {
  startApnsService,
  startFcmService,
  startWebPushService,
  testTls,
  type ApnsService,
  type FcmService,
  type WebPushService,
} from './support/push-services.js'

const WINDOW_MS = 1_500
const DAY_MS = 86_400_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface PushServices {
  web: WebPushService
  apns: ApnsService
  fcm: FcmService
}

/** The environment of a Hush process that pushes through `services`, with fresh VAPID keys. */
async function pushEnv({ web, apns, fcm }: PushServices): Promise<Record<string, string>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hush-push-'))
  const file = async (name: string, content: string) => {
    await writeFile(path.join(dir, name), content)
    return path.join(dir, name)
  }
  const vapid = generateVapidKeys()
  return {
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:ops@hush.test',
    PUSH_ALLOWED_HOSTS: new URL(web.url).host,
    APNS_KEY_FILE: await file('apns.p8', apns.credentials.key),
    APNS_KEY_ID: apns.credentials.keyId,
    APNS_TEAM_ID: apns.credentials.teamId,
    APNS_TOPIC: apns.credentials.topic,
    APNS_HOST: apns.url,
    FCM_SERVICE_ACCOUNT_FILE: await file('fcm.json', JSON.stringify(fcm.serviceAccount)),
    FCM_ENDPOINT: fcm.url,
    PUSH_CA_FILE: await file('ca.pem', (await testTls()).ca),
    PUSH_COLLAPSE_MS: String(WINDOW_MS),
    PUSH_CLAIM_IDLE_MS: '1500',
    PRESENCE_TTL_MS: '3000',
  }
}

/** `hush_pushes_total` of one process, as {"<outcome> <platform>": count}. */
async function pushCounts(app: TestApp): Promise<Record<string, number>> {
  const text = await (await fetch(app.metricsUrl!)).text()
  const counts: Record<string, number> = {}
  for (const [, labels, value] of text.matchAll(/^hush_pushes_total\{([^}]*)\} (\S+)$/gm)) {
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels!)?.[1]
    counts[`${label('outcome')} ${label('platform')}`] = Number(value)
  }
  return counts
}

/** `hush_live_streams` of one process, by kind. */
async function liveStreams(app: TestApp): Promise<Record<string, number>> {
  const text = await (await fetch(app.metricsUrl!)).text()
  return Object.fromEntries([...text.matchAll(/^hush_live_streams\{kind="(\w+)"\} (\S+)$/gm)].map(([, kind, value]) => [kind!, Number(value)]))
}

/** What the three local provider servers received for one chat. */
function pushesOf(chatId: string, services: PushServices) {
  return {
    web: services.web.received.filter((push) => (push.payload as { chatId: string }).chatId === chatId),
    apns: services.apns.received.filter((push) => (push.payload as { chatId: string }).chatId === chatId),
    fcm: services.fcm.received.filter((push) => (push.message.data as { chatId: string }).chatId === chatId),
  }
}

async function eventually<T>(read: () => T | Promise<T>, holds: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read()
    if (holds(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(value)}`)
    await sleep(25)
  }
}

/**
 * Pushes through real protocol endpoints on this machine (test/support/push-services.ts): a Web
 * Push service that checks VAPID and decrypts, an HTTP/2 APNs that checks the ES256 provider
 * token, and FCM v1 with its OAuth token endpoint. Two Hush processes share Redis and the table.
 */
describe('pushes to offline users', () => {
  let web: WebPushService
  let apns: ApnsService
  let fcm: FcmService
  let env: Record<string, string | undefined>
  let one: TestApp
  let two: TestApp
  const services = () => ({ web, apns, fcm })

  beforeAll(async () => {
    ;[web, apns, fcm] = await Promise.all([startWebPushService(), startApnsService(), startFcmService()])
    env = { ...redisEnv(), ...(await pushEnv(services())) }
    one = await startTestApp(env)
    two = await startPeerApp(one, env)
  })

  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()])
    await Promise.all([web?.close(), apns?.close(), fcm?.close()])
  })

  /** A user with a browser, an iPhone and an Android phone registered. */
  async function userWithDevices(app: TestApp, on: PushServices = services()) {
    const user = await signUp(app.url)
    const subscription = on.web.subscribe({ applicationServerKey: (await mustRequest(app.url, PushSettingsDocument, {}, user.token)).pushSettings.vapidPublicKey! })
    const inputs: DeviceInput[] = [
      { platform: 'WEB_PUSH', webPush: { endpoint: subscription.endpoint, ...subscription.keys } },
      { platform: 'APNS', token: randomBytes(32).toString('hex') },
      { platform: 'FCM', token: `f${randomBytes(8).toString('hex')}:APA91b${randomBytes(100).toString('base64url')}` },
    ]
    const devices = []
    for (const input of inputs) devices.push((await mustRequest(app.url, RegisterDeviceDocument, { input }, user.token)).registerDevice)
    return { user, inputs, devices }
  }

  async function chatWith(recipient: TestUser, app: TestApp) {
    const sender = await signUp(app.url)
    const post = (await mustRequest(app.url, CreatePostDocument, { body: 'push me' }, recipient.token)).createPost
    const chat = (await mustRequest(app.url, StartChatDocument, { postId: post.id }, sender.token)).startChat
    const send = (body: string, via: TestApp = app) =>
      mustRequest(via.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body }, sender.token)
    return { sender, chat, send }
  }

  it('pushes nothing to a user with a live subscription; offline, one push at once and one per window after, with the unread count and nothing identifying', async () => {
    const { user } = await userWithDevices(one)
    const client = wsClient(one.url, user.token)
    const notifications = collect(client, NotificationsDocument)
    const { chat, send, sender } = await chatWith(user, two)
    await notifications.until((items) => items.some((n) => n.notifications.__typename === 'ChatStartedNotification'))
    await send('while you are here')
    await notifications.until((items) => items.some((n) => n.notifications.__typename === 'NewMessageNotification'))
    await sleep(WINDOW_MS + 500)
    expect(pushesOf(chat.id, services())).toEqual({ web: [], apns: [], fcm: [] })

    notifications.stop()
    await client.dispose()
    await sleep(200)
    for (const body of ['one', 'two', 'three']) await send(body, one)
    const unreadOf = (push: { payload: unknown } | undefined) => (push?.payload as { unread: number } | undefined)?.unread
    const all = await eventually(
      () => pushesOf(chat.id, services()),
      // Four unread: the one that came while the user was online, and three since.
      (p) => unreadOf(p.web.at(-1)) === 4 && unreadOf(p.apns.at(-1)) === 4 && (p.fcm.at(-1)?.message.data as { unread: string } | undefined)?.unread === '4',
    )
    await sleep(WINDOW_MS * 2)
    // One at once, one at the end of the window: never more, whatever the number of messages.
    expect([all.web.length, all.apns.length, all.fcm.length]).toEqual([2, 2, 2])
    expect(Object.keys(all.web[0]!.payload as object).sort()).toEqual(['body', 'chatId', 'kind', 'tag', 'title', 'unread'])
    expect(all.web[0]).toMatchObject({ payload: { kind: 'message', chatId: chat.id, tag: chat.id, title: 'Hush' }, headers: { urgency: 'high' } })
    expect(all.apns[0]).toMatchObject({ headers: { 'apns-collapse-id': chat.id, 'apns-push-type': 'alert', 'apns-topic': apns.credentials.topic } })
    expect(all.apns[0]!.payload).toMatchObject({ aps: { 'thread-id': chat.id }, chatId: chat.id })
    expect(all.fcm[0]!.message).toMatchObject({ android: { collapse_key: chat.id }, data: { kind: 'message', chatId: chat.id } })
    const everything = JSON.stringify(all)
    for (const secret of [user.id, sender.id, chat.me.alias, chat.peer.alias, 'one', 'two', 'three', 'push me']) expect(everything).not.toContain(secret)
  })

  it('pushes nothing to a user whose only live subscription is chatEvents on another process; once it closes, pushes again', async () => {
    const { user } = await userWithDevices(one)
    const { chat, send, sender } = await chatWith(user, one)
    // Offline at first: the chat's start is pushed.
    await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 1 && p.apns.length === 1 && p.fcm.length === 1)
    const client = wsClient(two.url, user.token)
    const events = collect(client, ChatEventsDocument, { chatId: chat.id })
    await eventually(async () => (await mustRequest(one.url, PeerPresentDocument, { id: chat.id }, sender.token)).chat?.peerPresent, (present) => present === true)
    // Past the start's collapse window: nothing but the subscription can hold the next push back.
    await sleep(WINDOW_MS)
    await send('while you read the chat')
    await events.until((items) => items.some((e) => e.chatEvents.__typename === 'MessageEvent'))
    await sleep(WINDOW_MS + 500)
    expect(pushesOf(chat.id, services())).toMatchObject({ web: { length: 1 }, apns: { length: 1 }, fcm: { length: 1 } })

    events.stop()
    await client.dispose()
    await sleep(200)
    await send('now you are away')
    // Both messages unread: the first was not pushed because the user was online, not because it was read.
    const pushes = await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 2 && p.apns.length === 2 && p.fcm.length === 2)
    expect(pushes.web[1]!.payload).toMatchObject({ kind: 'message', unread: 2 })
  })

  it('pushes each event exactly once across three processes', async () => {
    const three = await startPeerApp(one, env)
    try {
      const { user } = await userWithDevices(three)
      const { chat, send } = await chatWith(user, three)
      // The chatStarted push first: the message comes after its window.
      await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 1 && p.apns.length === 1 && p.fcm.length === 1)
      await sleep(WINDOW_MS)
      await send('once')
      await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 2 && p.apns.length === 2 && p.fcm.length === 2)
      await sleep(WINDOW_MS * 2)
      const pushes = pushesOf(chat.id, services())
      expect([pushes.web, pushes.apns, pushes.fcm].map((list) => list.map((p) => ('payload' in p ? (p.payload as { kind: string }).kind : p.message.data)))).toEqual([
        ['chatStarted', 'message'],
        ['chatStarted', 'message'],
        [expect.objectContaining({ kind: 'chatStarted' }), expect.objectContaining({ kind: 'message', unread: '1' })],
      ])
    } finally {
      await three.stop()
    }
  })

  it('removes a device whose token the provider calls dead, and retries a provider outage until the push is through', async () => {
    const { user, inputs } = await userWithDevices(one)
    apns.gone(inputs[1]!.token!)
    fcm.failNext(2, { status: 503, retryAfter: 1 })
    const { chat, send } = await chatWith(user, one)
    // The chatStarted push: APNs answers 410 (device removed), FCM is down twice, then takes it.
    const started = await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 1 && p.fcm.length === 1)
    expect(started.apns).toEqual([])
    const apnsAttempts = apns.attempts
    await sleep(WINDOW_MS)
    await send('after the outage')
    await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 2 && p.fcm.length === 2)
    // The dead token was not tried again.
    expect(apns.attempts).toBe(apnsAttempts)
  })

  it('removes a browser whose push service answers 410 or 404 and a phone FCM calls UNREGISTERED, and pushes to them no more', async () => {
    const { user, inputs, devices } = await userWithDevices(one)
    const other = web.subscribe()
    const notFound = (
      await mustRequest(one.url, RegisterDeviceDocument, { input: { platform: 'WEB_PUSH', webPush: { endpoint: other.endpoint, ...other.keys } } }, user.token)
    ).registerDevice
    const expired = inputs[0]!.webPush!.endpoint
    const unregistered = inputs[2]!.token!
    web.gone(expired, 410)
    web.gone(other.endpoint, 404)
    fcm.gone(unregistered)
    const goneAnswers = () => [web.goneAnswers.filter((a) => a === expired).length, web.goneAnswers.filter((a) => a === other.endpoint).length, fcm.goneAnswers.filter((a) => a === unregistered).length]
    const { chat, send } = await chatWith(user, one)
    // The chatStarted push: each dead device is tried once; the iPhone gets it.
    await eventually(() => ({ answers: goneAnswers(), apns: pushesOf(chat.id, services()).apns.length }), (s) => s.apns === 1 && s.answers.every((n) => n === 1))
    await sleep(WINDOW_MS)
    await send('after the removals')
    const pushes = await eventually(() => pushesOf(chat.id, services()), (p) => p.apns.length === 2)
    await sleep(500)
    expect(goneAnswers()).toEqual([1, 1, 1])
    expect([pushes.web, pushes.fcm]).toEqual([[], []])
    // Removed from the store: unregistering them finds nothing; the iPhone is still there.
    for (const id of [devices[0]!.id, notFound.id, devices[2]!.id]) {
      expect((await mustRequest(one.url, UnregisterDeviceDocument, { id }, user.token)).unregisterDevice, id).toBe(false)
    }
    expect((await mustRequest(one.url, UnregisterDeviceDocument, { id: devices[1]!.id }, user.token)).unregisterDevice).toBe(true)
  })

  it('stores a registered device to expire 60 days (DEVICE_TTL_DAYS by default) after its latest registration', async () => {
    const clients = createDynamoClients(inject('dynamodbEndpoint'), one.config.dynamodb.region)
    try {
      const { Device, DeviceOwner } = createEntities(createHushTable(clients.documentClient, one.config.dynamodb.table))
      const user = await signUp(one.url)
      const input: DeviceInput = { platform: 'APNS', token: randomBytes(32).toString('hex') }
      const register = async () => {
        const before = Date.now()
        const device = (await mustRequest(one.url, RegisterDeviceDocument, { input }, user.token)).registerDevice
        return { device, before, after: Date.now() }
      }
      const ttls = async (deviceId: string) => {
        const [{ Item: device }, { Item: owner }] = await Promise.all([
          Device.build(GetItemCommand).key({ userId: user.id, deviceId }).send(),
          DeviceOwner.build(GetItemCommand).key({ deviceId }).send(),
        ])
        return [device?.ttl, owner?.ttl]
      }
      // TTL is in epoch seconds, rounded up.
      const within = (ttl: number | undefined, { before, after }: { before: number; after: number }) =>
        ttl !== undefined && ttl >= Math.floor((before + 60 * DAY_MS) / 1000) && ttl <= Math.ceil((after + 60 * DAY_MS) / 1000)
      const first = await register()
      const [deviceTtl, ownerTtl] = await ttls(first.device.id)
      expect(within(deviceTtl, first), `${deviceTtl} for a registration at ${first.before}`).toBe(true)
      expect(ownerTtl).toBe(deviceTtl)
      await sleep(1_100)
      // Registering again is what keeps a device: the expiry moves on.
      const again = await register()
      expect(again.device).toEqual(first.device)
      const [laterTtl] = await ttls(again.device.id)
      expect(within(laterTtl, again), `${laterTtl} for a registration at ${again.before}`).toBe(true)
      expect(laterTtl).toBeGreaterThan(deviceTtl!)
    } finally {
      clients.destroy()
    }
  })

  it('registers idempotently, moves a token to the account that registers it last, and unregisters', async () => {
    const { user: first, inputs, devices } = await userWithDevices(one)
    const again = (await mustRequest(one.url, RegisterDeviceDocument, { input: inputs[1]! }, first.token)).registerDevice
    expect(again).toEqual(devices[1])
    const second = await signUp(one.url)
    const moved = (await mustRequest(one.url, RegisterDeviceDocument, { input: inputs[1]! }, second.token)).registerDevice
    expect(moved.platform).toBe('APNS')
    expect((await mustRequest(one.url, UnregisterDeviceDocument, { id: devices[0]!.id }, first.token)).unregisterDevice).toBe(true)
    expect((await mustRequest(one.url, UnregisterDeviceDocument, { id: devices[0]!.id }, first.token)).unregisterDevice).toBe(false)
    const toFirst = await chatWith(first, one)
    const toSecond = await chatWith(second, one)
    const pushes = await eventually(() => [pushesOf(toFirst.chat.id, services()), pushesOf(toSecond.chat.id, services())], ([a, b]) => a!.fcm.length === 1 && b!.apns.length === 1)
    await sleep(WINDOW_MS)
    // The first account kept only its FCM device: the browser was unregistered, the iPhone moved.
    expect(pushes[0]!.web).toEqual([])
    expect(pushes[0]!.apns).toEqual([])
    expect(pushes[1]!.apns.map((p) => p.token)).toEqual([inputs[1]!.token])
  })

  it('refuses a Web Push subscription outside PUSH_ALLOWED_HOSTS, and bad tokens, with BAD_USER_INPUT, sending nothing', async () => {
    const elsewhere = await startWebPushService()
    try {
      const user = await signUp(one.url)
      const subscription = elsewhere.subscribe()
      const refused = [
        { platform: 'WEB_PUSH', webPush: { endpoint: subscription.endpoint, ...subscription.keys } },
        { platform: 'WEB_PUSH', webPush: { endpoint: 'https://169.254.169.254/latest/meta-data', ...subscription.keys } },
        { platform: 'WEB_PUSH', webPush: { endpoint: `http://${new URL(web.url).host}/push/x`, ...subscription.keys } },
        { platform: 'APNS', token: 'not-hex' },
        { platform: 'FCM', token: 'short' },
        { platform: 'APNS', webPush: { endpoint: subscription.endpoint, ...subscription.keys } },
      ] satisfies DeviceInput[]
      for (const input of refused) {
        const response = await request(one.url, RegisterDeviceDocument, { input }, user.token)
        expect(errorCode(response), JSON.stringify(input)).toBe('BAD_USER_INPUT')
      }
      await chatWith(user, one)
      await sleep(WINDOW_MS)
      expect(elsewhere.attempts).toBe(0)
    } finally {
      await elsewhere.close()
    }
  })

  it('muteChat stops a chat’s pushes until the given time, while its live events still reach the muted user’s open subscriptions', async () => {
    const { user } = await userWithDevices(one)
    const { chat, send } = await chatWith(user, one)
    await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 1 && p.apns.length === 1 && p.fcm.length === 1)
    const muted = (await mustRequest(one.url, MuteChatDocument, { chatId: chat.id, until: new Date(Date.now() + 3_600_000).toISOString() }, user.token)).muteChat
    expect(muted.mutedUntil).not.toBeNull()
    const onePushEach = { web: { length: 1 }, apns: { length: 1 }, fcm: { length: 1 } }

    // Muted, with the app open (on the other process): the message comes live on both streams.
    const client = wsClient(two.url, user.token)
    const events = collect(client, ChatEventsDocument, { chatId: chat.id })
    const notifications = collect(client, NotificationsDocument)
    await eventually(() => liveStreams(two), (streams) => streams.chatEvents === 1 && streams.notifications === 1)
    await sleep(WINDOW_MS)
    await send('muted, while you are here')
    await events.until((items) => items.some((e) => e.chatEvents.__typename === 'MessageEvent' && e.chatEvents.message.body === 'muted, while you are here'))
    await notifications.until((items) =>
      items.some((n) => n.notifications.__typename === 'NewMessageNotification' && n.notifications.chatId === chat.id && n.notifications.message.body === 'muted, while you are here'),
    )
    expect(pushesOf(chat.id, services())).toMatchObject(onePushEach)

    // Muted, with the app closed: nothing is pushed either.
    events.stop()
    notifications.stop()
    await client.dispose()
    await sleep(200)
    await send('muted, while you are away')
    await sleep(WINDOW_MS * 2)
    expect(pushesOf(chat.id, services())).toMatchObject(onePushEach)

    expect((await mustRequest(one.url, MuteChatDocument, { chatId: chat.id, until: null }, user.token)).muteChat.mutedUntil).toBeNull()
    await send('unmuted')
    await eventually(
      () => pushesOf(chat.id, services()),
      (p) => p.web.length === 2 && (p.web[1]!.payload as { unread: number }).unread === 3 && p.apns.length === 2 && p.fcm.length === 2,
    )
  })

  it('a push is not lost when the process sending it is killed mid-send: another process takes the job', async () => {
    // A deployment of its own (its own queue), so that the killed process is the only consumer at first.
    const own = testEnv({ ...env, ...redisEnv(), LOG_LEVEL: 'info' })
    const victim = spawnServer(own)
    const url = await within(victim.url, 60_000, 'the server to listen')
    const user = await signUp(url)
    const subscription = web.subscribe()
    await mustRequest(url, RegisterDeviceDocument, { input: { platform: 'WEB_PUSH', webPush: { endpoint: subscription.endpoint, ...subscription.keys } } }, user.token)
    const onEndpoint = () => web.received.filter((push) => push.endpoint === subscription.endpoint)
    web.stall()
    const attempts = web.attempts
    const sender = await signUp(url)
    const post = (await mustRequest(url, CreatePostDocument, { body: 'p' }, user.token)).createPost
    const chat = (await mustRequest(url, StartChatDocument, { postId: post.id }, sender.token)).startChat
    await eventually(() => web.attempts, (n) => n > attempts)
    victim.child.kill('SIGKILL')
    await victim.exited
    web.release()
    expect(onEndpoint()).toEqual([])
    const rescuer = await startTestApp({ ...own, PORT: '0' })
    try {
      const [push] = await eventually(onEndpoint, (list) => list.length === 1, 15_000)
      expect(push!.payload).toMatchObject({ kind: 'chatStarted', chatId: chat.id })
      await sleep(WINDOW_MS)
      expect(onEndpoint()).toHaveLength(1)
    } finally {
      await rescuer.stop()
    }
  })

  it('leaves the chat and pushes the close to the peer only', async () => {
    const { user } = await userWithDevices(one)
    const { chat, sender } = await chatWith(user, one)
    await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 1)
    await sleep(WINDOW_MS)
    await mustRequest(one.url, LeaveChatDocument, { chatId: chat.id }, sender.token)
    const pushes = await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 2)
    expect(pushes.web.map((p) => (p.payload as { kind: string }).kind)).toEqual(['chatStarted', 'chatClosed'])
  })

  it('counts each push sent, collapsed or failed and each device removed in hush_pushes_total, by outcome and platform', async () => {
    // A deployment and provider servers of its own: the counts are this test's alone.
    const own: PushServices = { web: await startWebPushService(), apns: await startApnsService(), fcm: await startFcmService() }
    // A longer window, so that the messages below surely fall in the one the start opened.
    const app = await startTestApp({ ...redisEnv(), ...(await pushEnv(own)), PUSH_COLLAPSE_MS: '3000' })
    try {
      expect(await pushCounts(app)).toEqual({})
      const { user, inputs } = await userWithDevices(app, own)
      own.apns.gone(inputs[1]!.token!)
      // An INVALID_ARGUMENT that is not about the token: failed, not retried, the device kept.
      own.fcm.failNext(1, { status: 400 })
      const { chat, send } = await chatWith(user, app)
      const started = { 'sent WEB_PUSH': 1, 'device-removed APNS': 1, 'failed FCM': 1 }
      expect(await eventually(() => pushCounts(app), (counts) => Object.keys(counts).length === 3)).toEqual(started)
      await Promise.all([send('one'), send('two')])
      // Both fold into the push at the end of the window.
      expect(await eventually(() => pushCounts(app), (counts) => counts['collapsed none'] === 2)).toEqual({ ...started, 'collapsed none': 2 })
      await eventually(() => pushesOf(chat.id, own), (p) => p.web.length === 2 && p.fcm.length === 1)
      expect(await eventually(() => pushCounts(app), (counts) => counts['sent FCM'] === 1)).toEqual({
        'sent WEB_PUSH': 2,
        'sent FCM': 1,
        'device-removed APNS': 1,
        'failed FCM': 1,
        'collapsed none': 2,
      })
      expect(pushesOf(chat.id, own).apns).toEqual([])
    } finally {
      await app.stop()
      await Promise.all([own.web.close(), own.apns.close(), own.fcm.close()])
    }
  })
})
