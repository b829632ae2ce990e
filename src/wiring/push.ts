import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { usesEmbeddedDynamoDb, type Config } from '../config.js'
import { systemClock, type DevicePlatform, type PushProvider, type PushReport } from '../domain/ports.js'
import { DeviceService } from '../domain/push/devices.js'
import { OnlineTracker } from '../domain/push/online.js'
import { PushHostAllowList } from '../domain/push/push-hosts.js'
import { PushNotifier } from '../domain/push/push-notifier.js'
import { PushWorker } from '../domain/push/push-worker.js'
import { RateLimits } from '../domain/rate-limits.js'
import { ApnsProvider } from '../infra/push/apns.js'
import { FcmProvider } from '../infra/push/fcm.js'
import { generateVapidKeys, WebPushProvider } from '../infra/push/web-push.js'
import type { PrometheusMetrics } from '../infra/metrics/prometheus.js'
import { loadOrCreateVapidKeys, type Secrets } from '../infra/secrets.js'
import type { Lifecycle } from './lifecycle.js'
import type { Messaging } from './messaging.js'
import type { Storage } from './storage.js'

/** What the rest of the app gets of pushes. */
export interface Push {
  /** For the writers (send, start, close): queues a push decision. */
  notifier: PushNotifier
  /** For the live streams: counts who is online anywhere. */
  online: OnlineTracker
  devices: DeviceService
}

/**
 * The providers that are configured, the device service, and the worker that takes push jobs off
 * the queue on this process (every process takes a share).
 */
export async function openPush(
  parts: { config: Config; storage: Storage; messaging: Messaging; secrets: Secrets; logger: Logger; metrics?: PrometheusMetrics | undefined },
  lifecycle: Lifecycle,
): Promise<Push> {
  const { config, storage, messaging, logger } = parts
  const log = logger.child({ component: 'push' })
  const clock = systemClock
  const settings = config.push
  const { providers, vapidPublicKey } = await openProviders(config, log)
  for (const provider of providers.values()) lifecycle.onStop(() => provider.close())
  const hosts = new PushHostAllowList(settings.allowedHosts)
  const online = new OnlineTracker(messaging.online, clock, config.presenceTtlMs, (listener) => messaging.events.onGap(listener))
  lifecycle.onStop(() => online.close())
  if (providers.size > 0) {
    const worker = new PushWorker({
      chats: storage.chats,
      devices: storage.devices,
      online,
      providers,
      queue: messaging.pushQueue,
      gate: messaging.rateLimiter,
      hosts,
      clock,
      collapseWindowMs: settings.collapseWindowMs,
      maxAttempts: settings.maxAttempts,
      report: (report) => {
        logReport(log, report)
        parts.metrics?.push(report.outcome, report.platform)
      },
    })
    messaging.pushQueue.consume((job) => worker.handle(job))
    // Stops run in reverse: the queue stops taking jobs (and finishes those in hand) before the providers close.
    lifecycle.onStop(() => messaging.pushQueue.close())
  }
  return {
    notifier: new PushNotifier(providers.size > 0 ? messaging.pushQueue : undefined, (error) => log.error({ err: error }, 'could not queue a push')),
    online,
    devices: new DeviceService({
      devices: storage.devices,
      hosts,
      limits: new RateLimits(messaging.rateLimiter, config.limits.rates, (limit) => parts.metrics?.rateLimited(limit)),
      clock,
      idSecret: parts.secrets.idSecret,
      platforms: new Set(providers.keys()),
      vapidPublicKey,
      deviceTtlMs: settings.deviceTtlDays * 86_400_000,
      maxDevicesPerUser: settings.maxDevicesPerUser,
    }),
  }
}

async function openProviders(config: Config, log: Logger): Promise<{ providers: Map<DevicePlatform, PushProvider>; vapidPublicKey: string | undefined }> {
  const settings = config.push
  const ca = settings.caFile === undefined ? undefined : await readFile(settings.caFile, 'utf8')
  const providers = new Map<DevicePlatform, PushProvider>()
  let vapidPublicKey: string | undefined
  if (settings.webPush) {
    const { publicKey, privateKey, subject } = settings.vapid
    // Only the embedded default mints its own keys: the processes of a deployment must share them.
    const keys =
      publicKey && privateKey
        ? { publicKey, privateKey }
        : usesEmbeddedDynamoDb(config)
          ? await loadOrCreateVapidKeys(config.dataDir, generateVapidKeys)
          : undefined
    if (keys) {
      providers.set('WEB_PUSH', new WebPushProvider({ vapid: { ...keys, subject }, ca }))
      vapidPublicKey = keys.publicKey
    } else {
      log.warn('Web Push is off: set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY')
    }
  }
  if (settings.apns) {
    const { keyFile, ...apns } = settings.apns
    providers.set('APNS', new ApnsProvider({ ...apns, key: await readFile(keyFile, 'utf8'), ca }))
  }
  if (settings.fcm) {
    const serviceAccount = JSON.parse(await readFile(settings.fcm.serviceAccountFile, 'utf8')) as ConstructorParameters<typeof FcmProvider>[0]['serviceAccount']
    providers.set('FCM', new FcmProvider({ serviceAccount, endpoint: settings.fcm.endpoint, ca }))
  }
  log.info({ platforms: [...providers.keys()] }, 'push providers')
  return { providers, vapidPublicKey }
}

/** Sent, failed and removed devices at info or above; the many skips and collapses at debug. */
function logReport(log: Logger, report: PushReport): void {
  const level = report.outcome === 'failed' ? 'warn' : report.outcome === 'sent' || report.outcome === 'device-removed' ? 'info' : 'debug'
  log[level](report, `push ${report.outcome}`)
}
