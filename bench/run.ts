/**
 * `npm run bench [-- --quick] [--write-readme] [--profile] [--heap] [--only=floor,peer,hush,cross] [--report]`
 *
 * Orchestrates one benchmark run: launches DynamoDB Local once, then for each server under test
 * (the floor, the Yoga peer, Hush) starts it as its own process, drives it with a load generator
 * in another process (bench/loadgen.ts), and reads the server's memory and CPU through
 * bench/probe.ts. Then two Hush processes on one Redis for the cross-process figures. Prints the
 * tables, writes bench/results/latest.json, and with --write-readme rewrites README's
 * "## Performance" section.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { SignJWT } from 'jose'
import { pino } from 'pino'
import { launchDynamoDbLocal, type EmbeddedDynamoDb } from '../src/infra/dynamodb/launcher.js'
import type { ConnectResult, CpuPerWrite, DdbResult, RateResult, SendPathResult, ServerSpec, Target, Transport, UserSpec } from './loadgen.js'
import { cpuMsOfCommand, cpuSnapshot, foreignCores } from './lib/cpu.js'
import { summarizeProfile } from './lib/cpuprofile.js'
import { buildForBench, killAllChildren, ROOT, startLoadGen, startServer, type LoadGen, type ServerProc } from './lib/procs.js'
import {
  highestHeld,
  ms,
  renderMarkdown,
  renderTerminal,
  type ConnStep,
  type CrossResults,
  type Goal,
  type MemSnapshot,
  type RateStep,
  type Results,
  type TargetResults,
} from './lib/report.js'
import { jsonSafe, round, sleep } from './lib/stats.js'

// --- arguments and plan ----------------------------------------------------------------------

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const quick = flag('quick')
const writeReadme = flag('write-readme')
const profile = flag('profile')
const heap = flag('heap')
const only = new Set((option('only') ?? 'floor,peer,hush,cross').split(','))
const known = new Set(['quick', 'write-readme', 'profile', 'heap', 'report'])
for (const a of argv) {
  if (a.startsWith('--only=')) continue
  if (!a.startsWith('--') || !known.has(a.slice(2))) {
    console.error(`unknown argument ${a}\nusage: npm run bench -- [--quick] [--write-readme] [--profile] [--heap] [--only=floor,peer,hush,cross] [--report]`)
    process.exit(2)
  }
}

const plan = quick
  ? {
      connSteps: [1_000],
      goalConns: 1_000,
      rateConns: 1_000,
      rates: [500, 1_000, 2_000],
      extendTo: 2_000,
      messageRates: [125, 250, 500],
      stepDownTo: 60,
      stepMs: 2_000,
      graceMs: 750,
      warmupMs: 750,
      settleMs: 500,
      // No second try of a failed step: it keeps the quick run under two minutes.
      retries: 0,
      quietWaitMs: 5_000,
      idleWaitMs: 5_000,
      sendPath: { concurrency: 16, durationMs: 2_000, rounds: 1 },
      cross: { pairsPerGroup: 50, rates: [100], messageRate: 50, stepMs: 2_000, messageStepMs: 2_000, rounds: 1 },
      typingOverSocket: true,
    }
  : {
      connSteps: [1_000, 4_000, 8_000, 15_000],
      goalConns: 4_000,
      rateConns: 4_000,
      rates: [500, 1_000, 2_000, 4_000, 8_000],
      extendTo: 32_000,
      messageRates: [500, 1_000, 2_000, 4_000, 8_000],
      stepDownTo: 60,
      stepMs: 5_000,
      graceMs: 2_000,
      warmupMs: 2_000,
      settleMs: 1_000,
      retries: 2,
      quietWaitMs: 30_000,
      idleWaitMs: 90_000,
      sendPath: { concurrency: 32, durationMs: 10_000, rounds: 2 },
      cross: { pairsPerGroup: 500, rates: [200, 400], messageRate: 50, stepMs: 5_000, messageStepMs: 5_000, rounds: 2 },
      typingOverSocket: true,
    }

/** Past this many connections per load generator, sockets rotate over several source addresses. */
const LOCAL_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']

// --- run-wide state --------------------------------------------------------------------------

const runId = randomBytes(4).toString('hex')
const jwtSecret = randomBytes(32).toString('base64url')
const idSecret = randomBytes(32).toString('base64url')
const table = `hush-bench-${runId}`
const redisPrefix = `bench-${runId}:`
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const notes: string[] = []
const startedAt = new Date()
const log = (message: string) => console.log(`[bench +${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(3)}s] ${message}`)

let dynamodb: EmbeddedDynamoDb | undefined
/** Chats created for the in-process Hush run, reused by the cross-process one. */
let hushChatIds: string[] = []
/** Processes outside our tree whose CPU is ours during a step (Redis in the cross-process test). */
let extraPids: number[] = []
let dataDir: string | undefined
/** DynamoDB-alone runs so far: each writes chats of its own. */
let ddbRuns = 0

async function cleanup(): Promise<void> {
  killAllChildren()
  await dynamodb?.stop().catch(() => undefined)
  if (dataDir) await rm(dataDir, { recursive: true, force: true }).catch(() => undefined)
}

let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true
    console.error(`\n${signal}: stopping everything this run started`)
    void cleanup().finally(() => process.exit(130))
  })
}

// --- helpers ---------------------------------------------------------------------------------

const key = new TextEncoder().encode(jwtSecret)
async function mint(userId: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer('hush')
    .setAudience('hush')
    .setIssuedAt()
    .setExpirationTime('6h')
    .sign(key)
}

const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })
async function gql<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const body = JSON.stringify({ query, variables })
  const { hostname, port, pathname } = new URL(url)
  const text = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      {
        hostname,
        port,
        path: pathname,
        method: 'POST',
        agent: setupAgent,
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

async function pool<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
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
async function pairUsers(chatIds: string[], serverOf: (idx: number) => number = () => 0): Promise<UserSpec[]> {
  const users: UserSpec[] = []
  for (let i = 0; i < chatIds.length; i++) {
    for (const side of [0, 1]) {
      const idx = 2 * i + side
      const userId = `u_bench${runId}${side === 0 ? 'c' : 'a'}${i}`
      users.push({ idx, userId, token: await mint(userId), chatId: chatIds[i]!, peer: idx ^ 1, server: serverOf(idx) })
    }
  }
  return users
}

/** Creates chats through Hush's API: a post by one user, startChat by the other (not timed). */
async function createChats(graphqlUrl: string, count: number): Promise<string[]> {
  const started = Date.now()
  const ids = await pool(count, 64, async (i) => {
    const author = await mint(`u_bench${runId}a${i}`)
    const commenter = await mint(`u_bench${runId}c${i}`)
    const { createPost } = await gql<{ createPost: { id: string } }>(graphqlUrl, author, 'mutation { createPost(body: "bench") { id } }')
    const { startChat } = await gql<{ startChat: { id: string } }>(graphqlUrl, commenter, 'mutation ($p: ID!) { startChat(postId: $p) { id } }', {
      p: createPost.id,
    })
    return startChat.id
  })
  log(`created ${count} chats through the API in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return ids
}

const memOf = (m: NodeJS.MemoryUsage): MemSnapshot => ({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })

function hushEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LOG_LEVEL: 'warn',
    DATA_DIR: path.join(dataDir!, 'hush'),
    DYNAMODB_ENDPOINT: dynamodb!.endpoint,
    DYNAMODB_TABLE: table,
    JWT_SECRET: jwtSecret,
    ID_SECRET: idSecret,
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

async function startTarget(target: Target, extraEnv: Record<string, string> = {}): Promise<ServerProc> {
  if (target === 'floor') return startServer({ name: 'floor', script: 'bench/floor-server.ts', env: {} })
  if (target === 'peer') return startServer({ name: 'peer', script: 'bench/peer-server.ts', env: {} })
  return startServer({ name: 'hush', script: 'src/main.ts', env: hushEnv(extraEnv) })
}

function specOf(target: Target, server: ServerProc): ServerSpec {
  return target === 'floor'
    ? { ws: `ws://127.0.0.1:${server.port}/`, http: '' }
    : { ws: `ws://127.0.0.1:${server.port}/graphql`, http: `${server.base}/graphql` }
}

// --- scenarios -------------------------------------------------------------------------------

async function connectionLadder(target: Target, server: ServerProc, lg: LoadGen, users: UserSpec[]): Promise<{ baseline: MemSnapshot; steps: ConnStep[] }> {
  const baseline = memOf((await server.probe('mem')).mem)
  await heapSnapshot(target, server, 0)
  const steps: ConnStep[] = []
  let previous = { n: 0, mem: baseline }
  for (const n of plan.connSteps) {
    const fresh = users.slice(previous.n, n)
    const connect = await lg.run<ConnectResult>(
      { type: 'connect', users: fresh, concurrency: 25, localAddresses: n > 10_000 ? LOCAL_ADDRESSES : [], settleMs: plan.settleMs },
      600_000,
    )
    const mem = memOf((await server.probe('mem')).mem)
    await heapSnapshot(target, server, n)
    const idleCores = await serverCores([server], 1_000)
    const added = n - previous.n
    const step: ConnStep = {
      n,
      connect,
      mem,
      perConnKB: {
        rss: round((mem.rss - baseline.rss) / n / 1024),
        heap: round((mem.heapUsed - baseline.heapUsed) / n / 1024),
        external: round((mem.external - baseline.external) / n / 1024),
      },
      marginalKB: {
        rss: round((mem.rss - previous.mem.rss) / added / 1024),
        heap: round((mem.heapUsed - previous.mem.heapUsed) / added / 1024),
      },
      idleCores,
    }
    steps.push(step)
    log(
      `${target}: ${n} connections (${connect.connected}/${connect.requested} new ok, ${connect.connectRate}/s, handshake p99 ${ms(connect.handshake.p99)} ms) ` +
        `RSS ${step.perConnKB.rss} KB/conn, heap ${step.perConnKB.heap} KB/conn` +
        (connect.failed ? `, ${connect.failed} failed: ${connect.firstError}` : '') +
        (connect.chatsSettled < connect.chatsTotal ? `, ${connect.chatsTotal - connect.chatsSettled} chats without presence` : '') +
        (connect.subscriptionErrors ? `, ${connect.subscriptionErrors} subscription errors` : ''),
    )
    if (connect.failed > 0 || connect.chatsSettled < connect.chatsTotal) noteServerOutput([server])
    previous = { n, mem }
  }
  return { baseline, steps }
}

/** With --heap, a heap snapshot of the server holding `conns` connections, for a diff by constructor. */
async function heapSnapshot(target: Target, server: ServerProc, conns: number): Promise<void> {
  if (!heap) return
  const dir = path.join(ROOT, 'bench/results/profile')
  await mkdir(dir, { recursive: true })
  const file = path.join(dir, `${target}-${conns}.heapsnapshot`)
  await server.probe('heap', file)
  log(`${target}: heap snapshot at ${conns} connections: ${path.relative(ROOT, file)}`)
}

/** Puts the tail of a server's own output (its warnings and errors) into the run's notes. */
function noteServerOutput(servers: ServerProc[]): void {
  for (const server of servers) {
    const tail = server
      .output()
      .split('\n')
      .filter((line) => line.trim() && !/NodeVersionSupportWarning|node >=22|a\.co\/|trace-warnings|AWS SDK|upgrade to node|continue receiving|first week of/i.test(line))
      .slice(-5)
      .join(' | ')
    if (tail) {
      notes.push(`${server.name} on port ${server.port} said: ${tail.slice(0, 600)}`)
      console.error(`[bench] ${server.name} on port ${server.port} said:\n${server.output().slice(-3000)}`)
    }
  }
}

interface PublishCounter {
  /** Starts counting; the returned function stops and reports. */
  start(): Promise<() => Promise<{ publishes: number; commandstats: number; byKind: Record<string, number> }>>
}

/** Starts measuring the servers' own CPU; the returned function gives the ms used since (summed). */
async function serverCpuMeter(servers: ServerProc[]): Promise<() => Promise<number>> {
  const before = await Promise.all(servers.map((s) => s.probe('cpu')))
  return async () => {
    const after = await Promise.all(servers.map((s) => s.probe('cpu')))
    return after.reduce((sum, a, i) => sum + a.cpu.user + a.cpu.system - before[i]!.cpu.user - before[i]!.cpu.system, 0) / 1000
  }
}

/** The servers' own CPU over `ms` (cores, summed). */
async function serverCores(servers: ServerProc[], ms: number): Promise<number> {
  const used = await serverCpuMeter(servers)
  const t0 = performance.now()
  await sleep(ms)
  return round((await used()) / (performance.now() - t0), 2)
}

/**
 * Waits (at most maxMs) until every server is idle (< 0.1 core): a freshly started Hush process
 * has background work (e.g. its expiry cascade reads the table's stream from the oldest record),
 * and what is measured here is the steady state. Returns how long it waited.
 */
async function waitForServersIdle(servers: ServerProc[], maxMs: number): Promise<number> {
  // Background work can come in bursts a second apart (the expiry cascade polls the stream once a
  // second), so each window spans more than a second, and full mode wants two quiet ones in a row.
  const windowMs = quick ? 1_200 : 2_000
  const needed = quick ? 1 : 2
  const started = Date.now()
  let quiet = 0
  while (Date.now() - started < maxMs) {
    const busy = await Promise.all(servers.map((s) => serverCores([s], windowMs)))
    quiet = busy.every((c) => c < 0.1) ? quiet + 1 : 0
    if (quiet >= needed) return Date.now() - started - needed * windowMs
  }
  notes.push(`a server was still busy ${Math.round(maxMs / 1000)} s after it started; measured anyway`)
  return Date.now() - started
}

/** Waits (at most maxMs) until processes outside this run use less than 0.3 cores. */
async function waitForQuiet(maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs
  let foreign = NaN
  for (;;) {
    const before = await cpuSnapshot(extraPids)
    await sleep(300)
    foreign = foreignCores(before, await cpuSnapshot(extraPids))
    if (!(foreign > 0.3) || Date.now() >= deadline) return foreign
  }
}

async function rateStep(
  server: ServerProc | ServerProc[],
  lg: LoadGen,
  job: { kind: 'typing' | 'message'; transport: Transport; rate: number; pairs: number; durationMs?: number; servers?: [number, number] },
  publishCounter?: PublishCounter,
): Promise<RateStep> {
  const servers = Array.isArray(server) ? server : [server]
  let best: RateStep | undefined
  for (let attempt = 1; attempt <= 1 + plan.retries; attempt++) {
    const counting = await publishCounter?.start()
    const serverCpu = await serverCpuMeter(servers)
    const machineBefore = await cpuSnapshot(extraPids)
    const result = await lg.run<RateResult>({
      type: 'rate',
      kind: job.kind,
      transport: job.transport,
      rate: job.rate,
      durationMs: job.durationMs ?? plan.stepMs,
      pairs: job.pairs,
      graceMs: plan.graceMs,
      servers: job.servers,
      maxInflight: 256,
      drainMs: 90_000,
    })
    const machineAfter = await cpuSnapshot(extraPids)
    const serverCpuMs = await serverCpu()
    const held =
      result.latency.p99 <= 50 && result.achieved >= 0.95 * result.target && result.latency.lost === 0 && result.errors === 0 && result.skipped === 0
    const step: RateStep = {
      ...result,
      held,
      serverCpuMs: round(serverCpuMs),
      serverCpuUsPerEvent: round((serverCpuMs * 1000) / Math.max(1, result.sent), 0),
      foreignCores: foreignCores(machineBefore, machineAfter),
      attempts: attempt,
    }
    if (counting) {
      const counted = await counting()
      // Every event the step caused: the window's sends plus the typing=false sent for users left
      // typing, less the sends that failed (nothing stored, nothing to publish).
      const events = result.sent + result.cleanupSent - result.errors
      step.publishes = { events, publishes: counted.publishes, perEvent: round(counted.publishes / Math.max(1, events), 3), commandstatsDelta: counted.commandstats, byKind: counted.byKind }
    }
    if (!best || step.held || step.foreignCores < best.foreignCores) best = step
    if (step.held || !(step.foreignCores > 0.3) || !step.drained || attempt > plan.retries) break
    log(`  (${job.rate}/s failed while other processes used ${step.foreignCores} cores: waiting for quiet and running it again)`)
    await waitForQuiet(plan.quietWaitMs)
  }
  return best!
}

/** Active pairs for a rate: every user then sends about 2 events/s (typing refreshes stay well under 6 s). */
const pairsFor = (rate: number, available: number) => Math.min(available, Math.max(50, Math.ceil(rate / 4)))

async function ladder(
  name: string,
  server: ServerProc,
  lg: LoadGen,
  kind: 'typing' | 'message',
  transport: Transport,
  rates: number[],
  options: { extendTo?: number } = {},
): Promise<RateStep[]> {
  const available = plan.rateConns / 2
  const steps: RateStep[] = []
  const run = async (rate: number) => {
    const step = await rateStep(server, lg, { kind, transport, rate, pairs: pairsFor(rate, available) })
    steps.push(step)
    if (step.latency.lost > step.sent / 2 && step.errors > 0) noteServerOutput([server])
    log(
      `${name} @ ${rate}/s: achieved ${step.achieved}/s, p50 ${ms(step.latency.p50)} p99 ${ms(step.latency.p99)} max ${ms(step.latency.max)} ms, ` +
        `lost ${step.latency.lost}, errors ${step.errors}, skipped ${step.skipped}, server ${step.serverCpuUsPerEvent} µs/event, other CPU ${step.foreignCores} → ${step.held ? 'held' : 'NOT held'}` +
        (step.drained ? '' : `, backlog not drained after ${step.drainMs} ms`) +
        (step.firstError ? ` (${step.firstError.slice(0, 160)})` : ''),
    )
    return step
  }
  await waitForQuiet(plan.quietWaitMs)
  // Warm-up (JIT, caches, sockets), not recorded.
  await lg.run<RateResult>({ type: 'rate', kind, transport, rate: Math.min(200, rates[0]!), durationMs: plan.warmupMs, pairs: 50, graceMs: plan.graceMs })
  const list = [...rates]
  for (let i = 0; i < list.length; i++) {
    const step = await run(list[i]!)
    if (!step.drained) {
      notes.push(`${name}: the server had not answered every request ${Math.round(step.drainMs / 1000)} s after the ${list[i]}/s step; the ladder stopped there`)
      return steps
    }
    // A rate that does not hold is the end of the ladder: higher ones will not hold either.
    if (!step.held) break
    if (i === list.length - 1 && step.held && options.extendTo && list[i]! * 2 <= options.extendTo) list.push(list[i]! * 2)
  }
  // Nothing held: step down to find the rate that does.
  if (!steps.some((s) => s.held)) {
    for (let rate = Math.floor(rates[0]! / 2); rate >= plan.stepDownTo; rate = Math.floor(rate / 2)) {
      const step = await run(rate)
      if (step.held || !step.drained) break
    }
  }
  steps.sort((a, b) => a.target - b.target)
  return steps
}

async function runBaseline(target: 'floor' | 'peer'): Promise<TargetResults> {
  log(`${target}: starting`)
  const server = await startTarget(target)
  const lg = startLoadGen()
  try {
    await lg.run({ type: 'init', target, servers: [specOf(target, server)] })
    const maxConns = Math.max(...plan.connSteps)
    const chatIds = Array.from({ length: maxConns / 2 }, (_, i) => `chat${runId}x${i}`)
    const users = await pairUsers(chatIds)
    const { baseline, steps } = await connectionLadder(target, server, lg, users)
    await lg.run({ type: 'close', keep: plan.rateConns })
    const events = await ladder(`${target} events`, server, lg, 'message', target === 'floor' ? 'ws' : 'http', plan.rates, { extendTo: plan.extendTo })
    // The peer's send over its socket too, so that each transport has a like-for-like baseline.
    const eventsWs = target === 'peer' && plan.typingOverSocket ? await ladder('peer events (socket)', server, lg, 'message', 'ws', plan.rates, { extendTo: plan.extendTo }) : undefined
    return { baseline, connections: steps, events, eventsWs }
  } finally {
    await lg.stop()
    await server.stop()
  }
}

async function profiled<T>(server: ServerProc, phase: string, results: Results, work: () => Promise<T>): Promise<T> {
  if (!profile) return work()
  const dir = path.join(ROOT, 'bench/results/profile')
  await mkdir(dir, { recursive: true })
  const file = path.join(dir, `hush-${phase}.cpuprofile`)
  await server.probe('prof-start')
  try {
    return await work()
  } finally {
    await server.probe('prof-stop', file)
    results.profiles ??= {}
    results.profiles[phase] = await summarizeProfile(file)
  }
}

/**
 * Hush's send path against DynamoDB Local's own throughput for the same write set, both closed
 * loops with the same writers in flight. In full mode they run Hush, DynamoDB, DynamoDB, Hush and
 * each keeps its better run: DynamoDB Local's JIT and the table's growth must not favour whichever
 * runs second. Every run records the CPU each process spent per write, which is what the ratio
 * comes down to on a machine where DynamoDB Local shares the cores.
 */
async function compareSendPath(server: ServerProc, lg: LoadGen, results: Results): Promise<{ hush: SendPathResult; ddb: DdbResult }> {
  const dynamodbCpuMs = () => cpuMsOfCommand(['DynamoDBLocal.jar', `-port ${new URL(dynamodb!.endpoint).port}`])
  const withCpu = async <R extends SendPathResult | DdbResult>(servers: ServerProc[], run: () => Promise<R>): Promise<R> => {
    const [serverCpu, dynamodbBefore] = await Promise.all([serverCpuMeter(servers), dynamodbCpuMs()])
    const result = await run()
    const [serverMs, dynamodbAfter] = await Promise.all([serverCpu(), dynamodbCpuMs()])
    const perWrite = (ms: number) => round((ms * 1000) / Math.max(1, result.completed), 0)
    result.cpuPerWrite = { server: perWrite(serverMs), dynamodbLocal: perWrite(dynamodbAfter - dynamodbBefore), loadgen: perWrite(result.loadgenCpuMs) }
    return result
  }
  const runHushPath = () =>
    withCpu([server], () => lg.run<SendPathResult>({ type: 'sendpath', transport: 'http', concurrency: plan.sendPath.concurrency, durationMs: plan.sendPath.durationMs }))
  const runDdb = () =>
    withCpu([], () =>
      lg.run<DdbResult>({ type: 'ddb', endpoint: dynamodb!.endpoint, table, runTag: `${runId}${++ddbRuns}`, concurrency: plan.sendPath.concurrency, durationMs: plan.sendPath.durationMs }),
    )
  const cpuNote = (c: CpuPerWrite | undefined) => (c ? `; CPU per write: server ${c.server} µs, DynamoDB Local ${c.dynamodbLocal} µs, load generator ${c.loadgen} µs` : '')
  const order = plan.sendPath.rounds > 1 ? ['hush', 'ddb', 'ddb', 'hush'] : ['hush', 'ddb']
  let hush: SendPathResult | undefined
  let ddb: DdbResult | undefined
  await waitForQuiet(plan.quietWaitMs)
  for (const which of order) {
    if (which === 'hush') {
      log('hush: send path (closed loop)')
      // With --profile, the first Hush run is profiled (the profile costs it some throughput).
      const run = hush ? await runHushPath() : await profiled(server, 'sendpath', results, runHushPath)
      log(`hush send path: ${run.throughput}/s, p50 ${ms(run.latency.p50)} p99 ${ms(run.latency.p99)} ms, errors ${run.errors}${cpuNote(run.cpuPerWrite)}`)
      if (!hush || run.throughput > hush.throughput) hush = run
    } else {
      log('DynamoDB Local: the same write set directly (TransactWriteItems of 3 items)')
      const run = await runDdb()
      log(`DynamoDB Local: ${run.throughput}/s, p50 ${ms(run.latency.p50)} p99 ${ms(run.latency.p99)} ms, errors ${run.errors}${cpuNote(run.cpuPerWrite)}`)
      if (!ddb || run.throughput > ddb.throughput) ddb = run
    }
  }
  return { hush: hush!, ddb: ddb! }
}

async function runHush(results: Results): Promise<TargetResults> {
  const maxConns = Math.max(...plan.connSteps)
  // Chats are created through one server, which is then replaced by a fresh one, so that the
  // measured process starts as empty as the baselines do.
  log(`hush: creating ${maxConns / 2} chats through the API`)
  const setup = await startTarget('hush')
  let chatIds: string[]
  try {
    chatIds = await createChats(`${setup.base}/graphql`, maxConns / 2)
  } finally {
    await setup.stop()
  }
  hushChatIds = chatIds
  const server = await startTarget('hush')
  const lg = startLoadGen()
  const out: TargetResults = { connections: [] }
  try {
    out.busyAfterStartMs = await waitForServersIdle([server], plan.idleWaitMs)
    if (out.busyAfterStartMs > 2_000) log(`hush: the fresh server kept busy for ${(out.busyAfterStartMs / 1000).toFixed(1)} s after start (background work)`)
    await lg.run({ type: 'init', target: 'hush', servers: [specOf('hush', server)] })
    const users = await pairUsers(chatIds)
    await waitForQuiet(plan.quietWaitMs)
    const { baseline, steps } = await profiled(server, 'connect', results, () => connectionLadder('hush', server, lg, users))
    out.baseline = baseline
    out.connections = steps
    await lg.run({ type: 'close', keep: plan.rateConns })
    await waitForServersIdle([server], plan.idleWaitMs)
    out.typing = await profiled(server, 'typing', results, () => ladder('hush typing (HTTP)', server, lg, 'typing', 'http', plan.rates, { extendTo: plan.extendTo }))
    if (plan.typingOverSocket) out.typingWs = await profiled(server, 'typing-socket', results, () => ladder('hush typing (socket)', server, lg, 'typing', 'ws', plan.rates, { extendTo: plan.extendTo }))
    out.messages = await profiled(server, 'messages', results, () => ladder('hush messages (HTTP)', server, lg, 'message', 'http', plan.messageRates))
    const sendPath = await compareSendPath(server, lg, results)
    out.sendPath = sendPath.hush
    results.ddb = sendPath.ddb
  } finally {
    await lg.stop()
    await server.stop()
  }
  return out
}

/**
 * Typing crosses processes sent over the socket, as a Hush client sends it: the hop measured is
 * Redis's, and HTTP handling (a request and an answer per event, in three processes on two cores)
 * would only add noise to both sides of the comparison.
 */
const CROSS_TRANSPORT: Transport = 'ws'

function commandstatsPublish(info: string): number {
  const match = /cmdstat_publish:calls=(\d+)/.exec(info)
  return match ? Number(match[1]) : 0
}

/**
 * Three groups of pairs on three Hush processes, connected once: group A both users on S0 (one
 * process, in-process events), group B both on R1 (one process with Redis), group C one user on
 * R1 and one on R2 (two processes on one Redis: every event crosses). Each group runs the same
 * typing step; PUBLISH calls are counted with a PSUBSCRIBE on this run's prefix (exact, whatever
 * else uses the Redis) and with INFO commandstats (the whole server).
 */
async function runCross(chatIds: string[]): Promise<CrossResults> {
  const P = plan.cross.pairsPerGroup
  const out: CrossResults = {
    pairsPerGroup: P,
    rates: plan.cross.rates,
    inProcess: [],
    oneProcessRedis: [],
    twoProcesses: [],
    publishes: {},
  }
  const counter = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  const stats = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await counter.connect()
  await stats.connect()
  let published = 0
  const byKind: Record<string, number> = {}
  counter.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
    published++
    const kind = /"kind":"(\w+)"/.exec(message.toString())?.[1] ?? 'other'
    byKind[kind] = (byKind[kind] ?? 0) + 1
  })
  await counter.psubscribe(`${redisPrefix}*`)
  const redisPid = Number(/process_id:(\d+)/.exec(await stats.info('server'))?.[1])
  if (Number.isInteger(redisPid)) extraPids = [redisPid]
  const counter$: PublishCounter = {
    async start() {
      for (const k of Object.keys(byKind)) delete byKind[k]
      const before = { published, cmd: commandstatsPublish(await stats.info('commandstats')) }
      return async () => {
        await sleep(300)
        return { publishes: published - before.published, commandstats: commandstatsPublish(await stats.info('commandstats')) - before.cmd, byKind: { ...byKind } }
      }
    },
  }
  const env = { REDIS_URL: redisUrl, REDIS_PREFIX: redisPrefix }
  const [s0, r1, r2] = await Promise.all([startTarget('hush'), startTarget('hush', env), startTarget('hush', env)])
  const lg = startLoadGen()
  try {
    await lg.run({ type: 'init', target: 'hush', servers: [specOf('hush', s0), specOf('hush', r1), specOf('hush', r2)] })
    // idx → server: group A (pairs 0..P-1) on 0, group B on 1, group C split 1/2.
    const serverOf = (idx: number) => {
      const pair = idx >> 1
      if (pair < P) return 0
      if (pair < 2 * P) return 1
      return 1 + (idx & 1)
    }
    const users = await pairUsers(chatIds.slice(0, 3 * P), serverOf)
    const connect = await lg.run<ConnectResult>({ type: 'connect', users, concurrency: 25, localAddresses: [], settleMs: plan.settleMs }, 600_000)
    log(
      `cross: ${connect.connected} connections over 3 processes (${connect.failed} failed, ${connect.subscriptionErrors} subscription errors, ` +
        `${connect.chatsSettled}/${connect.chatsTotal} chats saw presence)` + (connect.firstError ? `: ${connect.firstError}` : ''),
    )
    const groups = [
      { name: 'in-process', servers: [0, 0] as [number, number], procs: [s0], into: out.inProcess },
      { name: '1 process + Redis', servers: [1, 1] as [number, number], procs: [r1], into: out.oneProcessRedis },
      { name: '2 processes + Redis', servers: [1, 2] as [number, number], procs: [r1, r2], into: out.twoProcesses },
    ]
    const busy = await waitForServersIdle([s0, r1, r2], plan.idleWaitMs)
    out.busyAfterStartMs = busy
    if (busy > 2_000) log(`cross: the fresh servers kept busy for ${(busy / 1000).toFixed(1)} s after start (background work)`)
    await waitForQuiet(plan.quietWaitMs)
    const warmRate = plan.cross.rates[0]!
    for (const g of groups) {
      await lg.run({ type: 'rate', kind: 'typing', transport: CROSS_TRANSPORT, rate: warmRate, durationMs: plan.cross.stepMs / 2, pairs: pairsFor(warmRate, P), graceMs: plan.graceMs, servers: g.servers })
    }
    for (const [i, rate] of plan.cross.rates.entries()) {
      // In full mode each setup is measured twice, in one order and then the other, and keeps its
      // better p99: a stall of the shared machine during one step must not decide a few ms.
      const measured = new Map<string, RateStep>()
      const order = plan.cross.rounds > 1 ? [...groups, ...[...groups].reverse()] : groups
      for (const g of order) {
        // As in the ladders, about 2 events/s per sending user: a user idle for 6 s would get Hush's
        // automatic typing=false, an event the generator does not count.
        const step = await rateStep(g.procs, lg, { kind: 'typing', transport: CROSS_TRANSPORT, rate, pairs: pairsFor(rate, P), durationMs: plan.cross.stepMs, servers: g.servers }, counter$)
        const p = step.publishes
        log(
          `cross: ${g.name} @ ${rate}/s: p50 ${ms(step.latency.p50)} p99 ${ms(step.latency.p99)} ms, lost ${step.latency.lost}, errors ${step.errors}, ` +
            `${p?.publishes} PUBLISH for ${p?.events} events` + (step.firstError ? ` (${step.firstError.slice(0, 200)})` : ''),
        )
        if (step.latency.lost > step.sent / 2) noteServerOutput(g.procs)
        if (i === 0 && g.name === '1 process + Redis') out.publishes.typingOneProcess ??= p
        if (i === 0 && g.name === '2 processes + Redis') out.publishes.typing ??= p
        const earlier = measured.get(g.name)
        if (!earlier || step.latency.p99 < earlier.latency.p99) measured.set(g.name, step)
      }
      for (const g of groups) g.into.push(measured.get(g.name)!)
    }
    const messages = await rateStep(
      [r1, r2],
      lg,
      { kind: 'message', transport: 'http', rate: plan.cross.messageRate, pairs: pairsFor(plan.cross.messageRate, P), durationMs: plan.cross.messageStepMs, servers: [1, 2] },
      counter$,
    )
    out.messagesTwoProcesses = messages
    out.publishes.messages = messages.publishes
    log(
      `cross: messages @ ${plan.cross.messageRate}/s over 2 processes: p99 ${ms(messages.latency.p99)} ms; ` +
        `${messages.publishes?.perEvent} PUBLISH per message ${JSON.stringify(messages.publishes?.byKind)}`,
    )
  } finally {
    extraPids = []
    await lg.stop()
    await Promise.all([s0.stop(), r1.stop(), r2.stop()])
    counter.disconnect()
    // Leave nothing of this run in Redis (presence keys of the run's prefix).
    let cursor = '0'
    do {
      const [next, keys] = await stats.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000)
      if (keys.length) await stats.del(...keys)
      cursor = next
    } while (cursor !== '0')
    stats.disconnect()
  }
  return out
}

// --- goals -----------------------------------------------------------------------------------

function evaluateGoals(r: Results): Goal[] {
  const goals: Goal[] = []
  const at = (t: TargetResults | undefined) => t?.connections.find((s) => s.n === plan.goalConns)
  const hushConn = at(r.hush)
  const peerConn = at(r.peer)
  if (hushConn && peerConn) {
    const q = hushConn.perConnKB.rss / peerConn.perConnKB.rss
    goals.push({
      name: `memory per connection (${plan.goalConns.toLocaleString('en-US')} conns, RSS after GC)`,
      goal: '≤ 0.5× peer',
      measured: `Hush ${hushConn.perConnKB.rss} KB, peer ${peerConn.perConnKB.rss} KB, floor ${at(r.floor)?.perConnKB.rss ?? '–'} KB → ${q.toFixed(2)}× peer`,
      met: q <= 0.5,
    })
  }
  const hushHeld = highestHeld(r.hush?.typing)
  const peerHeld = highestHeld(r.peer?.events)
  if (hushHeld !== undefined && peerHeld !== undefined) {
    const top = Math.max(...(r.hush?.typing ?? []).map((s) => s.target))
    const q = peerHeld > 0 ? hushHeld / peerHeld : NaN
    goals.push({
      name: 'typing events/s held at p99 ≤ 50 ms (mutations over HTTP)',
      goal: '≥ 4× peer',
      measured: `Hush ${hushHeld === top ? '≥ ' : ''}${hushHeld}, peer ${peerHeld}, floor ${highestHeld(r.floor?.events) ?? '–'} → ${Number.isNaN(q) ? '–' : q.toFixed(2)}× peer${hushHeld === top && q < 4 ? ' (lower bound: the ladder stopped there)' : ''}`,
      met: Number.isNaN(q) ? null : q >= 4 ? true : hushHeld === top ? null : false,
    })
  }
  const hushSocketHeld = highestHeld(r.hush?.typingWs)
  if (hushSocketHeld !== undefined && peerHeld !== undefined) {
    const top = Math.max(...(r.hush?.typingWs ?? []).map((s) => s.target))
    const q = peerHeld > 0 ? hushSocketHeld / peerHeld : NaN
    const peerSocketHeld = highestHeld(r.peer?.eventsWs)
    goals.push({
      name: 'typing events/s held at p99 ≤ 50 ms (mutations over the socket, as a Hush client sends typing)',
      goal: '≥ 4× peer',
      measured:
        `Hush ${hushSocketHeld === top ? '≥ ' : ''}${hushSocketHeld}, peer (HTTP, as its docs show) ${peerHeld} → ${Number.isNaN(q) ? '–' : q.toFixed(2)}× peer` +
        (peerSocketHeld !== undefined ? `; peer moved to its socket ${peerSocketHeld} → ${peerSocketHeld > 0 ? (hushSocketHeld / peerSocketHeld).toFixed(2) : '–'}×` : ''),
      met: Number.isNaN(q) ? null : q >= 4 ? true : hushSocketHeld === top ? null : false,
    })
  }
  if (r.hush?.sendPath && r.ddb) {
    const q = r.ddb.throughput / r.hush.sendPath.throughput
    goals.push({
      name: 'messages with storage vs DynamoDB Local alone (same write set)',
      goal: 'DynamoDB / Hush ≤ 1.3×',
      measured: `Hush ${r.hush.sendPath.throughput}/s, DynamoDB Local ${r.ddb.throughput}/s → ${q.toFixed(2)}×`,
      met: q <= 1.3,
    })
  }
  if (r.cross && r.cross.inProcess.length && r.cross.twoProcesses.length) {
    const c = r.cross
    const added = c.rates.map((rate) => {
      const one = c.inProcess.find((s) => s.target === rate)
      const two = c.twoProcesses.find((s) => s.target === rate)
      return one && two ? { rate, added: two.latency.p99 - one.latency.p99, baseHeld: one.held } : undefined
    })
    const known = added.filter((a): a is { rate: number; added: number; baseHeld: boolean } => !!a)
    goals.push({
      name: 'p99 added by crossing processes (typing, vs one process with in-process events)',
      goal: '≤ +5 ms',
      measured: known
        .map((a) => `${a.added >= 0 ? '+' : ''}${ms(a.added)} ms at ${a.rate}/s${a.baseHeld ? '' : ' (inconclusive: the one-process step did not hold)'}`)
        .join(', '),
      met: known.length === 0 ? null : known.some((a) => a.baseHeld && a.added > 5) ? false : known.every((a) => a.baseHeld) ? true : null,
    })
  }
  if (r.cross?.publishes.typing || r.cross?.publishes.messages) {
    const p = r.cross.publishes
    // A message's own PUBLISH; the receipts it leads to are events of their own, one PUBLISH each.
    const perMessage = p.messages && round((p.messages.byKind?.message ?? 0) / Math.max(1, p.messages.events), 3)
    const receipts = p.messages?.byKind?.receipt ?? 0
    const parts = [
      p.typing && `typing ${p.typing.perEvent}`,
      p.messages && `message ${perMessage} (+ ${receipts} receipt events for ${p.messages.events} messages, 1 PUBLISH each)`,
    ].filter(Boolean)
    goals.push({
      name: 'Redis PUBLISH per event (two processes)',
      goal: 'exactly 1',
      measured: parts.join(', '),
      met: [p.typing?.perEvent, perMessage].every((x) => x === undefined || Math.abs(x - 1) < 0.01),
    })
  }
  return goals
}

// --- main ------------------------------------------------------------------------------------

/** Read-only git: the commit of the working tree, and whether src/ differs from it. */
function codeVersion(): { commit: string; srcDirty: boolean } {
  const git = (args: string[]) => {
    const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trim() : undefined
  }
  return { commit: git(['rev-parse', 'HEAD']) ?? 'unknown', srcDirty: (git(['status', '--porcelain', '--', 'src']) ?? '') !== '' }
}

async function openFilesLimit(): Promise<number> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8')
    const match = /Max open files\s+(\d+)/.exec(limits)
    return match ? Number(match[1]) : NaN
  } catch {
    return NaN
  }
}

async function main(): Promise<void> {
  const filesLimit = await openFilesLimit()
  const maxConns = Math.max(...plan.connSteps)
  if (Number.isFinite(filesLimit) && filesLimit < maxConns + 2_000) {
    const fit = Math.floor((filesLimit - 2_000) / 1_000) * 1_000
    plan.connSteps = plan.connSteps.filter((n) => n <= fit)
    if (!plan.connSteps.includes(fit)) plan.connSteps.push(fit)
    notes.push(`open-files limit ${filesLimit} (ulimit -n): connection steps capped at ${fit.toLocaleString('en-US')}`)
  }
  const results: Results = {
    mode: quick ? 'quick' : 'full',
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    durationS: 0,
    machine: {
      nproc: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      memTotalGiB: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      os: `${os.type()} ${os.release()}`,
      loadavgStart: os.loadavg().map((v) => round(v)),
      loadavgEnd: [],
      openFilesLimit: filesLimit,
    },
    code: codeVersion(),
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    plan: plan as unknown as Record<string, unknown>,
    goals: [],
    notes,
  }
  if (results.machine.loadavgStart[0]! > 0.5) {
    notes.push(`the machine was not idle at the start (load average ${results.machine.loadavgStart[0]}): other processes share the cores`)
  }
  log(`${results.mode} mode, run ${runId}; ${results.machine.nproc} cores, Node ${process.version}`)
  buildForBench()
  log('compiled src/ and bench/ into bench/.build (servers and load generator run as plain JavaScript)')

  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-bench-'))
  dynamodb = await launchDynamoDbLocal({ dataDir, logger: pino({ level: 'warn' }) })
  log(`DynamoDB Local at ${dynamodb.endpoint}`)

  const guard = async <T>(name: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work()
    } catch (error) {
      if (interrupted) throw error
      const message = (error as Error).message
      notes.push(`${name} failed: ${message.split('\n')[0]}`)
      console.error(`[bench] ${name} failed:`, error)
      return undefined
    }
  }

  if (only.has('floor')) results.floor = await guard('floor', () => runBaseline('floor'))
  if (only.has('peer')) results.peer = await guard('peer', () => runBaseline('peer'))
  if (only.has('hush') || only.has('cross')) {
    if (only.has('hush')) results.hush = await guard('hush', () => runHush(results))
    if (only.has('cross')) {
      results.cross = await guard('cross-process', async () => {
        // The chats of the in-process run (stored in the same table), or new ones.
        const needed = 3 * plan.cross.pairsPerGroup
        let chatIds = hushChatIds.slice(0, needed)
        if (chatIds.length < needed) {
          const setup = await startTarget('hush')
          try {
            chatIds = await createChats(`${setup.base}/graphql`, needed)
          } finally {
            await setup.stop()
          }
        }
        return runCross(chatIds)
      })
    }
  }

  results.goals = evaluateGoals(results)
  results.machine.loadavgEnd = os.loadavg().map((v) => round(v))
  results.finishedAt = new Date().toISOString()
  results.durationS = round((Date.now() - startedAt.getTime()) / 1000, 1)

  const dir = path.join(ROOT, 'bench/results')
  await mkdir(dir, { recursive: true })
  const json = JSON.stringify(jsonSafe(results), null, 2) + '\n'
  await writeFile(path.join(dir, 'latest.json'), json)
  await writeFile(path.join(dir, `${results.mode}.json`), json)
  process.stdout.write(renderTerminal(results))
  console.log(`\nJSON: bench/results/latest.json (and bench/results/${results.mode}.json)`)
  if (writeReadme) await rewriteReadme(results)
}

/** Replaces README's "## Performance" section (the last one) with the run's figures. */
async function rewriteReadme(results: Results): Promise<void> {
  const readme = path.join(ROOT, 'README.md')
  const text = existsSync(readme) ? await readFile(readme, 'utf8') : ''
  const index = text.search(/^## Performance\s*$/m)
  const before = index >= 0 ? text.slice(0, index) : text.endsWith('\n') ? `${text}\n` : `${text}\n\n`
  await writeFile(readme, `${before}${renderMarkdown(results)}`)
  console.log('README.md: "## Performance" rewritten')
}

/** --report: the last results again, without running anything. */
async function reportOnly(): Promise<void> {
  const file = path.join(ROOT, 'bench/results/latest.json')
  const results = JSON.parse(await readFile(file, 'utf8'), (_key, v) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v)) as Results
  process.stdout.write(renderTerminal(results))
  if (writeReadme) await rewriteReadme(results)
}

const watchdog = setTimeout(
  () => {
    console.error('benchmark exceeded its time budget; stopping')
    void cleanup().finally(() => process.exit(3))
  },
  (quick ? 6 : 45) * 60_000,
)
watchdog.unref()

try {
  if (flag('report')) await reportOnly()
  else await main()
} catch (error) {
  console.error('[bench] failed:', error)
  process.exitCode = 1
} finally {
  await cleanup()
  setupAgent.destroy()
}
