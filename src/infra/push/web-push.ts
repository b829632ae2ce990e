import { createHash } from 'node:crypto'
import { Agent } from 'node:https'
import { rootCertificates } from 'node:tls'
import webpush from 'web-push'
import type { PushAddress, PushMessage, PushOutcome, PushProvider } from '../../domain/ports.js'
import { retryAfterMs } from './retry-after.js'

export interface WebPushOptions {
  /**
   * The application server's VAPID identity (RFC 8292): the P-256 key pair, base64url as
   * `generateVapidKeys()` makes it (the public key is the `applicationServerKey` browsers subscribe
   * with, so changing it orphans every subscription), and a `mailto:` or `https:` contact URL.
   */
  vapid: { publicKey: string; privateKey: string; subject: string }
  /** Extra PEM CA(s) to trust besides the usual roots: the tests' local push service, a private gateway. */
  ca?: string | undefined
  /** How long a push may go without a byte from the push service before it counts as `retry`. Default 10 s. */
  timeoutMs?: number
}

/** A fresh VAPID key pair (base64url), for the embedded default to generate once and keep. */
export function generateVapidKeys(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = webpush.generateVAPIDKeys()
  return { publicKey, privateKey }
}

/** Pushes to browsers through their push services (RFC 8030), payload encrypted per RFC 8291. */
export class WebPushProvider implements PushProvider {
  readonly platform = 'WEB_PUSH' as const
  // One keep-alive agent for every push service: web-push makes plain https requests with it, and
  // close() can then drop its sockets.
  private readonly agent: Agent

  constructor(private readonly options: WebPushOptions) {
    // `ca` replaces Node's roots: keep them, or real push services would stop being trusted.
    this.agent = new Agent({ keepAlive: true, ...(options.ca === undefined ? {} : { ca: [...rootCertificates, options.ca] }) })
  }

  async send(address: PushAddress, message: PushMessage): Promise<PushOutcome> {
    if (address.platform !== 'WEB_PUSH') return { status: 'rejected', reason: `not a Web Push address (${address.platform})` }
    const subscription = { endpoint: address.endpoint, keys: { p256dh: address.p256dh, auth: address.auth } }
    const payload = JSON.stringify({
      kind: message.kind,
      chatId: message.chatId,
      unread: message.unread,
      title: message.title,
      body: message.body,
      tag: message.collapseKey,
    })
    const options: webpush.RequestOptions = {
      vapidDetails: this.options.vapid,
      TTL: message.ttlSeconds,
      topic: topicOf(message.collapseKey),
      urgency: message.kind === 'message' ? 'high' : 'normal',
      contentEncoding: 'aes128gcm',
      agent: this.agent,
      timeout: this.options.timeoutMs ?? 10_000,
    }
    try {
      // Builds (and so checks) the request first: a malformed subscription throws here, and is
      // `rejected`, while anything sendNotification throws later is the network's doing.
      webpush.generateRequestDetails(subscription, payload, options)
    } catch (error) {
      return { status: 'rejected', reason: `bad subscription: ${(error as Error).message}` }
    }
    try {
      await webpush.sendNotification(subscription, payload, options)
      return { status: 'sent' }
    } catch (error) {
      return outcomeOf(error)
    }
  }

  async close(): Promise<void> {
    this.agent.destroy()
  }
}

/**
 * The Topic header (RFC 8030 §5.4) that makes pushes of one chat replace each other at the push
 * service. It allows at most 32 characters of the base64url alphabet, so it is a digest of the key.
 */
export function topicOf(collapseKey: string): string {
  return createHash('sha256').update(collapseKey).digest('base64url').slice(0, 32)
}

function outcomeOf(error: unknown): PushOutcome {
  if (!(error instanceof webpush.WebPushError)) {
    // No answer: refused connection, reset, TLS failure or the socket timeout.
    return { status: 'retry', reason: `no answer: ${(error as Error).message}` }
  }
  const { statusCode: status, headers } = error
  const reason = `HTTP ${status}${error.body ? `: ${error.body.slice(0, 200)}` : ''}`
  // 404 and 410: the subscription expired or the user revoked it (RFC 8030 §7.3).
  if (status === 404 || status === 410) return { status: 'gone', reason }
  if (status === 429 || status >= 500) return { status: 'retry', reason, afterMs: retryAfterMs(headers['retry-after']) }
  // 400, 401/403 (VAPID refused), 413 (payload too large): sending the same again cannot help.
  return { status: 'rejected', reason }
}
