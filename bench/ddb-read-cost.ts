/**
 * `node --import tsx bench/ddb-read-cost.ts`: the client's CPU per DynamoDB read, the AWS SDK
 * document client against the lean read path that replaced it for Hush's connect reads
 * (docs/decisions/0004-lean-dynamodb-reads.md), both bare and under Hush's store (dynamodb-toolbox
 * building the request and formatting the item, as a connect's reads run).
 *
 * One DynamoDB Local of its own, one chat item, the chat read that opens every chatEvents stream
 * (GetItem, strongly consistent). Each client sends READS reads, CONCURRENCY at a time; the sides
 * alternate, ROUNDS times, after a warm-up of each; the figure is the median of the rounds of the
 * process's own CPU (user + system) per read. This process runs only the clients: DynamoDB Local's
 * CPU is its own. Writes bench/results/ddb-read-cost.json.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb'
import pino from 'pino'
import { DynamoChatStore } from '../src/infra/dynamodb/chat-store.js'
import { createDynamoClients } from '../src/infra/dynamodb/client.js'
import { createEntities } from '../src/infra/dynamodb/entities.js'
import { launchDynamoDbLocal } from '../src/infra/dynamodb/launcher.js'
import { createHushTable, ensureTable } from '../src/infra/dynamodb/table.js'
import type { ChatParticipant, ChatRecord } from '../src/domain/ports.js'
import { GetItemCommand } from 'dynamodb-toolbox/entity/actions/get'
import { ROOT, runToExit } from './lib/procs.js'

const READS = Number(process.env.READS ?? 3_000)
const CONCURRENCY = 10
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const TABLE = 'hush-read-cost'

type Read = () => Promise<unknown>

async function timed(read: Read, count: number): Promise<{ cpuUs: number; perSecond: number }> {
  let left = count
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) await read()
    }),
  )
  const used = process.cpuUsage(cpu)
  const ms = performance.now() - started
  return { cpuUs: Math.round((used.user + used.system) / count), perSecond: Math.round((count / ms) * 1000) }
}

/** The item key the Chat entity builds for a chat id, for the bare GetItem (never a hand-built string). */
function chatKey(entities: ReturnType<typeof createEntities>, chatId: string): Record<string, unknown> {
  return entities.Chat.build(GetItemCommand).key({ chatId }).params().Key as Record<string, unknown>
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!

async function main(): Promise<void> {
  const dynamodb = await launchDynamoDbLocal({ dataDir: await mkdtemp(path.join(os.tmpdir(), 'hush-read-cost-')), logger: pino({ level: 'warn' }) })
  const hush = createDynamoClients(dynamodb.endpoint, undefined)
  try {
    await ensureTable(hush.client, TABLE)
    const sdk = DynamoDBDocumentClient.from(hush.client, { marshallOptions: { removeUndefinedValues: true } })
    const hushStore = new DynamoChatStore(createEntities(createHushTable(hush.documentClient, TABLE)))
    const sdkStore = new DynamoChatStore(createEntities(createHushTable(sdk, TABLE)))
    const now = Date.now()
    const participant = (userId: string, role: ChatParticipant['role']): ChatParticipant => ({ userId, role, alias: 'Quiet Otter', readSeq: 0, deliveredSeq: 0, unread: 0 })
    const chat: ChatRecord = {
      chatId: 'c_read_cost',
      pairKey: 'k_read_cost',
      generation: 1,
      postId: 'p_read_cost',
      a: participant('u_a', 'AUTHOR'),
      b: participant('u_b', 'COMMENTER'),
      status: 'ACTIVE',
      closedBy: undefined,
      hiddenFrom: undefined,
      createdAt: now,
      lastActivityAt: now,
      expiresAt: now + 86_400_000,
      lastSeq: 0,
    }
    if ((await hushStore.createChat(chat, undefined, 100)) !== 'created' && !(await hushStore.getChat(chat.chatId))) throw new Error('the chat item was not stored')
    const key = chat.chatId
    const rawKey = chatKey(createEntities(createHushTable(sdk, TABLE)), key)
    const sides: Array<{ name: string; read: Read }> = [
      { name: 'store on the AWS SDK document client', read: () => sdkStore.getChat(key) },
      { name: "store on Hush's document client (lean reads)", read: () => hushStore.getChat(key) },
      { name: 'AWS SDK document client, bare GetItem', read: () => sdk.send(new GetCommand({ TableName: TABLE, Key: rawKey, ConsistentRead: true })) },
      { name: "Hush's document client, bare GetItem", read: () => hush.documentClient.send(new GetCommand({ TableName: TABLE, Key: rawKey, ConsistentRead: true })) },
    ]
    for (const { read } of sides) await timed(read, 500)
    const rounds = new Map<string, Array<{ cpuUs: number; perSecond: number }>>(sides.map(({ name }) => [name, []]))
    for (let round = 0; round < ROUNDS; round++) {
      for (const { name, read } of round % 2 === 0 ? sides : [...sides].reverse()) rounds.get(name)!.push(await timed(read, READS))
    }
    const results = sides.map(({ name }) => {
      const runs = rounds.get(name)!
      return { name, cpuUsPerRead: median(runs.map((r) => r.cpuUs)), readsPerSecond: median(runs.map((r) => r.perSecond)), runs }
    })
    const out = { at: new Date().toISOString(), command: 'node --import tsx bench/ddb-read-cost.ts', reads: READS, concurrency: CONCURRENCY, rounds: ROUNDS, node: process.version, results }
    await writeFile(path.join(ROOT, 'bench/results/ddb-read-cost.json'), JSON.stringify(out, null, 2) + '\n')
    for (const r of results) console.info(`${r.name.padEnd(48)} ${String(r.cpuUsPerRead).padStart(5)} µs CPU per read  ${String(r.readsPerSecond).padStart(5)} reads/s  (rounds: ${r.runs.map((x) => x.cpuUs).join(', ')} µs)`)
  } finally {
    hush.destroy()
    await dynamodb.stop()
  }
}

runToExit(main)
