// The three push adapters against local services that speak each provider's protocol over TLS
// (test/support/push-services.ts): what arrives, and how each provider answer becomes an outcome.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { SignJWT, importPKCS8 } from 'jose'
import webpush from 'web-push'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PushAddress, PushMessage } from '../src/domain/ports.js'
import { ApnsProvider } from '../src/infra/push/apns.js'
import { FcmProvider } from '../src/infra/push/fcm.js'
import { retryAfterMs } from '../src/infra/push/retry-after.js'
import { generateVapidKeys, topicOf, WebPushProvider } from '../src/infra/push/web-push.js'
import { freePort } from './support/process.js'
import {
  postTo,
  postToApns,
  startApnsService,
  startFcmService,
  startWebPushService,
  testTls,
  type ApnsService,
  type FcmService,
  type WebPushService,
  type WebPushSubscription,
} from './support/push-services.js'

const message: PushMessage = {
  kind: 'message',
  chatId: 'c_7Hq2x9',
  unread: 3,
  title: 'Hush',
  body: 'New message',
  collapseKey: 'chat:c_7Hq2x9',
  ttlSeconds: 3600,
}

async function timed<T>(work: Promise<T>): Promise<{ result: T; ms: number }> {
  const start = Date.now()
  const result = await work
  return { result, ms: Date.now() - start }
}

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP dates, and ignores anything else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(retryAfterMs('2', now)).toBe(2000)
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000)
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0)
    expect(retryAfterMs(undefined, now)).toBeUndefined()
    expect(retryAfterMs('soon', now)).toBeUndefined()
  })
})

describe('WebPushProvider', () => {
  let service: WebPushService
  let provider: WebPushProvider
  let ca: string
  const vapid = { ...generateVapidKeys(), subject: 'mailto:push@hush.test' }
  const at = (subscription: WebPushSubscription): PushAddress => ({ platform: 'WEB_PUSH', endpoint: subscription.endpoint, ...subscription.keys })
  const subscribe = () => service.subscribe({ applicationServerKey: vapid.publicKey })

  beforeAll(async () => {
    ca = (await testTls()).ca
    service = await startWebPushService()
    provider = new WebPushProvider({ vapid, ca, timeoutMs: 2000 })
  })
  afterAll(async () => {
    await provider?.close()
    await service?.close()
  })

  it('delivers a VAPID-signed, encrypted push holding only the chat, the count and neutral words', async () => {
    const subscription = subscribe()
    expect(await provider.send(at(subscription), message)).toEqual({ status: 'sent' })
    const push = service.received.find((received) => received.endpoint === subscription.endpoint)
    expect(push?.payload).toStrictEqual({ kind: 'message', chatId: 'c_7Hq2x9', unread: 3, title: 'Hush', body: 'New message', tag: 'chat:c_7Hq2x9' })
    expect(push?.headers).toEqual({ topic: topicOf('chat:c_7Hq2x9'), urgency: 'high', ttl: 3600 })
    expect(push?.headers.topic).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(push?.vapid.publicKey).toBe(vapid.publicKey)
    expect(push?.vapid.claims).toMatchObject({ aud: new URL(subscription.endpoint).origin, sub: 'mailto:push@hush.test' })
  })

  it('gives pushes of one chat one Topic and other chats another, at normal urgency for chat events', async () => {
    const subscription = subscribe()
    await provider.send(at(subscription), { ...message, kind: 'chatClosed', unread: 0 })
    await provider.send(at(subscription), { ...message, collapseKey: 'chat:other' })
    const [closed, other] = service.received.filter((received) => received.endpoint === subscription.endpoint)
    expect(closed?.headers).toMatchObject({ topic: topicOf(message.collapseKey), urgency: 'normal' })
    expect(other?.headers.topic).not.toBe(closed?.headers.topic)
  })

  it('reports a subscription the push service no longer knows as gone', async () => {
    const subscription = subscribe()
    service.gone(subscription.endpoint)
    expect(await provider.send(at(subscription), message)).toMatchObject({ status: 'gone', reason: expect.stringContaining('410') as string })
  })

  it('retries a 429 after its Retry-After, and a 503 with none', async () => {
    const subscription = subscribe()
    service.failNext(1, { status: 429, retryAfter: 2 })
    expect(await provider.send(at(subscription), message)).toMatchObject({ status: 'retry', afterMs: 2000 })
    service.failNext(1, { status: 503 })
    expect(await provider.send(at(subscription), message)).toMatchObject({ status: 'retry', afterMs: undefined })
  })

  it('retries when the push service does not answer in time', async () => {
    const impatient = new WebPushProvider({ vapid, ca, timeoutMs: 300 })
    service.stall()
    try {
      const { result, ms } = await timed(impatient.send(at(subscribe()), message))
      expect(result).toMatchObject({ status: 'retry' })
      expect(ms).toBeGreaterThanOrEqual(250)
      expect(ms).toBeLessThan(2000)
    } finally {
      service.release()
      await impatient.close()
    }
  })

  it('retries when nothing listens at the endpoint', async () => {
    const port = await freePort()
    const subscription = { ...subscribe(), endpoint: `https://127.0.0.1:${port}/push/nobody` }
    expect(await provider.send(at(subscription), message)).toMatchObject({ status: 'retry' })
  })

  it('is rejected when signing with a VAPID key other than the subscription was made for', async () => {
    const stranger = new WebPushProvider({ vapid: { ...generateVapidKeys(), subject: 'mailto:x@hush.test' }, ca })
    try {
      expect(await stranger.send(at(subscribe()), message)).toMatchObject({ status: 'rejected', reason: expect.stringContaining('403') as string })
    } finally {
      await stranger.close()
    }
  })

  it('rejects a malformed subscription without a request', async () => {
    const attempts = service.attempts
    const subscription = { ...subscribe(), keys: { p256dh: 'bm90IGEga2V5', auth: 'c2hvcnQ' } }
    expect(await provider.send(at(subscription), message)).toMatchObject({ status: 'rejected' })
    expect(service.attempts).toBe(attempts)
  })

  it('has a push service that refuses a VAPID token whose signature was tampered with', async () => {
    const subscription = subscribe()
    const request = () => webpush.generateRequestDetails(subscription, '{"kind":"message"}', { vapidDetails: vapid, TTL: 60 })
    const genuine = request()
    expect((await postTo(subscription.endpoint, genuine.headers, genuine.body ?? '')).status).toBe(201)
    const forged = request()
    // Flip one character of the JWT's signature (the third dot-separated part of t=).
    const authorization = String(forged.headers.Authorization).replace(/(t=[^.]+\.[^.]+\.)(.)/, (_, head: string, first: string) => head + (first === 'A' ? 'B' : 'A'))
    const refused = await postTo(subscription.endpoint, { ...forged.headers, Authorization: authorization }, forged.body ?? '')
    expect(refused.status).toBe(401)
    expect(refused.text).toMatch(/signature/i)
  })
})

describe('ApnsProvider', () => {
  let service: ApnsService
  let provider: ApnsProvider
  let ca: string
  const deviceToken = () => randomBytes(32).toString('hex')
  const at = (token: string): PushAddress => ({ platform: 'APNS', token })

  beforeAll(async () => {
    ca = (await testTls()).ca
    service = await startApnsService()
    provider = new ApnsProvider({ ...service.credentials, host: service.url, ca, timeoutMs: 2000 })
  })
  afterAll(async () => {
    await provider?.close()
    await service?.close()
  })

  it('delivers an alert with the collapse id, thread, priority and expiry, and no more than the chat and the count', async () => {
    const token = deviceToken()
    const before = Math.floor(Date.now() / 1000)
    expect(await provider.send(at(token), message)).toEqual({ status: 'sent' })
    const push = service.received.find((received) => received.token === token)
    expect(push?.payload).toStrictEqual({
      aps: { alert: { title: 'Hush', body: 'New message' }, 'thread-id': 'chat:c_7Hq2x9', sound: 'default' },
      kind: 'message',
      chatId: 'c_7Hq2x9',
      unread: 3,
    })
    expect(push?.headers).toMatchObject({
      'apns-collapse-id': 'chat:c_7Hq2x9',
      'apns-priority': '10',
      'apns-push-type': 'alert',
      'apns-topic': 'app.hush.test',
    })
    const expiration = Number(push?.headers['apns-expiration'])
    expect(expiration).toBeGreaterThanOrEqual(before + 3600)
    expect(expiration).toBeLessThanOrEqual(before + 3605)
  })

  it('sends chat events at priority 5 and reuses one provider token across pushes', async () => {
    const token = deviceToken()
    const tokensBefore = service.providerTokens.length
    await provider.send(at(token), { ...message, kind: 'chatStarted' })
    await provider.send(at(token), message)
    expect(service.received.filter((received) => received.token === token).map((push) => push.headers['apns-priority'])).toEqual(['5', '10'])
    const used = service.providerTokens.slice(tokensBefore)
    expect(used).toHaveLength(2)
    expect(new Set([...used, service.providerTokens[0]]).size).toBe(1)
  })

  it('reports an unregistered token, and one that is not a device token, as gone', async () => {
    const token = deviceToken()
    service.gone(token)
    expect(await provider.send(at(token), message)).toMatchObject({ status: 'gone', reason: 'HTTP 410: Unregistered' })
    expect(await provider.send(at('not-a-device-token'), message)).toMatchObject({ status: 'gone', reason: 'HTTP 400: BadDeviceToken' })
  })

  it('retries TooManyRequests and a shutting-down server', async () => {
    // node-apn does not pass Retry-After on (APNs documents none), so there is no afterMs.
    service.failNext(1, { status: 429, retryAfter: 2 })
    expect(await provider.send(at(deviceToken()), message)).toEqual({ status: 'retry', reason: 'HTTP 429: TooManyRequests' })
    service.failNext(1, { status: 503, reason: 'Shutdown' })
    expect(await provider.send(at(deviceToken()), message)).toMatchObject({ status: 'retry', reason: 'HTTP 503: Shutdown' })
  })

  it('makes a new provider token and sends again when APNs says the token expired', async () => {
    const token = deviceToken()
    const tokensBefore = service.providerTokens.length
    service.failNext(1, { status: 403, reason: 'ExpiredProviderToken' })
    expect(await provider.send(at(token), message)).toEqual({ status: 'sent' })
    const [stale, fresh] = service.providerTokens.slice(tokensBefore)
    expect(fresh).toBeDefined()
    expect(fresh).not.toBe(stale)
    expect(service.received.filter((received) => received.token === token)).toHaveLength(1)
  })

  it('retries when APNs does not answer in time', async () => {
    const impatient = new ApnsProvider({ ...service.credentials, host: service.url, ca, timeoutMs: 300 })
    service.stall()
    try {
      const { result, ms } = await timed(impatient.send(at(deviceToken()), message))
      expect(result).toMatchObject({ status: 'retry' })
      expect(ms).toBeGreaterThanOrEqual(250)
      expect(ms).toBeLessThan(2000)
    } finally {
      service.release()
      await impatient.close()
    }
  })

  it('retries when nothing listens at the host', async () => {
    const unreachable = new ApnsProvider({ ...service.credentials, host: `https://127.0.0.1:${await freePort()}`, ca })
    try {
      expect(await unreachable.send(at(deviceToken()), message)).toMatchObject({ status: 'retry' })
    } finally {
      await unreachable.close()
    }
  })

  it('is rejected with a key APNs does not know, or for another app', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const forged = new ApnsProvider({ ...service.credentials, key, host: service.url, ca })
    const otherApp = new ApnsProvider({ ...service.credentials, topic: 'com.example.other', host: service.url, ca })
    try {
      expect(await forged.send(at(deviceToken()), message)).toMatchObject({ status: 'rejected', reason: 'HTTP 403: InvalidProviderToken' })
      expect(await otherApp.send(at(deviceToken()), message)).toMatchObject({ status: 'rejected', reason: 'HTTP 400: TopicDisallowed' })
    } finally {
      await forged.close()
      await otherApp.close()
    }
  })

  it('has a server that refuses a provider token older than an hour or for another key id', async () => {
    const { key, keyId, teamId, topic } = service.credentials
    const sign = async (kid: string, iat: number) =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(teamId).setIssuedAt(iat).sign(await importPKCS8(key, 'ES256'))
    const push = async (jwt: string) =>
      postToApns(service.url, `/3/device/${deviceToken()}`, { authorization: `bearer ${jwt}`, 'apns-topic': topic, 'apns-push-type': 'alert' }, '{}')
    const now = Math.floor(Date.now() / 1000)
    expect(await push(await sign(keyId, now))).toEqual({ status: 200, reason: undefined })
    expect(await push(await sign(keyId, now - 2 * 3600))).toEqual({ status: 403, reason: 'ExpiredProviderToken' })
    expect(await push(await sign('ABCDEFGHIJ', now))).toEqual({ status: 403, reason: 'InvalidProviderToken' })
  })
})

describe('FcmProvider', () => {
  let service: FcmService
  let provider: FcmProvider
  let ca: string
  const deviceToken = () => `f${randomBytes(6).toString('hex')}:APA91b${randomBytes(96).toString('base64url')}`
  const at = (token: string): PushAddress => ({ platform: 'FCM', token })
  const connect = (timeoutMs = 2000) => new FcmProvider({ serviceAccount: service.serviceAccount, endpoint: service.url, ca, timeoutMs })

  beforeAll(async () => {
    ca = (await testTls()).ca
    service = await startFcmService()
    provider = connect()
  })
  afterAll(async () => {
    await provider?.close()
    await service?.close()
  })

  it('delivers a notification with collapse key, tag, TTL and priority, and data holding only the chat and the count', async () => {
    const token = deviceToken()
    expect(await provider.send(at(token), message)).toEqual({ status: 'sent' })
    expect(service.received.find((received) => received.token === token)?.message).toStrictEqual({
      token,
      notification: { title: 'Hush', body: 'New message' },
      data: { kind: 'message', chatId: 'c_7Hq2x9', unread: '3' },
      android: { collapse_key: 'chat:c_7Hq2x9', ttl: '3600s', priority: 'HIGH', notification: { tag: 'chat:c_7Hq2x9' } },
      apns: { headers: { 'apns-collapse-id': 'chat:c_7Hq2x9' }, payload: { aps: { 'thread-id': 'chat:c_7Hq2x9' } } },
    })
  })

  it('fetches one access token and reuses it across pushes', async () => {
    const fresh = connect()
    const issued = service.tokensIssued
    try {
      const closed = deviceToken()
      // Two at once share the one fetch; the third finds it cached.
      await Promise.all([fresh.send(at(deviceToken()), message), fresh.send(at(closed), { ...message, kind: 'chatClosed' })])
      expect(await fresh.send(at(deviceToken()), message)).toEqual({ status: 'sent' })
      expect(service.tokensIssued).toBe(issued + 1)
      expect(service.received.find((received) => received.token === closed)?.message.android).toMatchObject({ priority: 'NORMAL' })
    } finally {
      await fresh.close()
    }
  })

  it('fetches a new access token once FCM stops taking the old one', async () => {
    await provider.send(at(deviceToken()), message)
    const issued = service.tokensIssued
    service.revokeAccessTokens()
    expect(await provider.send(at(deviceToken()), message)).toEqual({ status: 'sent' })
    expect(service.tokensIssued).toBe(issued + 1)
  })

  it('reports an unregistered token, and one FCM says is no registration token, as gone', async () => {
    const token = deviceToken()
    service.gone(token)
    expect(await provider.send(at(token), message)).toMatchObject({ status: 'gone', reason: expect.stringContaining('UNREGISTERED') as string })
    expect(await provider.send(at('bad'), message)).toMatchObject({ status: 'gone', reason: expect.stringContaining('INVALID_ARGUMENT') as string })
  })

  it('rejects a 404 that does not say UNREGISTERED (a wrong endpoint), keeping the device', async () => {
    const misconfigured = new FcmProvider({ serviceAccount: service.serviceAccount, endpoint: `${service.url}/not-fcm`, ca })
    try {
      expect(await misconfigured.send(at(deviceToken()), message)).toMatchObject({ status: 'rejected', reason: expect.stringContaining('HTTP 404') as string })
    } finally {
      await misconfigured.close()
    }
  })

  it('rejects an INVALID_ARGUMENT that is not about the token', async () => {
    service.failNext(1, { status: 400 })
    expect(await provider.send(at(deviceToken()), message)).toMatchObject({ status: 'rejected', reason: expect.stringContaining('INVALID_ARGUMENT') as string })
  })

  it('retries QUOTA_EXCEEDED after its Retry-After, and UNAVAILABLE after an HTTP-date one', async () => {
    service.failNext(1, { status: 429, retryAfter: 2 })
    expect(await provider.send(at(deviceToken()), message)).toMatchObject({ status: 'retry', afterMs: 2000 })
    service.failNext(1, { status: 503, retryAfter: new Date(Date.now() + 10_000).toUTCString() })
    const outcome = await provider.send(at(deviceToken()), message)
    expect(outcome).toMatchObject({ status: 'retry', reason: expect.stringContaining('UNAVAILABLE') as string })
    const afterMs = outcome.status === 'retry' ? outcome.afterMs : undefined
    expect(afterMs).toBeGreaterThan(8000)
    expect(afterMs).toBeLessThanOrEqual(10_000)
  })

  it('retries when FCM does not answer in time', async () => {
    const impatient = connect(300)
    service.stall()
    try {
      const { result, ms } = await timed(impatient.send(at(deviceToken()), message))
      expect(result).toMatchObject({ status: 'retry' })
      expect(ms).toBeGreaterThanOrEqual(250)
      expect(ms).toBeLessThan(2000)
    } finally {
      service.release()
      await impatient.close()
    }
  })

  it('retries when nothing listens at the endpoint', async () => {
    const unreachable = new FcmProvider({ serviceAccount: service.serviceAccount, endpoint: `https://127.0.0.1:${await freePort()}`, ca })
    try {
      // The token comes from the service; the send finds nobody.
      expect(await unreachable.send(at(deviceToken()), message)).toMatchObject({ status: 'retry' })
    } finally {
      await unreachable.close()
    }
  })

  it('is rejected when the token endpoint refuses a service account key it does not know', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const forged = new FcmProvider({ serviceAccount: { ...service.serviceAccount, private_key: stranger }, endpoint: service.url, ca })
    const attempts = service.attempts
    try {
      expect(await forged.send(at(deviceToken()), message)).toMatchObject({ status: 'rejected', reason: expect.stringContaining('invalid_grant') as string })
      expect(service.attempts).toBe(attempts)
    } finally {
      await forged.close()
    }
  })
})
