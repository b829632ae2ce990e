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
 * event-loop delay (p99) and open sockets from /metrics and the Redis channels in use, then has the
 * server collect its garbage in full (bench/probe.ts, preloaded as in the bench, over IPC) and
 * takes its RSS and V8 heap: memory sampled at a random point of the collector's cycle swings by
 * hundreds of MB and says nothing about what the process keeps. It writes bench/results/soak.json
 * and docs/soak.png, and prints each series' change from the first to the last third of the run
 * after SOAK_WARMUP_MIN (10) minutes and its least-squares slope per hour.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { print } from 'graphql'
import { Redis } from 'ioredis'
import pino from 'pino'
import { launchDynamoDbLocal } from '../src/infra/dynamodb/launcher.js'
import { mustRequest, signUp, wsClient } from '../test/support/client.js'
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
import { buildForBench, ROOT, runToExit, startOwnRedis, startServer, type ServerProc } from './lib/procs.js'
import { sleep } from './lib/stats.js'

const MINUTES = Number(process.env.SOAK_MINUTES ?? 60)
const PAIRS = Number(process.env.SOAK_PAIRS ?? 150)
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_S ?? 60) * 1000
const CHAT_TTL_S = Number(process.env.SOAK_CHAT_TTL_S ?? 120)
const WARMUP_MIN = Number(process.env.SOAK_WARMUP_MIN ?? 10)

const between = (min: number, max: number) => min + Math.random() * (max - min)

interface Sample {
  minute: number
  /** RSS and V8 heap used right after a full garbage collection */
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

async function sample(server: ServerProc, redis: Redis, startedAt: number): Promise<Sample> {
  // /metrics first: the collection's pause then falls into the next minute's delay histogram,
  // where one pause among a minute of 10 ms samples does not move the p99.
  const text = await (await fetch(`${server.base}/metrics`)).text()
  const channels = (await redis.call('PUBSUB', 'CHANNELS')) as string[]
  const { mem } = await server.probe('mem')
  return {
    minute: Math.round((Date.now() - startedAt) / 600) / 100,
    rssMb: mem.rss / 2 ** 20,
    heapMb: mem.heapUsed / 2 ** 20,
    eventLoopP99Ms: metric(text, 'hush_nodejs_eventloop_lag_p99_seconds') * 1000,
    sockets: metric(text, 'hush_websocket_connections'),
    redisChannels: channels.length,
    conversations: stats.conversations,
    messages: stats.messages,
    errors: stats.errors,
  }
}

/**
 * After warm-up: the mean of the last third of the samples against the first third's, and the
 * least-squares slope per hour (a leak shows as a steady slope, noise as a wobble around none).
 */
function drift(samples: Sample[], key: keyof Sample): { first: number; last: number; change: string; perHour: number } {
  const after = samples.filter((s) => s.minute >= WARMUP_MIN)
  const third = Math.max(1, Math.floor(after.length / 3))
  const mean = (list: number[]) => list.reduce((sum, v) => sum + v, 0) / list.length
  const first = mean(after.slice(0, third).map((s) => s[key]))
  const last = mean(after.slice(-third).map((s) => s[key]))
  const t = after.map((s) => s.minute)
  const v = after.map((s) => s[key])
  const tMean = mean(t)
  const vMean = mean(v)
  const spread = t.reduce((sum, ti) => sum + (ti - tMean) ** 2, 0)
  const slope = spread === 0 ? 0 : t.reduce((sum, ti, i) => sum + (ti - tMean) * (v[i]! - vMean), 0) / spread
  return {
    first: Number(first.toFixed(2)),
    last: Number(last.toFixed(2)),
    change: `${(((last - first) / (first || 1)) * 100).toFixed(1)} %`,
    perHour: Number((slope * 60).toFixed(2)),
  }
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-soak-'))
  const dynamodb = await launchDynamoDbLocal({ dataDir, logger: pino({ level: 'warn' }) })
  const redisServer = await startOwnRedis()
  const redis = new Redis(redisServer.url)
  buildForBench()
  const server = await startServer({
    name: 'hush',
    script: 'src/main.ts',
    env: {
      LOG_LEVEL: 'warn',
      WEB_APP: 'false',
      DATA_DIR: path.join(dataDir, 'hush'),
      DYNAMODB_ENDPOINT: dynamodb.endpoint,
      DYNAMODB_TABLE: 'hush-soak',
      REDIS_URL: redisServer.url,
      JWT_SECRET: 'soak-secret-that-is-at-least-32-bytes!!',
      ID_SECRET: 'soak-id-secret-that-is-at-least-32-bytes',
      CHAT_TTL_SECONDS: String(CHAT_TTL_S),
      ...Object.fromEntries(['SIGNUP', 'START_CHAT', 'CREATE_POST'].map((name) => [`RATE_LIMIT_${name}`, '100000/s burst 100000'])),
    },
  })
  const url = server.base
  try {
    const startedAt = Date.now()
    const until = startedAt + MINUTES * 60_000
    console.info(`soak: ${MINUTES} min, ${PAIRS} conversations at a time, chats expire ${CHAT_TTL_S} s after their last message`)
    const samples: Sample[] = [await sample(server, redis, startedAt)]
    const lanes = Promise.all(Array.from({ length: PAIRS }, () => lane(url, until)))
    while (Date.now() < until) {
      await sleep(Math.min(SAMPLE_MS, until - Date.now()))
      const taken = await sample(server, redis, startedAt)
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
        { title: 'RSS after a full GC', unit: 'MB', values: samples.map((s) => s.rssMb) },
        { title: 'V8 heap used after a full GC', unit: 'MB', values: samples.map((s) => s.heapMb) },
        { title: 'Event-loop delay p99', unit: 'ms', values: samples.map((s) => s.eventLoopP99Ms) },
        { title: 'Open WebSockets', unit: 'count', values: samples.map((s) => s.sockets) },
        { title: 'Redis channels in use', unit: 'count', values: samples.map((s) => s.redisChannels) },
      ],
      WARMUP_MIN,
    )
    console.info(JSON.stringify({ totals: result.totals, afterWarmup: result.afterWarmup }, null, 2))
    console.info('wrote bench/results/soak.json and docs/soak.png')
  } finally {
    await server.stop(10_000)
    redis.disconnect()
    redisServer.stop()
    await dynamodb.stop()
  }
}

runToExit(main)
