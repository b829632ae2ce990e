import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { DeviceRecord } from '../src/domain/ports.js'
import { createDynamoClients, type DynamoClients } from '../src/infra/dynamodb/client.js'
import { DynamoDeviceStore } from '../src/infra/dynamodb/device-store.js'
import { createEntities } from '../src/infra/dynamodb/entities.js'
import { createHushTable, ensureTable } from '../src/infra/dynamodb/table.js'

const DAY = 86_400_000

describe('devices in DynamoDB', () => {
  let clients: DynamoClients
  let store: DynamoDeviceStore

  beforeAll(async () => {
    clients = createDynamoClients(inject('dynamodbEndpoint'), `devices-${randomUUID().slice(0, 8)}`)
    const table = `hush_devices_${randomUUID().slice(0, 8)}`
    await ensureTable(clients.client, table)
    store = new DynamoDeviceStore(createEntities(createHushTable(clients.documentClient, table)))
  })
  afterAll(() => clients?.destroy())

  const device = (userId: string, deviceId: string, seenAt = Date.now()): DeviceRecord => ({
    deviceId,
    userId,
    address: { platform: 'APNS', token: deviceId.padEnd(64, '0') },
    createdAt: seenAt,
    seenAt,
  })

  it('keeps the first registration time, moves a device between accounts, and hides one past its expiry', async () => {
    const [alice, bob] = [`u_${randomUUID()}`, `u_${randomUUID()}`]
    const first = await store.saveDevice(device(alice, 'd1', Date.now() - DAY), Date.now() + 60 * DAY)
    const again = await store.saveDevice(device(alice, 'd1'), Date.now() + 60 * DAY)
    expect(again.createdAt).toBe(first.createdAt)
    await store.saveDevice(device(alice, 'd2'), Date.now() - 1_000)
    expect((await store.listDevices(alice)).map((d) => d.deviceId)).toEqual(['d1'])

    await store.saveDevice(device(bob, 'd1'), Date.now() + 60 * DAY)
    expect(await store.listDevices(alice)).toEqual([])
    expect((await store.listDevices(bob)).map((d) => [d.deviceId, d.address])).toEqual([['d1', { platform: 'APNS', token: 'd1'.padEnd(64, '0') }]])
    // Alice no longer holds it: her unregister changes nothing of Bob's.
    expect(await store.removeDevice(alice, 'd1')).toBe(false)
    expect(await store.listDevices(bob)).toHaveLength(1)
    expect(await store.removeDevice(bob, 'd1')).toBe(true)
    expect(await store.listDevices(bob)).toEqual([])
  })

  it('settles concurrent registrations of one token on several accounts on exactly one of them', async () => {
    const users = Array.from({ length: 4 }, () => `u_${randomUUID()}`)
    await Promise.all(users.map((userId) => store.saveDevice(device(userId, 'shared'), Date.now() + DAY)))
    const holders = (await Promise.all(users.map((userId) => store.listDevices(userId)))).filter((list) => list.length > 0)
    expect(holders).toHaveLength(1)
  })
})
