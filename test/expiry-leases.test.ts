import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { ChatReclaimer } from '../src/infra/dynamodb/chat-reclaimer.js'
import { DynamoChatStore } from '../src/infra/dynamodb/chat-store.js'
import { createDynamoClients } from '../src/infra/dynamodb/client.js'
import { createEntities } from '../src/infra/dynamodb/entities.js'
import { ExpiryCascade } from '../src/infra/dynamodb/expiry-cascade.js'
import { listShards, openIterator, readPage } from '../src/infra/dynamodb/stream-shards.js'
import { LeaseStore } from '../src/infra/dynamodb/lease-store.js'
import { createHushTable, ensureTable } from '../src/infra/dynamodb/table.js'
import { itemsMentioning, type TableOf } from './support/dynamo.js'
import { sleep, storeChatExpiringIn, until } from './support/expiry.js'
import { ROOT } from './support/process.js'

/** SPEC-level goal of issue 14: a dead holder's shards are read again within 30 s. */
const TAKEOVER_LIMIT_MS = 30_000

/** A cascade whose log lines the test reads. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) })
  const reclaimed = () => lines.filter((line) => line.msg === 'expired chat reclaimed').map((line) => String(line.chatId))
  return { logger, reclaimed }
}

describe('expiry cascade leases (a table of its own, two readers)', () => {
  const endpoint = inject('dynamodbEndpoint')
  const table: TableOf = { dynamodbEndpoint: endpoint, config: { dynamodb: { region: `leases-${randomUUID().slice(0, 8)}`, table: `hush_leases_${randomUUID().slice(0, 8)}` } } }
  const clients = createDynamoClients(endpoint, table.config.dynamodb.region)
  const entities = createEntities(createHushTable(clients.documentClient, table.config.dynamodb.table))
  const store = new DynamoChatStore(entities)
  const leases = new LeaseStore(entities)
  const cascades: ExpiryCascade[] = []

  beforeAll(() => ensureTable(clients.client, table.config.dynamodb.table))
  afterAll(async () => {
    await Promise.allSettled(cascades.map((cascade) => cascade.stop()))
    clients.client.destroy()
    clients.streamsClient.destroy()
  })

  const chatExpiringIn = (ms: number) => storeChatExpiringIn(store, ms)

  /** The sequence number of the stream record of TTL's removal of the chat item (read here as a third reader, briefly). */
  async function removalSequence(chatId: string): Promise<bigint> {
    const { Table } = await clients.client.send(new DescribeTableCommand({ TableName: table.config.dynamodb.table }))
    const streamArn = Table!.LatestStreamArn!
    for (const { shardId } of await listShards(clients.streamsClient, streamArn)) {
      let { iterator } = await openIterator(clients.streamsClient, streamArn, shardId, undefined)
      while (iterator) {
        const { records, next } = await readPage(clients.streamsClient, iterator, 1000)
        const removal = records.find((record) => record.eventName === 'REMOVE' && record.dynamodb?.Keys?.pk?.S === `CHAT#${chatId}` && record.dynamodb.Keys.sk?.S === 'CHAT')
        if (removal) return BigInt(removal.dynamodb!.SequenceNumber!)
        iterator = records.length > 0 ? next : undefined
      }
    }
    throw new Error(`no removal of ${chatId} on the stream`)
  }

  /** What the cascade must delete: every item of the chat but its expiry index entry, which is the backstop's. */
  const leftovers = async (chatId: string) => (await itemsMentioning(table, chatId)).filter((found) => found._et !== 'ExpiryIndex')
  const openShardLeases = async () => (await leases.list()).filter((lease) => lease.kind === 'shard' && !lease.finished)
  const startCascade = async (ownerId: string) => {
    const { logger, reclaimed } = capturingLogger()
    const cascade = new ExpiryCascade({ ...clients, tableName: table.config.dynamodb.table, entities, reclaimer: new ChatReclaimer(entities, logger), logger, ownerId })
    cascades.push(cascade)
    await cascade.start()
    return { cascade, reclaimed }
  }
  /** Every shard lease is `owner`'s, and `others` read none, for `ms`. */
  const onlyReader = async (owner: string, others: ExpiryCascade[], ms: number) => {
    for (const started = Date.now(); Date.now() - started < ms; await sleep(250)) {
      expect((await openShardLeases()).map((lease) => lease.owner)).toEqual((await openShardLeases()).map(() => owner))
      for (const other of others) expect(other.heldShards()).toEqual([])
    }
  }

  it('reads each shard in one process only; a SIGKILLed holder’s shards move within 30 s to a reader that resumes at the checkpoint; a clean stop hands them over at once', { timeout: 300_000 }, async () => {
    const worker = spawn(process.execPath, ['--import', 'tsx', 'test/support/cascade-worker.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DYNAMODB_ENDPOINT: endpoint, DYNAMODB_REGION: table.config.dynamodb.region, DYNAMODB_TABLE: table.config.dynamodb.table, OWNER_ID: 'worker' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let workerLog = ''
    worker.stdout.on('data', (chunk: Buffer) => void (workerLog += chunk.toString()))
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    try {
      await until(async () => {
        const open = await openShardLeases()
        return open.length > 0 && open.every((lease) => lease.owner === 'worker')
      }, 60_000, 'the worker holds every shard')
      const shardCount = (await openShardLeases()).length

      // A second reader joins: with one reader alive holding its fair share, it takes nothing.
      const b = await startCascade('b')
      const first = await chatExpiringIn(2_000)
      await onlyReader('worker', [b.cascade], 8_000)
      // DynamoDB Local's TTL deletes the chat item some seconds after its expiry; the worker reclaims the rest.
      await until(async () => (await leftovers(first.chatId)).length === 0, 120_000, 'the worker reclaims the first chat')
      expect(workerLog).toContain(first.chatId)
      // The worker's heartbeat stores its checkpoint: wait until it covers the first chat's removal.
      const removedAt = await removalSequence(first.chatId)
      await until(async () => (await openShardLeases()).some((lease) => BigInt(lease.checkpoint ?? 0) >= removedAt), 30_000, 'the worker checkpoints past the removal')

      const second = await chatExpiringIn(6_000)
      const live = await chatExpiringIn(3_600_000)
      const liveItems = (await itemsMentioning(table, live.chatId)).length
      worker.kill('SIGKILL')
      await exited
      const takeoverMs = await until(() => b.cascade.heldShards().length === shardCount, 60_000, 'b takes the dead worker’s shards')
      console.info(`takeover after SIGKILL: ${takeoverMs} ms`)
      expect(takeoverMs).toBeLessThan(TAKEOVER_LIMIT_MS)
      await until(async () => (await leftovers(second.chatId)).length === 0, 120_000, 'b reclaims the second chat')
      // b resumed after the worker's checkpoint: the first chat was not handled again.
      expect(b.reclaimed()).toContain(second.chatId)
      expect(b.reclaimed()).not.toContain(first.chatId)
      expect((await itemsMentioning(table, live.chatId)).length).toBe(liveItems)

      // A third reader waits while b lives; b stopping cleanly releases its leases to it.
      const c = await startCascade('c')
      await onlyReader('b', [c.cascade], 6_000)
      await b.cascade.stop()
      const handoverMs = await until(() => c.cascade.heldShards().length === shardCount, 60_000, 'c takes the released shards')
      console.info(`handover after a clean stop: ${handoverMs} ms`)
      expect(handoverMs).toBeLessThan(TAKEOVER_LIMIT_MS)
      expect(b.cascade.heldShards()).toEqual([])
      expect((await openShardLeases()).every((lease) => lease.owner === 'c')).toBe(true)
    } finally {
      worker.kill('SIGKILL')
    }
  })
})
