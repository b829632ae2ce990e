import type { IncomingHttpHeaders } from 'node:http'
import { rootCertificates } from 'node:tls'
import { importPKCS8, SignJWT } from 'jose'
import { Agent, request } from 'undici'
import type { PushAddress, PushMessage, PushOutcome, PushProvider } from '../../domain/ports.js'
import { retryAfterMs } from './retry-after.js'

/** The fields Hush reads from a Firebase service account's JSON key file. */
export interface FcmServiceAccount {
  /** The Firebase project the app's tokens belong to. */
  project_id: string
  /** The service account, the assertion's `iss`. */
  client_email: string
  /** Its RSA key (PKCS#8 PEM) that signs the assertion. */
  private_key: string
  /** The key's id, sent as the assertion's `kid` so Google need not try every key of the account. */
  private_key_id?: string
  /** The OAuth 2.0 token endpoint; default https://oauth2.googleapis.com/token (the tests point it at theirs). */
  token_uri?: string
}

export interface FcmOptions {
  /** The service account that may send for the project (role Firebase Cloud Messaging API Admin). */
  serviceAccount: FcmServiceAccount
  /** Where the FCM HTTP v1 API is. Default https://fcm.googleapis.com. */
  endpoint?: string
  /** Extra PEM CA(s) to trust besides the usual roots, for both the API and the token endpoint. */
  ca?: string | undefined
  /** How long one request (a send or a token fetch) may take before it counts as `retry`. Default 10 s. */
  timeoutMs?: number
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

/** The token endpoint refused the service account: the outcome every send gets meanwhile. */
class NoAccessToken extends Error {
  constructor(readonly outcome: PushOutcome) {
    super(outcome.status === 'sent' ? 'sent' : outcome.reason)
  }
}

/**
 * Pushes to Android (and FCM-registered iOS) apps through the FCM HTTP v1 API, with an OAuth 2.0
 * access token from the service account's JWT-bearer grant (RFC 7523), cached until 5 minutes
 * before it expires and fetched again when FCM answers 401.
 *
 * Not google-auth-library: its JWT client (v10 and v11 alike, gtoken) hard-codes
 * https://oauth2.googleapis.com/token as both the request URL and the assertion's audience and
 * ignores the key file's token_uri, so neither a private gateway nor the tests' token server can be
 * used without rewriting its requests. The grant is one jose-signed JWT and one form POST; undici
 * carries both requests, with the extra CA and a per-request deadline.
 */
export class FcmProvider implements PushProvider {
  readonly platform = 'FCM' as const
  private readonly dispatcher: Agent
  private readonly sendUrl: string
  private readonly tokenUri: string
  private readonly timeoutMs: number
  private cached: { value: string; renewAt: number } | undefined
  private fetching: Promise<string> | undefined

  constructor(private readonly options: FcmOptions) {
    // `ca` replaces Node's roots: keep them, or Google's certificates would stop being trusted.
    this.dispatcher = new Agent(options.ca === undefined ? {} : { connect: { ca: [...rootCertificates, options.ca] } })
    const endpoint = (options.endpoint ?? 'https://fcm.googleapis.com').replace(/\/+$/, '')
    this.sendUrl = `${endpoint}/v1/projects/${encodeURIComponent(options.serviceAccount.project_id)}/messages:send`
    this.tokenUri = options.serviceAccount.token_uri ?? 'https://oauth2.googleapis.com/token'
    this.timeoutMs = options.timeoutMs ?? 10_000
  }

  async send(address: PushAddress, message: PushMessage): Promise<PushOutcome> {
    if (address.platform !== 'FCM') return { status: 'rejected', reason: `not an FCM address (${address.platform})` }
    const body = JSON.stringify(fcmMessage(address.token, message))
    try {
      const accessToken = await this.accessToken()
      let answer = await this.sendWith(accessToken, body)
      if (answer.status === 401) {
        // The token was revoked or expired early: one fresh token, then let the worker retry.
        this.forget(accessToken)
        answer = await this.sendWith(await this.accessToken(), body)
      }
      if (answer.status === 401) return { status: 'retry', reason: `HTTP 401 with a fresh access token: ${answer.text.slice(0, 200)}` }
      return outcomeOf(answer)
    } catch (error) {
      if (error instanceof NoAccessToken) return error.outcome
      return { status: 'retry', reason: `no answer: ${(error as Error).message}` }
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close()
  }

  private sendWith(accessToken: string, body: string): Promise<Answer> {
    const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json; charset=utf-8' }
    return this.post(this.sendUrl, headers, body)
  }

  /** The cached access token, or a new one; concurrent sends share one fetch. */
  private async accessToken(): Promise<string> {
    if (this.cached && Date.now() < this.cached.renewAt) return this.cached.value
    this.fetching ??= this.fetchAccessToken().finally(() => (this.fetching = undefined))
    return this.fetching
  }

  /** Drops `accessToken` unless another send has already replaced it. */
  private forget(accessToken: string): void {
    if (this.cached?.value === accessToken) this.cached = undefined
  }

  private async fetchAccessToken(): Promise<string> {
    const assertion = await this.assertion()
    const form = new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString()
    const answer = await this.post(this.tokenUri, { 'content-type': 'application/x-www-form-urlencoded' }, form)
    const reason = `token endpoint HTTP ${answer.status}: ${answer.text.slice(0, 200)}`
    if (answer.status === 429 || answer.status >= 500) {
      throw new NoAccessToken({ status: 'retry', reason, afterMs: retryAfterMs(answer.headers['retry-after']) })
    }
    // 400 invalid_grant and the like: a deleted key or account, a wrong clock. Not fixed by retrying.
    if (answer.status !== 200) throw new NoAccessToken({ status: 'rejected', reason })
    const { access_token: value, expires_in: expiresIn } = JSON.parse(answer.text) as { access_token?: string; expires_in?: number }
    if (typeof value !== 'string') throw new NoAccessToken({ status: 'retry', reason: 'token endpoint gave no access_token' })
    const lifetimeMs = (expiresIn ?? 3600) * 1000
    this.cached = { value, renewAt: Date.now() + Math.max(lifetimeMs - 5 * 60_000, lifetimeMs / 2) }
    return value
  }

  /** The signed JWT the service account trades for an access token (Google's OAuth 2.0 for service accounts). */
  private async assertion(): Promise<string> {
    const account = this.options.serviceAccount
    let key: CryptoKey
    try {
      key = await importPKCS8(account.private_key, 'RS256')
    } catch (error) {
      throw new NoAccessToken({ status: 'rejected', reason: `unreadable service account key: ${(error as Error).message}` })
    }
    return new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(account.private_key_id ? { kid: account.private_key_id } : {}) })
      .setIssuer(account.client_email)
      .setAudience(this.tokenUri)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key)
  }

  private async post(url: string, headers: Record<string, string>, body: string): Promise<Answer> {
    const signal = AbortSignal.timeout(this.timeoutMs)
    const response = await request(url, { method: 'POST', headers, body, dispatcher: this.dispatcher, signal })
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() }
  }
}

function fcmMessage(token: string, message: PushMessage) {
  const { collapseKey } = message
  return {
    message: {
      token,
      notification: { title: message.title, body: message.body },
      // FCM data values must be strings.
      data: { kind: message.kind, chatId: message.chatId, unread: String(message.unread) },
      android: {
        collapse_key: collapseKey,
        ttl: `${message.ttlSeconds}s`,
        priority: message.kind === 'message' ? 'HIGH' : 'NORMAL',
        notification: { tag: collapseKey },
      },
      apns: { headers: { 'apns-collapse-id': collapseKey }, payload: { aps: { 'thread-id': collapseKey } } },
    },
  }
}

interface FcmErrorBody {
  error?: {
    status?: string
    details?: { '@type'?: string; errorCode?: string; fieldViolations?: { field?: string }[] }[]
  }
}

function outcomeOf(answer: Answer): PushOutcome {
  const { status } = answer
  if (status === 200) return { status: 'sent' }
  const reason = `HTTP ${status}: ${answer.text.slice(0, 200)}`
  const details = parseError(answer.text)?.details ?? []
  const errorCode = details.find((detail) => detail['@type']?.endsWith('google.firebase.fcm.v1.FcmError'))?.errorCode
  // The app was uninstalled or the token expired; or the token belongs to another project. A 404
  // without UNREGISTERED is a wrong endpoint or project, not a dead token: no device goes for it.
  if (errorCode === 'UNREGISTERED' || errorCode === 'SENDER_ID_MISMATCH') return { status: 'gone', reason }
  if (status === 400 && details.some((detail) => detail.fieldViolations?.some((v) => v.field === 'message.token'))) {
    return { status: 'gone', reason } // INVALID_ARGUMENT naming the token: not a token FCM ever issued
  }
  // 429 QUOTA_EXCEEDED, 500 INTERNAL, 503 UNAVAILABLE.
  if (status === 429 || status >= 500) return { status: 'retry', reason, afterMs: retryAfterMs(answer.headers['retry-after']) }
  return { status: 'rejected', reason }
}

function parseError(text: string): FcmErrorBody['error'] {
  try {
    return (JSON.parse(text) as FcmErrorBody).error
  } catch {
    return undefined
  }
}
