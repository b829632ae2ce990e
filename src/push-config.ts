import type { Reader } from './env-reader.js'

/** The push settings of config.ts (README, "Push notifications"), read by the same Reader. */

/** Pushes to offline users' devices (README, "Push notifications"). */
export interface PushConfig {
  /** Hosts Web Push may be sent to: `host` (any port), `host:port` or `*.domain`. */
  allowedHosts: string[]
  /** Web Push on; its VAPID keys come from `vapid`, or in the embedded default from DATA_DIR. */
  webPush: boolean
  vapid: { publicKey: string | undefined; privateKey: string | undefined; subject: string }
  /** APNs with token (.p8) auth; undefined: off. */
  apns: { keyFile: string; keyId: string; teamId: string; topic: string; host: string } | undefined
  /** FCM HTTP v1 with a service account's key file; undefined: off. */
  fcm: { serviceAccountFile: string; endpoint: string } | undefined
  /** PEM file of extra CAs trusted for push services (private gateways, tests). */
  caFile: string | undefined
  /** At most one push per user and chat this often; what comes in between goes in one push after it. */
  collapseWindowMs: number
  /** A push job taken by a process that then died is handed to another after this long. */
  claimIdleMs: number
  /** Tries of one push to one device (429s, 5xx, no answer) before it is given up. */
  maxAttempts: number
  /** A device not registered again for this long expires (SPEC: 60 days). */
  deviceTtlDays: number
  /** Devices per user; registering one more drops the one registered longest ago. */
  maxDevicesPerUser: number
}

/** SPEC: by default Web Push goes to the public push services only (Chrome, Firefox, Edge, Safari). */
export const PUBLIC_PUSH_SERVICES = ['fcm.googleapis.com', 'updates.push.services.mozilla.com', '*.notify.windows.com', 'web.push.apple.com']

export function readPush(read: Reader): PushConfig {
  const allowedHosts = read.list('PUSH_ALLOWED_HOSTS')
  for (const entry of allowedHosts) {
    read.require(/^(\*\.)?(\[[0-9a-fA-F:]+\]|[^:\s/@]+)(:\d{1,5})?$/.test(entry), `PUSH_ALLOWED_HOSTS entries must be host, host:port or *.domain (got "${entry}")`)
  }
  const publicKey = read.string('VAPID_PUBLIC_KEY')
  const privateKey = read.string('VAPID_PRIVATE_KEY')
  read.require((publicKey === undefined) === (privateKey === undefined), 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY go together')
  const publicUrl = read.string('PUBLIC_URL')
  const subject = read.string('VAPID_SUBJECT', publicUrl?.startsWith('https:') ? publicUrl : 'mailto:push@localhost')
  read.require(/^(mailto:|https:)/.test(subject), `VAPID_SUBJECT must be a mailto: or https: URL (got "${subject}")`)
  const apnsNames = ['APNS_KEY_FILE', 'APNS_KEY_ID', 'APNS_TEAM_ID', 'APNS_TOPIC'] as const
  const apns = apnsNames.map((name) => read.string(name))
  read.require(apns.every((v) => v === undefined) || apns.every((v) => v !== undefined), `APNs needs all of ${apnsNames.join(', ')}`)
  const [keyFile, keyId, teamId, topic] = apns
  const serviceAccountFile = read.string('FCM_SERVICE_ACCOUNT_FILE')
  return {
    allowedHosts: allowedHosts.length > 0 ? allowedHosts : PUBLIC_PUSH_SERVICES,
    webPush: read.bool('WEB_PUSH', true),
    vapid: { publicKey, privateKey, subject },
    apns:
      keyFile && keyId && teamId && topic
        ? { keyFile, keyId, teamId, topic, host: read.url('APNS_HOST', ['https:']) ?? 'https://api.push.apple.com' }
        : undefined,
    fcm: serviceAccountFile ? { serviceAccountFile, endpoint: read.url('FCM_ENDPOINT', ['https:']) ?? 'https://fcm.googleapis.com' } : undefined,
    caFile: read.string('PUSH_CA_FILE'),
    collapseWindowMs: read.int('PUSH_COLLAPSE_MS', 5_000, { min: 100 }),
    claimIdleMs: read.int('PUSH_CLAIM_IDLE_MS', 30_000, { min: 500 }),
    maxAttempts: read.int('PUSH_MAX_ATTEMPTS', 8, { min: 1, max: 50 }),
    deviceTtlDays: read.int('DEVICE_TTL_DAYS', 60, { min: 1 }),
    maxDevicesPerUser: read.int('MAX_DEVICES_PER_USER', 10, { min: 1, max: 100 }),
  }
}
