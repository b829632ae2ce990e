/**
 * `npm run bench:capacity`: what one chat user costs the backing services, counted, not timed.
 *
 * Two Hush processes share one Redis (a redis-server of this run's own, so INFO commandstats is
 * this run's alone) and DynamoDB Local behind a metering proxy (bench/lib/ddb-meter.ts: requests
 * and capacity units by AWS's rules). Every pair of users has one user on each process, so every
 * event crosses processes, as it does at scale. Phases, each metered on its own:
 *   connect    each user opens graphql-ws with `notifications` + `chatEvents` (the app at rest);
 *   typing     setTyping true/false, each seen by the peer;
 *   messages   a conversation in which both sides read everything: send, the peer's live
 *              delivery (delivered receipt) and its markRead, each seen by the sender;
 *   idle       everything connected, nothing sent: the background (presence heartbeats, stream
 *              polls) per process and second, taken off the CPU of the phases after it;
 *   reconnect  every socket dropped, then back with `afterSeq` (a deploy or a host failure).
 * It writes bench/results/capacity.json and prints the per-unit figures and the capacity plan
 * (bench/lib/capacity-plan.ts); `-- --write-doc` also puts them into docs/capacity.md.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import pino from 'pino'
import { launchDynamoDbLocal } from '../src/infra/dynamodb/launcher.js'
import { collect, mustRequest, signUp, wsClient, type Collector, type TestUser } from '../test/support/client.js'
import { freePort, spawnServer, within } from '../test/support/process.js'
import {
  ChatEventsDocument,
  CreatePostDocument,
  MarkReadDocument,
  NotificationsDocument,
  SendMessageDocument,
  SetTypingDocument,
  StartChatDocument,
  type ChatEventsSubscription,
} from '../test/generated/graphql.js'
import { capacityPlan, type CapacityMeasured, type PhaseCost } from './lib/capacity-plan.js'
import { processCpuMs } from './lib/cpu.js'
import { meterDelta, startDdbMeter, type MeterSnapshot } from './lib/ddb-meter.js'
import { ROOT, startOwnRedis, whenReady } from './lib/procs.js'

const PAIRS = Number(process.env.CAPACITY_PAIRS ?? 100)
const ROUNDS = Number(process.env.CAPACITY_ROUNDS ?? 10)
const IDLE_MS = 10_000

type ChatEvent = ChatEventsSubscription['chatEvents']

interface Side {
  user: TestUser
  url: string
  events?: Collector<ChatEventsSubscription>
  stop?: () => void
}

interface Pair {
  chatId: string
  a: Side
  b: Side
}

async function commandCalls(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats')
  const calls: Record<string, number> = {}
  for (const match of info.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) calls[match[1]!] = Number(match[2])
  return calls
}

function callDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [command, calls] of Object.entries(after)) {
    // INFO is this script's own reading.
    if (command === 'info') continue
    const delta = calls - (before[command] ?? 0)
    if (delta > 0) out[command] = delta
  }
  return out
}

interface Meters {
  ddb: { snapshot(): MeterSnapshot }
  redis: Redis
  /** The Hush processes, whose CPU is counted. */
  pids: number[]
}

/**
 * Runs `work` and returns what it cost DynamoDB, Redis and the Hush processes' CPU. The CPU the
 * processes spend at rest (timers, heartbeats, stream polls: `idleCpuMsPerS`, measured first) is
 * taken off, so what remains is the work's own.
 */
async function metered(meters: Meters, work: () => Promise<void>, idleCpuMsPerS = 0): Promise<PhaseCost> {
  const ddbBefore = meters.ddb.snapshot()
  const redisBefore = await commandCalls(meters.redis)
  const cpuBefore = await processCpuMs(meters.pids)
  const startedAt = performance.now()
  await work()
  // Late receipts and delivered marks land within a few hundred ms of the last event.
  await new Promise((resolve) => setTimeout(resolve, 1_500))
  const seconds = (performance.now() - startedAt) / 1000
  return {
    dynamodb: meterDelta(ddbBefore, meters.ddb.snapshot()),
    redis: callDelta(redisBefore, await commandCalls(meters.redis)),
    hushCpuMs: Math.max(0, (await processCpuMs(meters.pids)) - cpuBefore - idleCpuMsPerS * seconds),
  }
}

function subscribe(side: Side, chatId: string, afterSeq?: number): void {
  const client = wsClient(side.url, side.user.token)
  const notifications = collect(client, NotificationsDocument)
  side.events = collect(client, ChatEventsDocument, { chatId, afterSeq })
  side.stop = () => {
    notifications.stop()
    side.events?.stop()
    void client.dispose()
  }
}

const has = (side: Side, test: (event: ChatEvent) => boolean) => side.events!.until((items) => items.some((item) => test(item.chatEvents)), 20_000)
const presentPeer = (side: Side) => has(side, (event) => event.__typename === 'PresenceEvent' && event.peerPresent)

async function setUp(urls: [string, string]): Promise<Pair[]> {
  return Promise.all(
    Array.from({ length: PAIRS }, async () => {
      const [a, b] = await Promise.all([signUp(urls[0]), signUp(urls[1])])
      const { createPost } = await mustRequest(urls[0], CreatePostDocument, { body: 'capacity bench' }, a.token)
      const { startChat } = await mustRequest(urls[1], StartChatDocument, { postId: createPost.id }, b.token)
      return { chatId: startChat.id, a: { user: a, url: urls[0] }, b: { user: b, url: urls[1] } }
    }),
  )
}

async function connectAll(pairs: Pair[], afterSeq = new Map<string, number>()): Promise<void> {
  for (const pair of pairs) for (const side of [pair.a, pair.b]) subscribe(side, pair.chatId, afterSeq.get(pair.chatId))
  await Promise.all(pairs.flatMap((pair) => [presentPeer(pair.a), presentPeer(pair.b)]))
}

const stopAll = (pairs: Pair[]) => {
  for (const pair of pairs) for (const side of [pair.a, pair.b]) side.stop?.()
}

async function typing(pairs: Pair[], rounds = ROUNDS): Promise<number> {
  let events = 0
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      pairs.map(async (pair) => {
        const [from, to] = round % 2 === 0 ? [pair.a, pair.b] : [pair.b, pair.a]
        for (const value of [true, false]) {
          const seen = to.events!.items.length
          await mustRequest(from.url, SetTypingDocument, { chatId: pair.chatId, typing: value }, from.user.token)
          await to.events!.until((items) => items.slice(seen).some((item) => item.chatEvents.__typename === 'TypingEvent'), 20_000)
          events++
        }
      }),
    )
  }
  return events
}

async function conversation(pairs: Pair[], rounds = ROUNDS): Promise<number> {
  let messages = 0
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      pairs.map(async (pair) => {
        const [from, to] = round % 2 === 0 ? [pair.a, pair.b] : [pair.b, pair.a]
        const { sendMessage } = await mustRequest(from.url, SendMessageDocument, { chatId: pair.chatId, clientMessageId: `r${round}`, body: `message ${round}` }, from.user.token)
        await has(to, (event) => event.__typename === 'MessageEvent' && event.message.seq === sendMessage.seq)
        await mustRequest(to.url, MarkReadDocument, { chatId: pair.chatId, seq: sendMessage.seq }, to.user.token)
        await has(from, (event) => event.__typename === 'ReceiptEvent' && event.peerReadSeq === sendMessage.seq)
        messages++
      }),
    )
  }
  return messages
}

const DOC = path.join(ROOT, 'docs/capacity.md')
const BEGIN = '<!-- capacity:begin (npm run bench:capacity -- --write-doc) -->'
const END = '<!-- capacity:end -->'

/** Replaces the measured block of docs/capacity.md with this run's. */
async function writeIntoDoc(plan: string): Promise<void> {
  const doc = await readFile(DOC, 'utf8')
  const start = doc.indexOf(BEGIN)
  const end = doc.indexOf(END)
  if (start < 0 || end < start) throw new Error(`docs/capacity.md has no ${BEGIN} … ${END} block`)
  await writeFile(DOC, `${doc.slice(0, start + BEGIN.length)}\n${plan}\n${doc.slice(end)}`)
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-capacity-'))
  const logger = pino({ level: 'warn' })
  const dynamodb = await launchDynamoDbLocal({ dataDir, logger })
  const meter = await startDdbMeter(dynamodb.endpoint)
  const redisServer = await startOwnRedis()
  const redis = new Redis(redisServer.url)
  const env = {
    LOG_LEVEL: 'warn',
    DYNAMODB_ENDPOINT: meter.endpoint,
    DYNAMODB_TABLE: 'hush-capacity',
    REDIS_URL: redisServer.url,
    JWT_SECRET: 'capacity-bench-secret-at-least-32-bytes!',
    ID_SECRET: 'capacity-bench-id-secret-at-least-32-bytes',
    HOST: '127.0.0.1',
    ...Object.fromEntries(['SIGNUP', 'START_CHAT', 'SEND', 'MARK_READ', 'CREATE_POST'].map((name) => [`RATE_LIMIT_${name}`, '100000/s burst 100000'])),
  }
  const ports = [await freePort(), await freePort()]
  const servers = ports.map((port, i) => spawnServer({ ...env, PORT: String(port), DATA_DIR: path.join(dataDir, `h${i}`) }, 'dist'))
  try {
    const urls = ports.map((port) => `http://127.0.0.1:${port}`) as [string, string]
    await within(Promise.all(urls.map(whenReady)), 60_000, 'Hush to answer /readyz').catch((error: Error) => {
      throw new Error(`${error.message}\n${servers.map((server) => server.output()).join('\n')}`)
    })
    const meters: Meters = { ddb: meter, redis, pids: servers.map((server) => server.child.pid!) }
    // A first round of every kind of work, unmetered: V8 compiles the paths, DynamoDB Local and
    // the connections warm up, so the metered rounds cost what a long-running process pays.
    const warm = await setUp(urls)
    await connectAll(warm)
    await typing(warm, 2)
    await conversation(warm, 2)
    stopAll(warm)
    const rest = () => new Promise<void>((resolve) => setTimeout(resolve, IDLE_MS))
    const empty = await metered(meters, rest)
    const emptyCpuMsPerS = empty.hushCpuMs / (IDLE_MS / 1000)
    let pairs: Pair[] = []
    const setup = await metered(meters, async () => void (pairs = await setUp(urls)), emptyCpuMsPerS)
    const connect = await metered(meters, () => connectAll(pairs), emptyCpuMsPerS)
    // At rest with every user connected: what the rest of the phases run on top of.
    const idle = await metered(meters, rest)
    const idleCpuMsPerS = idle.hushCpuMs / (IDLE_MS / 1000)
    let typingEvents = 0
    const typingCost = await metered(meters, async () => void (typingEvents = await typing(pairs)), idleCpuMsPerS)
    let messages = 0
    const messageCost = await metered(meters, async () => void (messages = await conversation(pairs)), idleCpuMsPerS)
    stopAll(pairs)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const lastSeq = new Map(pairs.map((pair) => [pair.chatId, ROUNDS] as const))
    const reconnect = await metered(meters, () => connectAll(pairs, lastSeq), emptyCpuMsPerS)
    stopAll(pairs)

    const measured: CapacityMeasured = {
      at: new Date().toISOString(),
      command: 'npm run bench:capacity',
      pairs: PAIRS,
      rounds: ROUNDS,
      processes: 2,
      chatStart: { count: PAIRS, ...setup },
      connect: { count: 2 * PAIRS, ...connect },
      typing: { count: typingEvents, ...typingCost },
      message: { count: messages, ...messageCost },
      empty: { seconds: IDLE_MS / 1000, ...empty },
      idle: { seconds: IDLE_MS / 1000, connections: 2 * PAIRS, ...idle },
      reconnect: { count: 2 * PAIRS, ...reconnect },
    }
    await writeFile(path.join(ROOT, 'bench/results/capacity.json'), JSON.stringify(measured, null, 2) + '\n')
    const plan = capacityPlan(measured)
    console.log(plan)
    if (process.argv.includes('--write-doc')) await writeIntoDoc(plan)
  } finally {
    for (const server of servers) server.child.kill('SIGKILL')
    redis.disconnect()
    redisServer.stop()
    await meter.close()
    await dynamodb.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

await main()
