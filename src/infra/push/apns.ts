import { createHash } from 'node:crypto'
import { rootCertificates } from 'node:tls'
import apn from '@parse/node-apn'
import type { PushAddress, PushMessage, PushOutcome, PushProvider } from '../../domain/ports.js'

export interface ApnsOptions {
  /** The APNs auth key (.p8) from the Apple developer account: its PEM contents, not a path. */
  key: string
  /** The key's 10-character Key ID, sent as the provider token's `kid`. */
  keyId: string
  /** The 10-character Team ID the key belongs to, the provider token's `iss`. */
  teamId: string
  /** The app's bundle id: every push's apns-topic. */
  topic: string
  /**
   * The APNs server. Default https://api.push.apple.com; https://api.sandbox.push.apple.com for
   * development builds of the app; the tests' local server is https://127.0.0.1:<port>.
   */
  host?: string
  /** Extra PEM CA(s) to trust besides the usual roots (the tests' local server). */
  ca?: string | undefined
  /** How long a push may wait for APNs' answer before it counts as `retry`. Default 10 s. */
  timeoutMs?: number
}

type Failure = apn.ResponseFailure

/**
 * Pushes to iOS devices over APNs' HTTP/2 API with token (.p8) authentication, through
 * @parse/node-apn. It keeps one HTTP/2 session, signs the ES256 provider token and reuses it for
 * 55 minutes (Apple: at most an hour, refreshed no more than every 20 minutes), and makes a new one
 * when APNs answers ExpiredProviderToken. It does not pass on Retry-After, so `retry` outcomes
 * carry none (APNs does not document one anyway).
 */
export class ApnsProvider implements PushProvider {
  readonly platform = 'APNS' as const
  private readonly provider: apn.Provider

  constructor(private readonly options: ApnsOptions) {
    const host = new URL(options.host ?? 'https://api.push.apple.com')
    this.provider = new apn.Provider({
      token: { key: options.key, keyId: options.keyId, teamId: options.teamId },
      address: host.hostname,
      port: Number(host.port || 443),
      // `ca` replaces Node's roots: keep them, or Apple's certificate would stop being trusted.
      ...(options.ca === undefined ? {} : { ca: [...rootCertificates, options.ca] }),
      requestTimeout: options.timeoutMs ?? 10_000,
      // No retries inside the library (it would wait in line, ignoring Retry-After): the push worker
      // schedules them from our outcome. A stale token is the one case retried here, in send().
      connectionRetryLimit: 0,
    })
  }

  async send(address: PushAddress, message: PushMessage): Promise<PushOutcome> {
    if (address.platform !== 'APNS') return { status: 'rejected', reason: `not an APNs address (${address.platform})` }
    try {
      let failure = await this.push(address.token, message)
      // node-apn has already made a new provider token on seeing this answer: send once more with it.
      if (failure && reasonOf(failure) === 'ExpiredProviderToken') failure = await this.push(address.token, message)
      return failure ? outcomeOf(failure) : { status: 'sent' }
    } catch (error) {
      return { status: 'retry', reason: `no answer: ${(error as Error).message}` }
    }
  }

  async close(): Promise<void> {
    // shutdown() stops the pings and closes the HTTP/2 session gracefully, but returns no promise, and
    // its callback never runs when the session had already died of an error (Node does not call
    // close()'s callback on a destroyed session). Wait for it a moment: an open session finishes
    // closing on its own once its last push is answered or times out.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000)
      void this.provider.shutdown(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  private async push(token: string, message: PushMessage): Promise<Failure | undefined> {
    const note = new apn.Notification()
    note.topic = this.options.topic
    note.pushType = 'alert'
    note.priority = message.kind === 'message' ? 10 : 5
    note.expiry = Math.floor(Date.now() / 1000) + message.ttlSeconds
    note.collapseId = collapseIdOf(message.collapseKey)
    note.rawPayload = {
      aps: { alert: { title: message.title, body: message.body }, 'thread-id': message.collapseKey, sound: 'default' },
      kind: message.kind,
      chatId: message.chatId,
      unread: message.unread,
    }
    // node-apn puts the token into the path as it is.
    const { failed } = await this.provider.send(note, encodeURIComponent(token))
    return failed[0]
  }
}

/** apns-collapse-id allows 64 bytes: a longer key is replaced by its digest (43 characters). */
function collapseIdOf(collapseKey: string): string {
  return Buffer.byteLength(collapseKey) <= 64 ? collapseKey : createHash('sha256').update(collapseKey).digest('base64url')
}

function reasonOf(failure: Failure): string {
  return failure.response?.reason ?? failure.error?.message ?? 'unknown'
}

function outcomeOf(failure: Failure): PushOutcome {
  const status = failure.status
  const reason = status === undefined ? reasonOf(failure) : `HTTP ${status}: ${reasonOf(failure)}`
  // No status: the stream timed out, was reset, or the connection failed.
  if (status === undefined) return { status: 'retry', reason: `no answer: ${reason}` }
  const apnsReason = reasonOf(failure)
  if (status === 410 || (status === 400 && (apnsReason === 'BadDeviceToken' || apnsReason === 'DeviceTokenNotForTopic'))) {
    return { status: 'gone', reason }
  }
  // 429 TooManyRequests, 500 InternalServerError, 503 ServiceUnavailable / Shutdown, and a token
  // that expired again right after being renewed (a clock problem that may pass).
  if (status === 429 || status >= 500 || apnsReason === 'ExpiredProviderToken') return { status: 'retry', reason }
  return { status: 'rejected', reason }
}
