/**
 * Local stand-ins for the three push services, speaking their real protocols over TLS on
 * 127.0.0.1: a Web Push service (RFC 8030) that checks VAPID (RFC 8292) and decrypts the payload
 * (RFC 8291) as a browser would, APNs' HTTP/2 API with provider-token checks, and FCM's HTTP v1 API
 * with its OAuth 2.0 token endpoint. Each records what arrived and can be told to fail, forget a
 * device or stall. The certificate is issued at test time by a CA that `testTls()` hands out, for
 * the adapters' `ca` option.
 */
import { createECDH, generateKeyPair, randomBytes, randomUUID, type ECDH, type KeyObject } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { connect as connectHttp2, createSecureServer, type Http2Session, type IncomingHttpHeaders as Http2Headers, type ServerHttp2Stream } from 'node:http2'
import { createServer, request } from 'node:https'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { decodeProtectedHeader, importJWK, jwtVerify, type JWTPayload } from 'jose'
import { generate } from 'selfsigned'

// ---------------------------------------------------------------------------------------------
// TLS

export interface TestTls {
  /** The test CA's certificate (PEM): what the adapters' `ca` option trusts. */
  ca: string
  /** The servers' key and certificate (subjectAltName IP:127.0.0.1), issued by that CA. */
  key: string
  cert: string
}

let tls: Promise<TestTls> | undefined

/** The CA and server certificate, made once per test file. */
export function testTls(): Promise<TestTls> {
  return (tls ??= issueTls())
}

async function issueTls(): Promise<TestTls> {
  const ca = await generate([{ name: 'commonName', value: 'Hush test push CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  })
  const server = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  })
  return { ca: ca.cert, key: server.private, cert: server.cert }
}

/** One request straight to a local service (to show what it refuses), trusting the test CA. */
export async function postTo(url: string, headers: Record<string, string | number>, body: Buffer | string = ''): Promise<{ status: number; text: string }> {
  const { ca } = await testTls()
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, ca, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

// ---------------------------------------------------------------------------------------------
// What every service can be told to do

/** An answer to give instead of the normal one. */
export interface Fault {
  status: number
  /** Sent as Retry-After (seconds, or an HTTP date). */
  retryAfter?: number | string
  /** APNs' `reason`, FCM's `errorCode`; a fitting one by default. */
  reason?: string
}

export interface PushServiceControls<R> {
  /** https://127.0.0.1:<port> */
  readonly url: string
  /** The pushes accepted, in order. */
  readonly received: R[]
  /** Requests that reached the push handler (accepted, refused or stalled). */
  readonly attempts: number
  /** The next `count` pushes get `fault`. */
  failNext(count: number, fault: Fault): void
  /**
   * The device token or subscription endpoint is dead from now on: APNs answers 410 Unregistered,
   * FCM 404 UNREGISTERED, a Web Push service `status` (410 Gone by default; some answer 404 Not Found).
   */
  gone(address: string, status?: 404 | 410): void
  /** The tokens or endpoints answered as dead, one entry per request. */
  readonly goneAnswers: readonly string[]
  /** Pushes from now on are read and never answered, until release() or close(). */
  stall(): void
  /** Stops stalling; the held requests get 503. */
  release(): void
  /** Resolves once `count` pushes were accepted. */
  waitFor(count: number, timeoutMs?: number): Promise<R[]>
  close(): Promise<void>
}

/** The state and controls every service shares; each service's server calls next() on a push. */
class Script<R> implements PushServiceControls<R> {
  url = ''
  readonly received: R[] = []
  /** Tokens or endpoints gone() was told about, with the status a Web Push service answers them with. */
  readonly dead = new Map<string, 404 | 410>()
  readonly goneAnswers: string[] = []
  attempts = 0
  private faults: Fault[] = []
  private stalling = false
  private held: (() => void)[] = []
  private stop: () => Promise<void> = async () => {}

  /** Called once the server listens. */
  listening(url: string, stop: () => Promise<void>): void {
    this.url = url
    this.stop = stop
  }

  /** What to do with a push: the next fault, 'stall' (answer503 is kept for release()), or undefined to go on. */
  next(answer503: () => void): Fault | 'stall' | undefined {
    this.attempts++
    if (this.stalling) {
      this.held.push(answer503)
      return 'stall'
    }
    return this.faults.shift()
  }

  failNext(count: number, fault: Fault): void {
    this.faults.push(...Array.from({ length: count }, () => fault))
  }

  gone(address: string, status: 404 | 410 = 410): void {
    this.dead.set(address, status)
  }

  /** Whether `address` is dead; if so, the request is counted in goneAnswers. */
  answersGone(address: string): boolean {
    if (!this.dead.has(address)) return false
    this.goneAnswers.push(address)
    return true
  }

  stall(): void {
    this.stalling = true
  }

  release(): void {
    this.stalling = false
    for (const answer of this.held.splice(0)) answer()
  }

  async waitFor(count: number, timeoutMs = 5000): Promise<R[]> {
    const deadline = Date.now() + timeoutMs
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`${this.received.length} of ${count} pushes arrived at ${this.url} in ${timeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return this.received.slice(0, count)
  }

  close(): Promise<void> {
    this.held = []
    return this.stop()
  }
}

function retryAfterHeader(fault: Fault): Record<string, string> {
  return fault.retryAfter === undefined ? {} : { 'retry-after': String(fault.retryAfter) }
}

// ---------------------------------------------------------------------------------------------
// HTTPS/1.1 plumbing (Web Push, FCM)

interface Incoming {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
}

interface Reply {
  status: number
  headers?: Record<string, string>
  /** JSON unless a string. */
  body?: unknown
}

type Handler = (incoming: Incoming, answer503: () => void) => Promise<Reply | 'stall'>

async function startHttps(handler: Handler): Promise<{ url: string; close: () => Promise<void> }> {
  const { key, cert } = await testTls()
  const server = createServer({ key, cert }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const incoming = { method: req.method ?? '', path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) }
      const answer503 = () => void reply(res, { status: 503, body: 'released' })
      void handler(incoming, answer503).then(
        (result) => result === 'stall' || reply(res, result),
        (error: unknown) => reply(res, { status: 500, body: String(error) }),
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `https://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

function reply(res: ServerResponse, { status, headers = {}, body }: Reply): void {
  if (res.destroyed || res.headersSent) return
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)
  const type = typeof body === 'string' ? 'text/plain' : 'application/json; charset=UTF-8'
  res.writeHead(status, { ...headers, ...(text ? { 'content-type': type } : {}) }).end(text)
}

function bearer(headers: IncomingHttpHeaders | Http2Headers): string | undefined {
  return /^bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1]
}

// ---------------------------------------------------------------------------------------------
// Web Push

export interface WebPushSubscription {
  endpoint: string
  keys: { p256dh: string; auth: string }
}

export interface ReceivedWebPush {
  endpoint: string
  headers: { topic: string | undefined; urgency: string | undefined; ttl: number }
  /** The decrypted body, parsed as JSON. */
  payload: unknown
  /** The verified VAPID claims and the key (k) that signed them. */
  vapid: { publicKey: string; claims: JWTPayload }
}

export interface WebPushService extends PushServiceControls<ReceivedWebPush> {
  /**
   * A subscription as a browser's PushManager.subscribe() makes it: a P-256 key pair and a 16-byte
   * auth secret, kept here to decrypt. With `applicationServerKey`, pushes must be signed by that VAPID key.
   */
  subscribe(options?: { applicationServerKey?: string }): WebPushSubscription
}

interface Subscriber {
  ecdh: ECDH
  auth: Buffer
  applicationServerKey: string | undefined
}

// http_ece (web-push's own RFC 8188/8291 implementation) has no type declarations.
const ece = createRequire(import.meta.url)('http_ece') as {
  decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: Buffer }): Buffer
}

class LocalWebPushService extends Script<ReceivedWebPush> implements WebPushService {
  readonly subscribers = new Map<string, Subscriber>()

  subscribe({ applicationServerKey }: { applicationServerKey?: string } = {}): WebPushSubscription {
    const id = randomUUID()
    const ecdh = createECDH('prime256v1')
    ecdh.generateKeys()
    const auth = randomBytes(16)
    this.subscribers.set(id, { ecdh, auth, applicationServerKey })
    return { endpoint: `${this.url}/push/${id}`, keys: { p256dh: ecdh.getPublicKey('base64url'), auth: auth.toString('base64url') } }
  }
}

export async function startWebPushService(): Promise<WebPushService> {
  const service = new LocalWebPushService()
  const server = await startHttps(async (incoming, answer503) => {
    const id = /^\/push\/([\w-]+)$/.exec(incoming.path)?.[1]
    const subscriber = id === undefined ? undefined : service.subscribers.get(id)
    const endpoint = `${service.url}${incoming.path}`
    if (incoming.method !== 'POST') return { status: 405, body: 'POST only' }
    if (!subscriber) return { status: 410, body: 'no such subscription, or it expired' }
    if (service.answersGone(endpoint)) return { status: service.dead.get(endpoint)!, body: 'the subscription expired or was revoked' }
    const next = service.next(answer503)
    if (next === 'stall') return next
    if (next) return { status: next.status, headers: retryAfterHeader(next), body: next.reason ?? '' }
    return acceptWebPush(incoming, endpoint, subscriber, service)
  })
  service.listening(server.url, server.close)
  return service
}

async function acceptWebPush(incoming: Incoming, endpoint: string, subscriber: Subscriber, script: Script<ReceivedWebPush>): Promise<Reply> {
  const { headers } = incoming
  const vapid = await verifyVapid(headers.authorization, new URL(endpoint).origin)
  if (typeof vapid === 'string') return { status: 401, body: vapid }
  if (subscriber.applicationServerKey !== undefined && vapid.publicKey !== subscriber.applicationServerKey) {
    return { status: 403, body: 'VAPID key differs from the subscription’s applicationServerKey' }
  }
  if (headers['content-encoding'] !== 'aes128gcm') return { status: 415, body: 'Content-Encoding must be aes128gcm' }
  const ttl = headers.ttl
  if (typeof ttl !== 'string' || !/^\d+$/.test(ttl)) return { status: 400, body: 'TTL header missing' }
  if (incoming.body.length > 4096) return { status: 413, body: 'payload too large' }
  let plaintext: Buffer
  try {
    plaintext = ece.decrypt(incoming.body, { version: 'aes128gcm', privateKey: subscriber.ecdh, authSecret: subscriber.auth })
  } catch (error) {
    return { status: 400, body: `cannot decrypt: ${(error as Error).message}` }
  }
  const topic = headers.topic as string | undefined
  if (topic !== undefined && !/^[\w-]{1,32}$/.test(topic)) return { status: 400, body: 'bad Topic' }
  script.received.push({
    endpoint,
    headers: { topic, urgency: headers.urgency as string | undefined, ttl: Number(ttl) },
    payload: JSON.parse(plaintext.toString('utf8')) as unknown,
    vapid,
  })
  return { status: 201, headers: { location: `${script.url}/message/${randomUUID()}` } }
}

/** RFC 8292: `vapid t=<ES256 JWT>, k=<P-256 public key>`, aud the push service's origin, exp within 24 h. */
async function verifyVapid(authorization: string | undefined, origin: string): Promise<{ publicKey: string; claims: JWTPayload } | string> {
  const params = Object.fromEntries(
    [...(authorization ?? '').replace(/^vapid\s+/i, '').matchAll(/([tk])=([^,\s]+)/g)].map((m) => [m[1], m[2]]),
  ) as { t?: string; k?: string }
  if (!/^vapid\s/i.test(authorization ?? '') || !params.t || !params.k) return 'Authorization: vapid t=..., k=... required'
  const point = Buffer.from(params.k, 'base64url')
  if (point.length !== 65 || point[0] !== 4) return 'k is not an uncompressed P-256 point'
  try {
    const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }
    const { payload } = await jwtVerify(params.t, await importJWK(jwk, 'ES256'), {
      algorithms: ['ES256'],
      audience: origin,
      requiredClaims: ['exp', 'sub'],
    })
    if ((payload.exp ?? 0) > Date.now() / 1000 + 24 * 3600) return 'exp more than 24 hours ahead'
    return { publicKey: params.k, claims: payload }
  } catch (error) {
    return `bad VAPID token: ${(error as Error).message}`
  }
}

// ---------------------------------------------------------------------------------------------
// APNs

export interface ApnsCredentials {
  /** The .p8 key (PKCS#8 PEM) the service trusts. */
  key: string
  keyId: string
  teamId: string
  /** The bundle id pushes must name in apns-topic. */
  topic: string
}

export interface ReceivedApns {
  token: string
  headers: Record<'apns-collapse-id' | 'apns-priority' | 'apns-expiration' | 'apns-push-type' | 'apns-topic', string | undefined>
  payload: unknown
}

export interface ApnsService extends PushServiceControls<ReceivedApns> {
  credentials: ApnsCredentials
  /** The provider token of every request, in order (refused ones too). */
  providerTokens: string[]
}

const APNS_REASONS: Record<number, string> = { 403: 'ExpiredProviderToken', 429: 'TooManyRequests', 500: 'InternalServerError', 503: 'ServiceUnavailable' }

class LocalApnsService extends Script<ReceivedApns> implements ApnsService {
  readonly providerTokens: string[] = []

  constructor(
    readonly credentials: ApnsCredentials,
    readonly publicKey: KeyObject,
  ) {
    super()
  }
}

export async function startApnsService(): Promise<ApnsService> {
  const { key, cert } = await testTls()
  const pair = await newKeyPair('ec', { namedCurve: 'P-256' })
  const service = new LocalApnsService(
    {
      key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      keyId: randomBytes(5).toString('hex').toUpperCase(),
      teamId: randomBytes(5).toString('hex').toUpperCase(),
      topic: 'app.hush.test',
    },
    pair.publicKey,
  )
  const sessions = new Set<Http2Session>()
  const server = createSecureServer({ key, cert })
  server.on('session', (session: Http2Session) => {
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
  })
  server.on('stream', (stream: ServerHttp2Stream, headers: Http2Headers) => {
    const chunks: Buffer[] = []
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    stream.on('end', () => {
      const answer = (status: number, reason?: string, extra: Record<string, string> = {}) => {
        if (stream.destroyed || stream.closed) return
        stream.respond({ ':status': status, 'apns-id': randomUUID(), ...extra, ...(reason ? { 'content-type': 'application/json' } : {}) })
        stream.end(reason ? JSON.stringify({ reason, ...(status === 410 ? { timestamp: Date.now() } : {}) }) : undefined)
      }
      handleApns(headers, Buffer.concat(chunks), service, answer).catch(() => answer(500, 'InternalServerError'))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  service.listening(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, async () => {
    for (const session of sessions) session.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return service
}

type Answer = (status: number, reason?: string, extra?: Record<string, string>) => void

async function handleApns(headers: Http2Headers, body: Buffer, service: LocalApnsService, answer: Answer): Promise<void> {
  const { credentials } = service
  const token = /^\/3\/device\/([^/?]+)$/.exec(headers[':path'] ?? '')?.[1]
  if (headers[':method'] !== 'POST') return answer(405, 'MethodNotAllowed')
  if (token === undefined) return answer(404, 'BadPath')
  const providerToken = bearer(headers)
  if (providerToken === undefined) return answer(403, 'MissingProviderToken')
  service.providerTokens.push(providerToken)
  const refusal = await verifyProviderToken(providerToken, service)
  if (refusal) return answer(403, refusal)
  const next = service.next(() => answer(503, 'ServiceUnavailable'))
  if (next === 'stall') return
  if (next) return answer(next.status, next.reason ?? APNS_REASONS[next.status] ?? 'BadRequest', retryAfterHeader(next))
  if (!headers['apns-topic']) return answer(400, 'MissingTopic')
  if (headers['apns-topic'] !== credentials.topic) return answer(400, 'TopicDisallowed')
  if (headers['apns-push-type'] !== 'alert' && headers['apns-push-type'] !== 'background') return answer(400, 'InvalidPushType')
  if (!['5', '10', undefined].includes(headers['apns-priority'] as string | undefined)) return answer(400, 'BadPriority')
  if (!/^\d+$/.test((headers['apns-expiration'] as string | undefined) ?? '0')) return answer(400, 'BadExpirationDate')
  if (!/^(?:[0-9a-f]{2}){32,100}$/i.test(token)) return answer(400, 'BadDeviceToken')
  if (service.answersGone(token)) return answer(410, 'Unregistered')
  if (body.length > 4096) return answer(413, 'PayloadTooLarge')
  let payload: unknown
  try {
    payload = JSON.parse(body.toString('utf8'))
  } catch {
    return answer(400, body.length === 0 ? 'PayloadEmpty' : 'BadPayload')
  }
  const header = (name: keyof ReceivedApns['headers']) => headers[name] as string | undefined
  service.received.push({
    token,
    headers: {
      'apns-collapse-id': header('apns-collapse-id'),
      'apns-priority': header('apns-priority'),
      'apns-expiration': header('apns-expiration'),
      'apns-push-type': header('apns-push-type'),
      'apns-topic': header('apns-topic'),
    },
    payload,
  })
  answer(200)
}

/** Apple's checks: ES256, kid the key's id, iss the team, iat within the last hour. */
async function verifyProviderToken(jwt: string, { credentials, publicKey }: LocalApnsService): Promise<string | undefined> {
  try {
    if (decodeProtectedHeader(jwt).kid !== credentials.keyId) return 'InvalidProviderToken'
    const { payload } = await jwtVerify(jwt, publicKey, { algorithms: ['ES256'], issuer: credentials.teamId, requiredClaims: ['iat'] })
    const age = Date.now() / 1000 - (payload.iat ?? 0)
    if (age > 3600) return 'ExpiredProviderToken'
    if (age < -60) return 'InvalidProviderToken'
    return undefined
  } catch {
    return 'InvalidProviderToken'
  }
}

/** One request straight to a local APNs service (to show what it refuses). */
export async function postToApns(url: string, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; reason: string | undefined }> {
  const { ca } = await testTls()
  const session = connectHttp2(url, { ca })
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': path, ...headers })
      let status = 0
      let text = ''
      stream.on('response', (responseHeaders) => (status = Number(responseHeaders[':status'])))
      stream.on('data', (chunk: Buffer) => (text += chunk.toString()))
      stream.on('end', () => resolve({ status, reason: text ? (JSON.parse(text) as { reason?: string }).reason : undefined }))
      stream.on('error', reject)
      stream.end(body)
    })
  } finally {
    session.close()
  }
}

// ---------------------------------------------------------------------------------------------
// FCM

export interface FcmServiceAccountKey {
  project_id: string
  client_email: string
  private_key: string
  private_key_id: string
  /** This service's token endpoint. */
  token_uri: string
}

export interface ReceivedFcm {
  token: string
  /** The `message` object as sent. */
  message: Record<string, unknown>
}

export interface FcmService extends PushServiceControls<ReceivedFcm> {
  /** A service account key file pointing at this service. */
  serviceAccount: FcmServiceAccountKey
  /** Access tokens issued so far. */
  readonly tokensIssued: number
  /** Every access token issued so far stops working (FCM then answers 401). */
  revokeAccessTokens(): void
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const FCM_ERROR = 'type.googleapis.com/google.firebase.fcm.v1.FcmError'
const FCM_FAULTS: Record<number, [status: string, errorCode: string]> = {
  400: ['INVALID_ARGUMENT', 'INVALID_ARGUMENT'],
  429: ['RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED'],
  500: ['INTERNAL', 'INTERNAL'],
  503: ['UNAVAILABLE', 'UNAVAILABLE'],
}

class LocalFcmService extends Script<ReceivedFcm> implements FcmService {
  tokensIssued = 0
  readonly accessTokens = new Set<string>()

  constructor(
    readonly serviceAccount: FcmServiceAccountKey,
    readonly publicKey: KeyObject,
  ) {
    super()
  }

  revokeAccessTokens(): void {
    this.accessTokens.clear()
  }
}

export async function startFcmService(): Promise<FcmService> {
  const pair = await newKeyPair('rsa', { modulusLength: 2048 })
  const account: FcmServiceAccountKey = {
    project_id: 'hush-test',
    client_email: 'push@hush-test.iam.gserviceaccount.com',
    private_key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    private_key_id: randomBytes(20).toString('hex'),
    token_uri: '', // once the server listens
  }
  const service = new LocalFcmService(account, pair.publicKey)
  const server = await startHttps(async (incoming, answer503) => {
    if (incoming.method === 'POST' && incoming.path === '/token') return issueAccessToken(incoming, service)
    const project = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(incoming.path)?.[1]
    if (incoming.method !== 'POST' || project === undefined) return fcmError(404, 'NOT_FOUND', 'no such method')
    if (!service.accessTokens.has(bearer(incoming.headers) ?? '')) return fcmError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')
    if (project !== account.project_id) return fcmError(403, 'PERMISSION_DENIED', 'not this project', 'SENDER_ID_MISMATCH')
    const next = service.next(answer503)
    if (next === 'stall') return next
    if (next) {
      const [status, errorCode] = FCM_FAULTS[next.status] ?? ['UNKNOWN', 'UNSPECIFIED_ERROR']
      return { ...fcmError(next.status, status, 'injected', next.reason ?? errorCode), headers: retryAfterHeader(next) }
    }
    return acceptFcm(incoming.body, service)
  })
  account.token_uri = `${server.url}/token`
  service.listening(server.url, server.close)
  return service
}

async function issueAccessToken(incoming: Incoming, service: LocalFcmService): Promise<Reply> {
  const refusal = await verifyAssertion(new URLSearchParams(incoming.body.toString()), service.serviceAccount, service.publicKey)
  if (refusal) return { status: 400, body: { error: 'invalid_grant', error_description: refusal } }
  const accessToken = `ya29.test-${randomBytes(24).toString('base64url')}`
  service.accessTokens.add(accessToken)
  service.tokensIssued++
  return { status: 200, body: { access_token: accessToken, expires_in: 3600, token_type: 'Bearer' } }
}

function acceptFcm(body: Buffer, service: LocalFcmService): Reply {
  let message: Record<string, unknown> | undefined
  try {
    message = (JSON.parse(body.toString('utf8')) as { message?: Record<string, unknown> }).message
  } catch {
    return fcmError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.')
  }
  const token = message?.token
  if (!message || typeof token !== 'string' || !/^[\w:-]{20,}$/.test(token)) {
    const violation = { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.token', description: 'Invalid registration token' }] }
    return fcmError(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT', [violation])
  }
  if (service.answersGone(token)) return fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED')
  service.received.push({ token, message })
  return { status: 200, body: { name: `projects/hush-test/messages/${randomUUID()}` } }
}

function fcmError(code: number, status: string, message: string, errorCode?: string, more: unknown[] = []): Reply {
  const details = [...(errorCode ? [{ '@type': FCM_ERROR, errorCode }] : []), ...more]
  return { status: code, body: { error: { code, message, status, details } } }
}

/** Google's JWT-bearer grant: RS256 by the account's key, aud the token endpoint, the FCM scope, at most an hour. */
async function verifyAssertion(form: URLSearchParams, account: FcmServiceAccountKey, publicKey: KeyObject): Promise<string | undefined> {
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return 'unsupported grant_type'
  try {
    const { payload } = await jwtVerify(form.get('assertion') ?? '', publicKey, {
      algorithms: ['RS256'],
      issuer: account.client_email,
      audience: account.token_uri,
      requiredClaims: ['iat', 'exp'],
    })
    if (typeof payload.scope !== 'string' || !payload.scope.split(' ').includes(SCOPE)) return 'scope lacks firebase.messaging'
    if ((payload.exp ?? 0) - (payload.iat ?? 0) > 3600) return 'assertion lives longer than an hour'
    return undefined
  } catch (error) {
    return `Invalid JWT Signature or claims: ${(error as Error).message}`
  }
}

const newKeyPair = promisify(generateKeyPair)
