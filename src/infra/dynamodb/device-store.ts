import { TransactionCanceledException } from '@aws-sdk/client-dynamodb'
import { AccessPattern } from 'dynamodb-toolbox/entity/actions/accessPattern'
import { DeleteItemCommand } from 'dynamodb-toolbox/entity/actions/delete'
import { GetItemCommand } from 'dynamodb-toolbox/entity/actions/get'
import { DeleteTransaction } from 'dynamodb-toolbox/entity/actions/transactDelete'
import { PutTransaction } from 'dynamodb-toolbox/entity/actions/transactPut'
import { execute as executeTransaction } from 'dynamodb-toolbox/entity/actions/transactWrite'
import type { FormattedItem } from 'dynamodb-toolbox/entity'
import { item } from 'dynamodb-toolbox/schema/item'
import { string } from 'dynamodb-toolbox/schema/string'
import type { DeviceRecord, DeviceStore, PushAddress } from '../../domain/ports.js'
import { isConditionalCheckFailure } from './client.js'
import { keyOf, type HushEntities } from './entities.js'

/** Registrations of one token that race (two accounts at once) settle within this many tries. */
const SAVE_ATTEMPTS = 5

type DeviceItem = FormattedItem<HushEntities['Device']>

/**
 * Devices in the user's partition (USER#<userId> / DEVICE#<deviceId>), with an owner item per
 * device (DEVICE#<deviceId> / OWNER) so that a token belongs to one user at a time. Both expire by
 * TTL when the device is not registered again.
 */
export class DynamoDeviceStore implements DeviceStore {
  private readonly devicesOfUser

  constructor(private readonly entities: HushEntities) {
    const { Device } = entities
    this.devicesOfUser = new AccessPattern(Device).schema(item({ userId: string() })).pattern(({ userId }) => {
      const { pk, sk } = keyOf(Device, { userId, deviceId: '' })
      return { partition: pk, range: { beginsWith: sk } }
    })
  }

  async saveDevice(device: DeviceRecord, expiresAt: number): Promise<DeviceRecord> {
    const { Device, DeviceOwner } = this.entities
    const ttl = Math.ceil(expiresAt / 1000)
    for (let attempt = 1; ; attempt++) {
      const { Item: owner } = await DeviceOwner.build(GetItemCommand).key({ deviceId: device.deviceId }).options({ consistent: true }).send()
      const kept = owner?.userId === device.userId ? { ...device, createdAt: owner.createdAt } : device
      try {
        await executeTransaction(
          DeviceOwner.build(PutTransaction)
            .item({ deviceId: device.deviceId, userId: device.userId, createdAt: kept.createdAt, ttl })
            .options({ condition: owner ? { attr: 'userId', eq: owner.userId } : { attr: 'userId', exists: false } }),
          Device.build(PutTransaction).item({ ...toItem(kept), ttl }),
          // Moving: the token leaves the account that held it.
          ...(owner && owner.userId !== device.userId ? [Device.build(DeleteTransaction).key({ userId: owner.userId, deviceId: device.deviceId })] : []),
        )
        return kept
      } catch (error) {
        if (!(error instanceof TransactionCanceledException) || attempt >= SAVE_ATTEMPTS) throw error
      }
    }
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    const { Items = [] } = await this.devicesOfUser.query({ userId }).send()
    // DynamoDB deletes expired items late (up to days): expired is gone.
    const nowSeconds = Date.now() / 1000
    return Items.filter((stored) => stored.ttl > nowSeconds).map(fromItem)
  }

  async removeDevice(userId: string, deviceId: string): Promise<boolean> {
    const { Device, DeviceOwner } = this.entities
    const { Attributes } = await Device.build(DeleteItemCommand).key({ userId, deviceId }).options({ returnValues: 'ALL_OLD' }).send()
    try {
      await DeviceOwner.build(DeleteItemCommand).key({ deviceId }).options({ condition: { attr: 'userId', eq: userId } }).send()
    } catch (error) {
      // The token has moved to another account since: its owner item is that account's.
      if (!isConditionalCheckFailure(error)) throw error
    }
    return Attributes !== undefined
  }
}

function toItem(device: DeviceRecord) {
  const { address } = device
  const common = { userId: device.userId, deviceId: device.deviceId, platform: address.platform, createdAt: device.createdAt, seenAt: device.seenAt }
  return address.platform === 'WEB_PUSH'
    ? { ...common, endpoint: address.endpoint, p256dh: address.p256dh, auth: address.auth }
    : { ...common, token: address.token }
}

function fromItem(stored: DeviceItem): DeviceRecord {
  const address: PushAddress =
    stored.platform === 'WEB_PUSH'
      ? { platform: 'WEB_PUSH', endpoint: stored.endpoint ?? '', p256dh: stored.p256dh ?? '', auth: stored.auth ?? '' }
      : { platform: stored.platform, token: stored.token ?? '' }
  return { deviceId: stored.deviceId, userId: stored.userId, address, createdAt: stored.createdAt, seenAt: stored.seenAt }
}
