/**
 * The run-wide context every scenario receives: the plan and options, the run's ids and secrets,
 * DynamoDB Local, the notes and log, and the helpers that need them (starting a target,
 * minting tokens, creating chats through the API). Scenarios keep no state of their own between
 * calls; what one run shares across scenarios lives here.
 */
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import path from 'node:path'
import { SignJWT } from 'jose'
import type { EmbeddedDynamoDb } from '../../src/infra/dynamodb/launcher.js'
import type { ServerSpec, UserSpec } from '../loadgen.js'
import type { Options, Plan } from './plan.js'
import { startServer, type ServerProc } from './procs.js'
import type { Results } from './results.js'
import { TARGET_INFO, type Target } from './targets.js'

export interface BenchContext {
  plan: Plan
  options: Options
  runId: string
  jwtSecret: string
  idSecret: string
  table: string
  redisPrefix: string
  redisUrl: string
  dataDir: string
  dynamodb: EmbeddedDynamoDb
  results: Results
  notes: string[]
  startedAt: Date
  /** Set when the run is being interrupted: scenarios then stop, rather than note a failure. */
  interrupted: () => boolean
  log(message: string): void
  /** Chats created through Hush's API so far (reused by every Hush target and the cross test). */
  chatIds: string[]
  setupAgent: http.Agent
  /** Whether the last wait for a quiet machine gave up, and how many did. */
  quiet: { busy: boolean; gaveUp: number }
}

export function newRunIds(): Pick<BenchContext, 'runId' | 'jwtSecret' | 'idSecret' | 'table' | 'redisPrefix' | 'redisUrl'> {
  const runId = randomBytes(4).toString('hex')
  return {
    runId,
    jwtSecret: randomBytes(32).toString('base64url'),
    idSecret: randomBytes(32).toString('base64url'),
    table: `hush-bench-${runId}`,
    redisPrefix: `bench-${runId}:`,
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  }
}

export async function mint(ctx: BenchContext, userId: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer('hush')
    .setAudience('hush')
    .setIssuedAt()
    .setExpirationTime('6h')
    .sign(new TextEncoder().encode(ctx.jwtSecret))
}

export function hushEnv(ctx: BenchContext, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LOG_LEVEL: 'warn',
    DATA_DIR: path.join(ctx.dataDir, 'hush'),
    DYNAMODB_ENDPOINT: ctx.dynamodb.endpoint,
    DYNAMODB_TABLE: ctx.table,
    JWT_SECRET: ctx.jwtSecret,
    ID_SECRET: ctx.idSecret,
    // Limits meant for abuse, not for a load test: the load generator is one client address
    // driving thousands of users at full speed.
    ...Object.fromEntries(
      ['SIGNUP', 'START_CHAT', 'SEND', 'MARK_READ', 'UPLOAD', 'CREATE_POST', 'ADD_COMMENT', 'SOCKET_OPERATIONS'].map((name) => [
        `RATE_LIMIT_${name}`,
        '1000000/s burst 1000000',
      ]),
    ),
    MAX_QUEUED_BYTES: String(64 * 1024 * 1024),
    ...extra,
  }
}

export function startTarget(ctx: BenchContext, target: Target, extraEnv: Record<string, string> = {}): Promise<ServerProc> {
  const info = TARGET_INFO[target]
  const env = info.protocol === 'hush' ? hushEnv(ctx, { ...info.env, ...extraEnv }) : {}
  return startServer({ name: target, script: info.script, env })
}

export function specOf(target: Target, server: ServerProc): ServerSpec {
  return TARGET_INFO[target].protocol === 'floor'
    ? { ws: `ws://127.0.0.1:${server.port}/`, http: '' }
    : { ws: `ws://127.0.0.1:${server.port}/graphql`, http: `${server.base}/graphql` }
}

/** GraphQL over HTTP for setup work (not timed). */
export async function gql<T>(ctx: BenchContext, url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const body = JSON.stringify({ query, variables })
  const { hostname, port, pathname } = new URL(url)
  const text = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      {
        hostname,
        port,
        path: pathname,
        method: 'POST',
        agent: ctx.setupAgent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
      },
      (res) => {
        let data = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (data += c))
        res.on('end', () => resolve(data))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
  const parsed = JSON.parse(text) as { data?: T; errors?: unknown }
  if (parsed.errors || !parsed.data) throw new Error(`GraphQL error: ${text.slice(0, 400)}`)
  return parsed.data
}

export async function pool<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++
        out[i] = await work(i)
      }
    }),
  )
  return out
}

/** Users 2i and 2i+1 share chat i; the first user of each pair is the one who started it. */
export async function pairUsers(ctx: BenchContext, chatIds: string[], serverOf: (idx: number) => number = () => 0): Promise<UserSpec[]> {
  const users: UserSpec[] = []
  for (let i = 0; i < chatIds.length; i++) {
    for (const side of [0, 1]) {
      const idx = 2 * i + side
      const userId = `u_bench${ctx.runId}${side === 0 ? 'c' : 'a'}${i}`
      users.push({ idx, userId, token: await mint(ctx, userId), chatId: chatIds[i]!, peer: idx ^ 1, server: serverOf(idx) })
    }
  }
  return users
}

/** Chat ids for the floor and the peer, which store nothing. */
export const syntheticChats = (ctx: BenchContext, count: number): string[] => Array.from({ length: count }, (_, i) => `chat${ctx.runId}x${i}`)

/**
 * At least `count` chats created through Hush's API (a post by one user, startChat by the other;
 * not timed), through a Hush server of its own that is then stopped, so that every measured
 * process starts as empty as the baselines. Chats made earlier in the run are reused.
 */
export async function hushChats(ctx: BenchContext, count: number): Promise<string[]> {
  if (ctx.chatIds.length >= count) return ctx.chatIds.slice(0, count)
  const from = ctx.chatIds.length
  ctx.log(`hush: creating ${count - from} chats through the API`)
  const setup = await startTarget(ctx, 'hush')
  const url = `${setup.base}/graphql`
  const started = Date.now()
  try {
    const ids = await pool(count - from, 64, async (j) => {
      const i = from + j
      const author = await mint(ctx, `u_bench${ctx.runId}a${i}`)
      const commenter = await mint(ctx, `u_bench${ctx.runId}c${i}`)
      const { createPost } = await gql<{ createPost: { id: string } }>(ctx, url, author, 'mutation { createPost(body: "bench") { id } }')
      const { startChat } = await gql<{ startChat: { id: string } }>(ctx, url, commenter, 'mutation ($p: ID!) { startChat(postId: $p) { id } }', {
        p: createPost.id,
      })
      return startChat.id
    })
    ctx.chatIds.push(...ids)
  } finally {
    await setup.stop()
  }
  ctx.log(`created ${count - from} chats through the API in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return ctx.chatIds.slice(0, count)
}
