/**
 * `npm run soak` (not in CI): an hour of steady chat load with churn against one Hush process,
 * to show that nothing grows while users come and go.
 *
 * One Hush process (the build, as `npm start` runs it) on DynamoDB Local and a redis-server of this
 * run's own, with chats that expire SOAK_CHAT_TTL_S (120) after their last message, so chats start,
 * go quiet and are reclaimed by TTL and the expiry cascade all through the run. SOAK_PAIRS (150)
 * lanes each run conversation after conversation: two new accounts, a post, a chat, both sides on
 * graphql-ws with `notifications` + `chatEvents`, a message every 2–5 s preceded by typing, each
 * read by the peer (markRead), for 30–150 s; then both leave (a third of the chats are left
 * explicitly, the rest just go quiet and expire). Every SOAK_SAMPLE_S (60) it samples the
 * process's RSS, V8 heap, event-loop delay (p99) and open sockets from /metrics, and the Redis
 * channels in use. It writes bench/results/soak.json and docs/soak.png, and prints each series'
 * change from the first to the last third of the run after SOAK_WARMUP_MIN (10) minutes.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { print } from 'graphql'
import { Redis } from 'ioredis'
import pino from 'pino'
import { launchDynamoDbLocal } from '../src/infra/dynamodb/launcher.js'
import { mustRequest, signUp, wsClient } from '../test/support/client.js'
import { freePort, spawnServer, within } from '../test/support/process.js'
import {
  ChatEventsDocument,
  CreatePostDocument,
  LeaveChatDocument,
  MarkReadDocument,
  NotificationsDocument,
  SendMessageDocument,
  SetTypingDocument,
  StartChatDocument,
  type ChatEventsSubscription,
} from '../test/generated/graphql.js'
import { drawSoakChart } from './lib/soak-chart.js'
import { ROOT, startOwnRedis, whenReady } from './lib/procs.js'
import { sleep } from './lib/stats.js'

const MINUTES = Number(process.env.SOAK_MINUTES ?? 60)
const PAIRS = Number(process.env.SOAK_PAIRS ?? 150)
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_S ?? 60) * 1000
const CHAT_TTL_S = Number(process.env.SOAK_CHAT_TTL_S ?? 120)
const WARMUP_MIN = Number(process.env.SOAK_WARMUP_MIN ?? 10)

const between = (min: number, max: number) => min + Math.random() * (max - min)

interface Sample {
  minute: number
  rssMb: number
  heapMb: number
  eventLoopP99Ms: number
  sockets: number
  redisChannels: number
  conversations: number
  messages: number
  errors: number
}

const stats = { conversations: 0, messages: 0, typing: 0, reads: 0, left: 0, errors: 0, firstErrors: [] as string[] }

function failed(error: unknown): void {
  stats.errors++
  if (stats.firstErrors.length < 5) stats.firstErrors.push(error instanceof Error ? error.message : String(error))
}

/** Two new users, a chat between them, a conversation of 30–150 s, then both go. */
async function conversation(url: string, until: number): Promise<void> {
  const [a, b] = await Promise.all([signUp(url), signUp(url)])
  const { createPost } = await mustRequest(url, CreatePostDocument, { body: 'soak' }, a.token)
  const { startChat } = await mustRequest(url, StartChatDocument, { postId: createPost.id }, b.token)
  const chatId = startChat.id
  stats.conversations++
  const sides = [a, b].map((user) => {
    const client = wsClient(url, user.token)
    const stops = [
      client.subscribe({ query: print(NotificationsDocument) }, { next: () => {}, error: failed, complete: () => {} }),
      client.subscribe<ChatEventsSubscription>(
        { query: print(ChatEventsDocument), variables: { chatId } },
        {
          next: ({ data }) => {
            const event = data?.chatEvents
            // The peer reads every message as it arrives, as an open app does.
            if (event?.__typename === 'MessageEvent' && !event.message.fromMe) {
              stats.reads++
              mustRequest(url, MarkReadDocument, { chatId, seq: event.message.seq }, user.token).catch(failed)
            }
          },
          error: failed,
          complete: () => {},
        },
      ),
    ]
    return { user, close: () => (stops.forEach((stop) => stop()), client.dispose()) }
  })
  const ends = Math.min(until, Date.now() + between(30_000, 150_000))
  for (let turn = 0; Date.now() < ends; turn++) {
    await sleep(between(2_000, 5_000))
    const from = sides[turn % 2]!.user
    await mustRequest(url, SetTypingDocument, { chatId, typing: true }, from.token)
    stats.typing++
    await sleep(300)
    await mustRequest(url, SendMessageDocument, { chatId, clientMessageId: `m${turn}`, body: `soak message ${turn}` }, from.token)
    stats.messages++
  }
  if (Math.random() < 1 / 3) {
    await mustRequest(url, LeaveChatDocument, { chatId }, a.token)
    stats.left++
  }
  for (const side of sides) await side.close()
}

async function lane(url: string, until: number): Promise<void> {
  // Lanes start spread over the first half minute, so conversations do not end in step.
  await sleep(between(0, 30_000))
  while (Date.now() < until) {
    await conversation(url, until).catch(failed)
    await sleep(between(0, 2_000))
  }
}

/** One value of a Prometheus text exposition (the first series of that name). */
function metric(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)
  if (!match) throw new Error(`/metrics has no ${name}`)
  return Number(match[1])
}

async function sample(url: string, redis: Redis, startedAt: number): Promise<Sample> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const channels = (await redis.call('PUBSUB', 'CHANNELS')) as string[]
  return {
    minute: Math.round((Date.now() - startedAt) / 600) / 100,
    rssMb: metric(text, 'hush_process_resident_memory_bytes') / 2 ** 20,
    heapMb: metric(text, 'hush_nodejs_heap_size_used_bytes') / 2 ** 20,
    eventLoopP99Ms: metric(text, 'hush_nodejs_eventloop_lag_p99_seconds') * 1000,
    sockets: metric(text, 'hush_websocket_connections'),
    redisChannels: channels.length,
    conversations: stats.conversations,
    messages: stats.messages,
    errors: stats.errors,
  }
}

/** Mean of the last third of the samples after warm-up against the first third. */
function drift(samples: Sample[], key: keyof Sample): { first: number; last: number; change: string } {
  const after = samples.filter((s) => s.minute >= WARMUP_MIN)
  const third = Math.max(1, Math.floor(after.length / 3))
  const mean = (list: Sample[]) => list.reduce((sum, s) => sum + s[key], 0) / list.length
  const first = mean(after.slice(0, third))
  const last = mean(after.slice(-third))
  return { first: Number(first.toFixed(2)), last: Number(last.toFixed(2)), change: `${(((last - first) / (first || 1)) * 100).toFixed(1)} %` }
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-soak-'))
  const dynamodb = await launchDynamoDbLocal({ dataDir, logger: pino({ level: 'warn' }) })
  const redisServer = await startOwnRedis()
  const redis = new Redis(redisServer.url)
  const port = await freePort()
  const server = spawnServer(
    {
      LOG_LEVEL: 'warn',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: path.join(dataDir, 'hush'),
      DYNAMODB_ENDPOINT: dynamodb.endpoint,
      DYNAMODB_TABLE: 'hush-soak',
      REDIS_URL: redisServer.url,
      JWT_SECRET: 'soak-secret-that-is-at-least-32-bytes!!',
      ID_SECRET: 'soak-id-secret-that-is-at-least-32-bytes',
      CHAT_TTL_SECONDS: String(CHAT_TTL_S),
      ...Object.fromEntries(['SIGNUP', 'START_CHAT', 'CREATE_POST'].map((name) => [`RATE_LIMIT_${name}`, '100000/s burst 100000'])),
    },
    'dist',
  )
  const url = `http://127.0.0.1:${port}`
  try {
    await within(whenReady(url), 60_000, 'Hush to answer /readyz')
    const startedAt = Date.now()
    const until = startedAt + MINUTES * 60_000
    console.info(`soak: ${MINUTES} min, ${PAIRS} conversations at a time, chats expire ${CHAT_TTL_S} s after their last message`)
    const samples: Sample[] = [await sample(url, redis, startedAt)]
    const lanes = Promise.all(Array.from({ length: PAIRS }, () => lane(url, until)))
    while (Date.now() < until) {
      await sleep(Math.min(SAMPLE_MS, until - Date.now()))
      const taken = await sample(url, redis, startedAt)
      samples.push(taken)
      console.info(JSON.stringify(taken))
    }
    await lanes
    const series = ['rssMb', 'heapMb', 'eventLoopP99Ms', 'sockets', 'redisChannels'] as const
    const result = {
      at: new Date().toISOString(),
      command: 'npm run soak',
      settings: { minutes: MINUTES, pairs: PAIRS, sampleSeconds: SAMPLE_MS / 1000, chatTtlSeconds: CHAT_TTL_S, warmupMinutes: WARMUP_MIN },
      totals: { conversations: stats.conversations, messages: stats.messages, typing: stats.typing, reads: stats.reads, left: stats.left, errors: stats.errors, firstErrors: stats.firstErrors },
      afterWarmup: Object.fromEntries(series.map((key) => [key, drift(samples, key)])),
      samples,
    }
    await writeFile(path.join(ROOT, 'bench/results/soak.json'), JSON.stringify(result, null, 2) + '\n')
    await drawSoakChart(
      path.join(ROOT, 'docs/soak.png'),
      `npm run soak: ${MINUTES} min, ${PAIRS} conversations at a time, ${stats.conversations} in all, ${stats.messages} messages (${result.at.slice(0, 16)}Z; warm-up shaded)`,
      samples.map((s) => s.minute),
      [
        { title: 'RSS', unit: 'MB', values: samples.map((s) => s.rssMb) },
        { title: 'V8 heap used', unit: 'MB', values: samples.map((s) => s.heapMb) },
        { title: 'Event-loop delay p99', unit: 'ms', values: samples.map((s) => s.eventLoopP99Ms) },
        { title: 'Open WebSockets', unit: 'count', values: samples.map((s) => s.sockets) },
        { title: 'Redis channels in use', unit: 'count', values: samples.map((s) => s.redisChannels) },
      ],
      WARMUP_MIN,
    )
    console.info(JSON.stringify({ totals: result.totals, afterWarmup: result.afterWarmup }, null, 2))
    console.info('wrote bench/results/soak.json and docs/soak.png')
  } finally {
    server.child.kill('SIGTERM')
    await Promise.race([server.exited, sleep(10_000)])
    redis.disconnect()
    redisServer.stop()
    await dynamodb.stop()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
