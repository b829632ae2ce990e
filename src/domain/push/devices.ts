import { createHmac } from 'node:crypto'
import { badInput } from '../errors.js'
import type { Clock, DevicePlatform, DeviceStore, PushAddress, Viewer } from '../ports.js'
import type { RateLimits } from '../rate-limits.js'
import type { PushHostAllowList } from './push-hosts.js'

export interface DeviceInput {
  platform: DevicePlatform
  token?: string | null | undefined
  webPush?: { endpoint: string; p256dh: string; auth: string } | null | undefined
}

export interface DeviceView {
  id: string
  platform: DevicePlatform
  createdAt: Date
}

export interface DeviceServiceOptions {
  devices: DeviceStore
  hosts: PushHostAllowList
  limits: RateLimits
  clock: Clock
  /** Key of device ids. */
  idSecret: string
  /** The platforms this server can push to (the providers configured). */
  platforms: ReadonlySet<DevicePlatform>
  /** Browsers subscribe with it; undefined when Web Push is off. */
  vapidPublicKey: string | undefined
  /** A device not registered again for this long expires (SPEC: 60 days). */
  deviceTtlMs: number
  /** Devices one user may hold; registering one more drops the one seen longest ago. */
  maxDevicesPerUser: number
}

const APNS_TOKEN = /^[0-9a-fA-F]{64,200}$/
const FCM_TOKEN = /^[\w:-]{32,4096}$/
const ENDPOINT_MAX = 2_048
const PLATFORM_NAMES: Record<DevicePlatform, string> = { WEB_PUSH: 'Web Push', APNS: 'APNs', FCM: 'FCM' }

/** registerDevice, unregisterDevice and pushSettings: a user's devices for pushes. */
export class DeviceService {
  constructor(private readonly deps: DeviceServiceOptions) {}

  settings(): { vapidPublicKey: string | null } {
    return { vapidPublicKey: this.deps.vapidPublicKey ?? null }
  }

  /**
   * Idempotent: the same token (or subscription endpoint) is always the same device, and
   * registering it again refreshes its expiry; registered by another account, it moves there.
   */
  async register(viewer: Viewer, input: DeviceInput): Promise<DeviceView> {
    const { deps } = this
    const address = this.addressOf(input)
    await deps.limits.take('registerDevice', viewer.userId)
    const now = deps.clock.now()
    const deviceId = createHmac('sha256', deps.idSecret)
      .update(`device\n${address.platform}\n${address.platform === 'WEB_PUSH' ? address.endpoint : address.token}`)
      .digest('base64url')
      .slice(0, 22)
    const saved = await deps.devices.saveDevice({ deviceId, userId: viewer.userId, address, createdAt: now, seenAt: now }, now + deps.deviceTtlMs)
    await this.keepNewest(viewer.userId)
    return { id: saved.deviceId, platform: address.platform, createdAt: new Date(saved.createdAt) }
  }

  /** False when the caller has no such device (never someone else's: ids are per token). */
  unregister(viewer: Viewer, deviceId: string): Promise<boolean> {
    return this.deps.devices.removeDevice(viewer.userId, deviceId)
  }

  private addressOf(input: DeviceInput): PushAddress {
    const { platform } = input
    if (!this.deps.platforms.has(platform)) throw badInput(`${PLATFORM_NAMES[platform]} is not configured on this server.`)
    if (platform === 'WEB_PUSH') {
      const subscription = input.webPush
      if (!subscription || input.token) throw badInput('WEB_PUSH takes webPush (a PushSubscription) and no token.')
      const { endpoint, p256dh, auth } = subscription
      if (endpoint.length > ENDPOINT_MAX || !this.deps.hosts.allows(endpoint)) {
        throw badInput('webPush.endpoint must be an https URL of an allowed push service.')
      }
      if (!isPublicKey(p256dh)) throw badInput('webPush.p256dh must be an uncompressed P-256 public key (base64url, 65 bytes).')
      if (decodedLength(auth) !== 16) throw badInput('webPush.auth must be a 16-byte secret (base64url).')
      return { platform, endpoint, p256dh, auth }
    }
    const { token } = input
    if (!token || input.webPush) throw badInput(`${platform} takes a token and no webPush.`)
    if (!(platform === 'APNS' ? APNS_TOKEN : FCM_TOKEN).test(token)) throw badInput(`token is not a valid ${PLATFORM_NAMES[platform]} token.`)
    return { platform, token }
  }

  /** Bounds a user's fan-out: past the limit, the devices seen longest ago go. */
  private async keepNewest(userId: string): Promise<void> {
    const devices = await this.deps.devices.listDevices(userId)
    const excess = devices.sort((x, y) => y.seenAt - x.seenAt).slice(this.deps.maxDevicesPerUser)
    for (const device of excess) await this.deps.devices.removeDevice(userId, device.deviceId)
  }
}

function decodedLength(base64url: string): number {
  return /^[A-Za-z0-9_-]+={0,2}$/.test(base64url) ? Buffer.from(base64url, 'base64url').length : -1
}

const isPublicKey = (base64url: string) => decodedLength(base64url) === 65 && Buffer.from(base64url, 'base64url')[0] === 4
