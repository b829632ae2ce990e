import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateVapidKeys } from '../src/infra/push/web-push.js'
import {
  CreatePostDocument,
  LeaveChatDocument,
  MuteChatDocument,
  NotificationsDocument,
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
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** What the three local provider servers received for one chat. */
function pushesOf(chatId: string, services: { web: WebPushService; apns: ApnsService; fcm: FcmService }) {
  return {
    web: services.web.received.filter((push) => (push.payload as { chatId: string }).chatId === chatId),
    apns: services.apns.received.filter((push) => (push.payload as { chatId: string }).chatId === chatId),
    fcm: services.fcm.received.filter((push) => (push.message.data as { chatId: string }).chatId === chatId),
  }
}

async function eventually<T>(read: () => T, holds: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = read()
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
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hush-push-'))
    const file = async (name: string, content: string) => {
      await writeFile(path.join(dir, name), content)
      return path.join(dir, name)
    }
    const vapid = generateVapidKeys()
    env = {
      ...redisEnv(),
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
    one = await startTestApp(env)
    two = await startPeerApp(one, env)
  })

  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()])
    await Promise.all([web?.close(), apns?.close(), fcm?.close()])
  })

  /** A user with a browser, an iPhone and an Android phone registered. */
  async function userWithDevices(app: TestApp) {
    const user = await signUp(app.url)
    const subscription = web.subscribe({ applicationServerKey: (await mustRequest(app.url, PushSettingsDocument, {}, user.token)).pushSettings.vapidPublicKey! })
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

  it('muteChat stops a chat’s pushes until the given time; live events still come', async () => {
    const { user } = await userWithDevices(one)
    const { chat, send } = await chatWith(user, one)
    await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 1)
    const muted = (await mustRequest(one.url, MuteChatDocument, { chatId: chat.id, until: new Date(Date.now() + 3_600_000).toISOString() }, user.token)).muteChat
    expect(muted.mutedUntil).not.toBeNull()
    await sleep(WINDOW_MS)
    await send('muted')
    await sleep(WINDOW_MS * 2)
    expect(pushesOf(chat.id, services()).web).toHaveLength(1)
    expect((await mustRequest(one.url, MuteChatDocument, { chatId: chat.id, until: null }, user.token)).muteChat.mutedUntil).toBeNull()
    await send('unmuted')
    await eventually(() => pushesOf(chat.id, services()), (p) => p.web.length === 2 && (p.web[1]!.payload as { unread: number }).unread === 2)
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
})
