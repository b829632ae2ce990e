/**
 * `npm run bench:storm [-- --conns=10000 --runs=3 --loadgens=4 --traffic-chats=150 --rate=40]`
 *
 * Reconnect storm through HAProxy: `conns` graphql-ws clients (each `notifications` +
 * `chatEvents(chatId, afterSeq)`) all on host h1 of three Hush hosts (`node dist/main.js` on
 * 127.0.0.11/12/13, one Redis, DynamoDB Local), behind two HAProxy nodes (half the clients each,
 * like two load balancers behind DNS: one process holds at most 20,000 descriptors, two per proxied
 * connection). h2 and h3 start `disabled` in HAProxy and are enabled once every client is live on
 * h1; then, with a steady message load on `traffic-chats` chats over HTTP through HAProxy, h1 is
 * killed with SIGKILL. The clients (bench/lib/storm-client.ts, in load generator processes, each
 * with its own source address) reconnect with jittered backoff and resume from the last seq they
 * hold. Measured from the kill: every client subscribed again and caught up (see storm-client.ts
 * for the definition), messages acknowledged vs received (lost, duplicated, reordered), reconnects
 * per surviving host (HAProxy's counters), how often HAProxy marked a surviving host down (its
 * `chkdown` counter: each time is a host out of rotation in the middle of the storm) and with which
 * check statuses, each surviving host's /readyz asked directly every 250 ms (on a kept-alive
 * connection, so it sees readiness, not the host's accept queue), the CPU of every process. The
 * final count of lost messages is taken only once every traffic client is live again and holds
 * every acknowledged message of its chat (or the grace of `--timeout` ran out: `unsettledAtEnd`).
 *
 * Writes bench/results/storm.json and prints a markdown summary.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import { launchDynamoDbLocal, type EmbeddedDynamoDb } from '../src/infra/dynamodb/launcher.js'
import type { UserSpec } from './loadgen.js'
import { gql, hushChats, hushEnv, newRunIds, pairUsers, pool, type BenchContext } from './lib/context.js'
import { buildForBench, killAllChildren, ROOT, startLoadGen, type LoadGen } from './lib/procs.js'
import type { StormConnectResult, StormFrontend, StormReport, StormUser } from './lib/storm-client.js'
import {
  coresBetween,
  dynamoDbLocalPid,
  freePortOn,
  killAllInfra,
  sampleCpu,
  startHaproxy,
  startHost,
  startRedis,
  stopAllInfra,
  type CpuSample,
  type HaproxyNode,
  type Host,
  type StatRow,
} from './lib/storm-infra.js'

// --- options ------------------------------------------------------------------------------------

const args = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, '').split('=')
    return [key!, value ?? 'true'] as const
  }),
)
const num = (key: string, fallback: number) => (args.has(key) ? Number(args.get(key)) : fallback)
const CONNS = num('conns', 10_000)
const RUNS = num('runs', 3)
const LOADGENS = num('loadgens', 4)
const TRAFFIC_CHATS = Math.min(num('traffic-chats', 150), CONNS / 2)
const RATE = num('rate', 40)
/**
 * Where HAProxy checks /readyz, by run (alternating when several): `admin`, the hosts' ADMIN_PORT,
 * as the README recommends; `public`, the traffic port, behind the storm in its accept queue.
 */
const CHECKS = (args.get('checks') ?? 'admin').split(',') as Array<'admin' | 'public'>
if (CHECKS.some((mode) => mode !== 'admin' && mode !== 'public')) throw new Error('--checks takes admin, public or both (admin,public)')
const WAIT_MS = num('timeout', 120) * 1000
const LB_NODES = 2
const HOSTS = [
  { name: 'h1', address: '127.0.0.11' },
  { name: 'h2', address: '127.0.0.12' },
  { name: 'h3', address: '127.0.0.13' },
]
const LB_ADDRESSES = ['127.0.0.21', '127.0.0.22']
/** One source address per load generator (about 28,000 ports each). */
const sourceAddress = (k: number) => `127.0.0.${31 + k}`

if (CONNS % 2 !== 0 || CONNS < 2) throw new Error('--conns must be even')

const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const log = (message: string) => console.error(`[storm ${new Date().toISOString().slice(11, 19)}] ${message}`)
const round = (value: number, digits = 0) => (Number.isFinite(value) ? Math.round(value * 10 ** digits) / 10 ** digits : null)

function quantile(values: number[], q: number): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
const median = (values: number[]) => quantile(values, 0.5)

// --- lifecycle ----------------------------------------------------------------------------------

let dataDir: string | undefined
let dynamodb: EmbeddedDynamoDb | undefined
const loadgens: LoadGen[] = []
const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })

async function cleanup(): Promise<void> {
  await Promise.all(loadgens.splice(0).map((lg) => lg.stop().catch(() => undefined)))
  await stopAllInfra().catch(() => undefined)
  await dynamodb?.stop().catch(() => undefined)
  setupAgent.destroy()
  if (dataDir) await rm(dataDir, { recursive: true, force: true }).catch(() => undefined)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping every process of the run`)
    killAllInfra()
    killAllChildren()
    void cleanup().finally(() => process.exit(130))
  })
}

// --- one run ------------------------------------------------------------------------------------

interface StatPoint {
  at: number
  rows: Array<StatRow & { lb: string }>
}

interface RunResult {
  run: number
  /** where HAProxy checked /readyz: the hosts' admin port or their traffic port */
  checks: 'admin' | 'public'
  conns: number
  connectedBeforeKill: number
  initialConnectMs: number
  h1SessionsBeforeKill: number
  killAt: string
  /** ms from the kill */
  allClosedMs: number | null
  allAckedMs: number | null
  allLiveMs: number | null
  allCaughtUpMs: number | null
  caughtUp: { p50: number | null; p90: number | null; p99: number | null }
  notCaughtUp: number
  h1MarkedDownMs: Record<string, number | null>
  /** times HAProxy marked a surviving host DOWN after the kill (both nodes), and the check statuses seen */
  survivorsMarkedDown: Record<string, { downs: number; checkStatuses: string[] }>
  /** the surviving hosts' /readyz asked directly every 250 ms from the kill: answers by status, and latency */
  readyz: Record<string, { byStatus: Record<string, number>; p50Ms: number | null; p99Ms: number | null; maxMs: number | null }>
  attempts: { mean: number | null; max: number }
  reconnects: Record<string, { sessions: number; avgPerSec: number | null; peakPerSec: number }>
  haproxy: Record<string, StatRow[]>
  cpuCores: Record<string, number>
  traffic: StormReport['traffic'] & { latencyP50: number | null; latencyP99: number | null; latencyMax: number | null; trafficChats: number; rate: number }
  notificationsProven: { trafficClients: number; withNotification: number }
  subscriptionErrors: number
  firstSubscriptionError?: string
  closeCodes: Record<string, number>
  connectErrors: Record<string, number>
  /** traffic clients not live and caught up when the final count was taken (their gaps count as lost) */
  unsettledAtEnd: number
  /** the surviving hosts' warnings and errors (LOG_LEVEL=warn): lines, and counts by message in the last 32 KB */
  hostLogs: Record<string, { lines: number; byMessage: Record<string, { count: number; example: string }> }>
}

function hostLog(host: Host): RunResult['hostLogs'][string] {
  const byMessage: Record<string, { count: number; example: string }> = {}
  for (const line of host.proc.output().split('\n')) {
    if (!line.trim()) continue
    let key = line.slice(0, 80)
    try {
      const parsed = JSON.parse(line) as { msg?: string; err?: unknown }
      key = parsed.msg ?? key
    } catch {
      // not a log line (a partial one at the buffer's start)
    }
    const entry = (byMessage[key] ??= { count: 0, example: line.slice(0, 400) })
    entry.count++
  }
  return { lines: host.proc.lines(), byMessage }
}

async function oneRun(run: number, ctx: BenchContext, users: UserSpec[], held: Map<string, number>, redisUrl: string): Promise<RunResult> {
  const checks = CHECKS[(run - 1) % CHECKS.length]!
  const port = await freePortOn(HOSTS.map((h) => h.address))
  const adminPort = await freePortOn(HOSTS.map((h) => h.address))
  const lbPort = await freePortOn(LB_ADDRESSES)
  // UNREADY_CLOSE_AFTER_MS as the README's load balancer section and the multi-host suite set it.
  const env = hushEnv(ctx, { REDIS_URL: redisUrl, TRUSTED_PROXIES: 'loopback', LOG_LEVEL: 'warn', UNREADY_CLOSE_AFTER_MS: '3000', ADMIN_PORT: String(adminPort) })
  log(`run ${run}: starting hosts h1..h3 on port ${port}; HAProxy checks /readyz on the ${checks} port`)
  const hosts: Host[] = await Promise.all(HOSTS.map((h) => startHost(h.name, h.address, port, env)))

  if (held.size === 0) {
    // Every chat needs one message: the clients' proof that a chatEvents subscription is live.
    log(`seeding one message in each of ${users.length / 2} chats (through h1)`)
    const started = now()
    const url = `http://${hosts[0]!.address}:${port}/graphql`
    await pool(users.length / 2, 32, async (i) => {
      const user = users[2 * i]!
      const { sendMessage } = await gql<{ sendMessage: { seq: number } }>(
        ctx,
        url,
        user.token,
        'mutation ($c: ID!, $m: ID!) { sendMessage(chatId: $c, clientMessageId: $m, body: "seed") { seq } }',
        { c: user.chatId, m: `seed-${i}` },
      )
      held.set(user.chatId, sendMessage.seq)
    })
    log(`seeded in ${((now() - started) / 1000).toFixed(1)} s`)
  }

  const lbDir = path.join(dataDir!, `lb-${run}`)
  await mkdir(lbDir, { recursive: true })
  const maxconn = Math.ceil(CONNS / LB_NODES) + 1000
  const lbs: HaproxyNode[] = await Promise.all(
    LB_ADDRESSES.slice(0, LB_NODES).map((address, i) =>
      startHaproxy(`lb${i + 1}`, lbDir, {
        address,
        port: lbPort,
        maxconn,
        hosts: HOSTS.map((h, j) => ({ ...h, port, checkPort: checks === 'admin' ? adminPort : undefined, disabled: j > 0 })),
      }),
    ),
  )
  const frontends: StormFrontend[] = lbs.map((lb) => ({ ws: `ws://${lb.address}:${lb.port}/graphql`, http: `http://${lb.address}:${lb.port}/graphql` }))
  await waitUp(lbs, ['h1'])

  // Load generators: whole chats per process (both users), traffic chats spread over all of them.
  const chatsTotal = users.length / 2
  const trafficEvery = Math.max(1, Math.floor(chatsTotal / TRAFFIC_CHATS))
  const perLg: StormUser[][] = Array.from({ length: LOADGENS }, () => [])
  for (const user of users) {
    const chat = Math.floor(user.idx / 2)
    const k = chat % LOADGENS
    perLg[k]!.push({
      idx: user.idx,
      token: user.token,
      chatId: user.chatId,
      frontend: user.idx % LB_NODES,
      localAddress: sourceAddress(k),
      held: held.get(user.chatId) ?? 0,
      traffic: chat % trafficEvery === 0 && chat / trafficEvery < TRAFFIC_CHATS,
    })
  }
  for (let k = 0; k < LOADGENS; k++) loadgens.push(startLoadGen())
  await Promise.all(loadgens.map((lg, k) => lg.run({ type: 'storm-init', frontends, users: perLg[k]! })))

  log(`run ${run}: connecting ${users.length} clients to h1 through ${LB_NODES} HAProxy nodes`)
  const connectStarted = now()
  const connects = await Promise.all(loadgens.map((lg) => lg.run<StormConnectResult>({ type: 'storm-connect', concurrency: 50, timeoutMs: 60_000 }, 1_800_000)))
  const initialConnectMs = now() - connectStarted
  const live = connects.reduce((sum, c) => sum + c.live, 0)
  log(
    `connected and live: ${live}/${users.length} in ${(initialConnectMs / 1000).toFixed(1)} s (${Math.round((live / initialConnectMs) * 1000)}/s)` +
      (connects.some((c) => c.firstError) ? `; first error: ${connects.find((c) => c.firstError)?.firstError}` : ''),
  )
  const h1Before = (await Promise.all(lbs.map(async (lb) => (await lb.stat()).find((r) => r.pxname === 'hush_sockets' && r.svname === 'h1')?.scur ?? 0))).reduce((a, b) => a + b, 0)

  for (const lb of lbs) for (const h of HOSTS.slice(1)) await lb.command(`enable server hush_sockets/${h.name}`)
  await waitUp(lbs, HOSTS.map((h) => h.name))
  log(`h2, h3 enabled and UP in HAProxy; h1 holds ${h1Before} sockets; starting ${RATE} messages/s on ${TRAFFIC_CHATS} chats`)

  await Promise.all(loadgens.map((lg) => lg.run({ type: 'storm-traffic', rate: RATE / LOADGENS })))
  await sleep(5_000)

  // The storm.
  const ddbPid = await dynamoDbLocalPid(Number(new URL(ctx.dynamodb.endpoint).port))
  const pids: Record<string, number> = Object.fromEntries([
    ...hosts.map((h) => [h.name, h.pid] as const),
    ...lbs.map((lb) => [lb.name, lb.pid] as const),
    ...loadgens.map((lg, k) => [`loadgen${k + 1}`, lg.pid] as const),
    ...(ddbPid ? [['dynamodb-local', ddbPid] as const] : []),
  ])
  const cpu = sampleCpu(pids)
  const stats: StatPoint[] = []
  let statsRunning = true
  const statsLoop = (async () => {
    while (statsRunning) {
      const rows = (await Promise.all(lbs.map(async (lb) => (await lb.stat().catch(() => [])).map((r) => ({ ...r, lb: lb.name }))))).flat()
      stats.push({ at: now(), rows })
      await sleep(200)
    }
  })()
  const readyzSeen = new Map<string, Array<{ at: number; status: string; ms: number }>>(hosts.slice(1).map((h) => [h.name, []]))
  const readyzLoop = Promise.all(
    hosts.slice(1).map(async (h) => {
      while (statsRunning) {
        const started = now()
        const status = await fetch(`http://${h.address}:${port}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
          (response) => String(response.status),
          (error: Error) => (error.name === 'TimeoutError' ? 'timeout' : 'error'),
        )
        readyzSeen.get(h.name)!.push({ at: started, status, ms: now() - started })
        await sleep(250)
      }
    }),
  )
  await Promise.all(loadgens.map((lg) => lg.run({ type: 'storm-arm' })))
  await sleep(1_000)
  const killAt = now()
  hosts[0]!.proc.child.kill('SIGKILL')
  log(`run ${run}: h1 killed (SIGKILL); waiting until every client is caught up (at most ${WAIT_MS / 1000} s)`)
  const waits = await Promise.all(loadgens.map((lg) => lg.run<{ pending: number }>({ type: 'storm-wait', timeoutMs: WAIT_MS }, WAIT_MS + 60_000)))
  const doneAt = now()
  log(`storm over after ${((doneAt - killAt) / 1000).toFixed(1)} s (${waits.reduce((s, w) => s + w.pending, 0)} clients not caught up); traffic for 5 s more`)
  await sleep(5_000)
  const stops = await Promise.all(loadgens.map((lg) => lg.run<{ unsettled: number }>({ type: 'storm-traffic-stop', graceMs: WAIT_MS }, WAIT_MS + 60_000)))
  const unsettled = stops.reduce((sum, stop) => sum + stop.unsettled, 0)
  if (unsettled > 0) log(`${unsettled} traffic clients not live and caught up at the end: their missing messages count as lost`)
  statsRunning = false
  await statsLoop
  await readyzLoop
  const samples = await cpu.stop()
  const reports = await Promise.all(loadgens.map((lg) => lg.run<StormReport>({ type: 'storm-report' }, 120_000)))
  const finalStat = Object.fromEntries(await Promise.all(lbs.map(async (lb) => [lb.name, (await lb.stat()).filter((r) => r.pxname.startsWith('hush'))] as const)))

  const hostLogs = Object.fromEntries(hosts.slice(1).map((h) => [h.name, hostLog(h)] as const))
  for (const report of reports) for (const [chatId, seq] of report.held) held.set(chatId, seq)
  await Promise.all(loadgens.map((lg) => lg.run({ type: 'storm-close' }).catch(() => undefined)))
  await Promise.all(loadgens.splice(0).map((lg) => lg.stop()))
  await Promise.all([...lbs.map((lb) => lb.proc.stop()), ...hosts.map((h) => h.proc.stop())])

  const readyz: RunResult['readyz'] = {}
  for (const [name, seen] of readyzSeen) {
    const after = seen.filter((r) => r.at >= killAt)
    const byStatus: Record<string, number> = {}
    for (const r of after) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1
    const ms = after.map((r) => r.ms)
    readyz[name] = { byStatus, p50Ms: round(quantile(ms, 0.5)), p99Ms: round(quantile(ms, 0.99)), maxMs: ms.length ? round(Math.max(...ms)) : null }
  }
  return { ...summarizeRun(run, { reports, stats, samples, killAt, doneAt, initialConnectMs, live, h1Before, finalStat }), checks, hostLogs, unsettledAtEnd: unsettled, readyz }
}

async function waitUp(lbs: HaproxyNode[], servers: string[]): Promise<void> {
  const deadline = now() + 30_000
  for (;;) {
    const rows = (await Promise.all(lbs.map((lb) => lb.stat()))).flat().filter((r) => r.pxname === 'hush_sockets' && servers.includes(r.svname))
    if (rows.length === lbs.length * servers.length && rows.every((r) => r.status === 'UP')) return
    if (now() > deadline) throw new Error(`HAProxy did not mark ${servers.join(', ')} UP: ${rows.map((r) => `${r.svname} ${r.status}`).join('; ')}`)
    await sleep(200)
  }
}

function summarizeRun(
  run: number,
  d: {
    reports: StormReport[]
    stats: StatPoint[]
    samples: CpuSample[]
    killAt: number
    doneAt: number
    initialConnectMs: number
    live: number
    h1Before: number
    finalStat: Record<string, StatRow[]>
  },
): Omit<RunResult, 'hostLogs' | 'unsettledAtEnd' | 'readyz' | 'checks'> {
  const times = d.reports.flatMap((r) => r.times)
  const since = (values: number[]) => values.map((t) => t - d.killAt)
  const maxOf = (values: number[]) => (values.length && values.every(Number.isFinite) ? Math.max(...values) : NaN)
  const closed = since(times.map((t) => t.closedAt))
  const acked = since(times.map((t) => t.ackAt))
  const liveAt = since(times.map((t) => t.liveAt))
  const caught = since(times.map((t) => t.caughtUpAt))
  const notCaughtUp = caught.filter((t) => !Number.isFinite(t)).length

  // Reconnects per surviving host: new sockets HAProxy opened to it (both nodes), from the kill.
  const reconnects: RunResult['reconnects'] = {}
  for (const host of HOSTS.slice(1)) {
    const series = d.stats.map((p) => ({ at: p.at, stot: p.rows.filter((r) => r.pxname === 'hush_sockets' && r.svname === host.name).reduce((s, r) => s + r.stot, 0) }))
    const base = series.find((p) => p.at >= d.killAt) ?? series[0]
    const last = series.at(-1)
    if (!base || !last) continue
    const sessions = last.stot - base.stot
    const lastAck = maxOf(acked.filter(Number.isFinite)) + d.killAt
    let peak = 0
    for (const p of series) {
      const later = series.find((q) => q.at >= p.at + 1000)
      if (later) peak = Math.max(peak, ((later.stot - p.stot) * 1000) / (later.at - p.at))
    }
    reconnects[host.name] = { sessions, avgPerSec: round((sessions / (lastAck - d.killAt)) * 1000), peakPerSec: Math.round(peak) }
  }
  const h1MarkedDownMs: Record<string, number | null> = {}
  for (const lb of new Set(d.stats.flatMap((p) => p.rows.map((r) => r.lb)))) {
    const down = d.stats.find((p) => p.at >= d.killAt && p.rows.some((r) => r.lb === lb && r.pxname === 'hush_sockets' && r.svname === 'h1' && r.status.startsWith('DOWN')))
    h1MarkedDownMs[lb] = down ? round(down.at - d.killAt) : null
  }
  const survivorsMarkedDown: RunResult['survivorsMarkedDown'] = {}
  for (const host of HOSTS.slice(1)) {
    const rowsAt = (p: StatPoint) => p.rows.filter((r) => r.pxname === 'hush_sockets' && r.svname === host.name)
    const base = d.stats.find((p) => p.at >= d.killAt) ?? d.stats[0]
    const last = d.stats.at(-1)
    const downs = base && last ? rowsAt(last).reduce((sum, r) => sum + r.chkdown, 0) - rowsAt(base).reduce((sum, r) => sum + r.chkdown, 0) : 0
    const checkStatuses = [...new Set(d.stats.filter((p) => p.at >= d.killAt).flatMap((p) => rowsAt(p).map((r) => r.check_status)))]
    survivorsMarkedDown[host.name] = { downs, checkStatuses }
  }
  const latencies = d.reports.flatMap((r) => r.traffic.latencies)
  const sum = (pick: (t: StormReport['traffic']) => number) => d.reports.reduce((s, r) => s + pick(r.traffic), 0)
  return {
    run,
    conns: times.length,
    connectedBeforeKill: d.live,
    initialConnectMs: Math.round(d.initialConnectMs),
    h1SessionsBeforeKill: d.h1Before,
    killAt: new Date(d.killAt).toISOString(),
    allClosedMs: round(maxOf(closed)),
    allAckedMs: round(maxOf(acked)),
    allLiveMs: round(maxOf(liveAt)),
    allCaughtUpMs: round(maxOf(caught)),
    caughtUp: { p50: round(quantile(caught, 0.5)), p90: round(quantile(caught, 0.9)), p99: round(quantile(caught, 0.99)) },
    notCaughtUp,
    h1MarkedDownMs,
    survivorsMarkedDown,
    attempts: { mean: round(times.reduce((s, t) => s + t.attempts, 0) / times.length, 2), max: Math.max(...times.map((t) => t.attempts)) },
    reconnects,
    haproxy: d.finalStat,
    cpuCores: coresBetween(d.samples, d.killAt, d.killAt + (Number.isFinite(maxOf(caught)) ? maxOf(caught) : d.doneAt - d.killAt)),
    traffic: {
      sent: sum((t) => t.sent),
      acked: sum((t) => t.acked),
      retries: sum((t) => t.retries),
      abandoned: sum((t) => t.abandoned),
      firstError: d.reports.find((r) => r.traffic.firstError)?.traffic.firstError,
      lost: sum((t) => t.lost),
      duplicated: sum((t) => t.duplicated),
      reordered: sum((t) => t.reordered),
      received: sum((t) => t.received),
      latencies: [],
      latencyP50: round(quantile(latencies, 0.5), 1),
      latencyP99: round(quantile(latencies, 0.99), 1),
      latencyMax: round(maxOf(latencies), 1),
      trafficChats: TRAFFIC_CHATS,
      rate: RATE,
    },
    notificationsProven: {
      trafficClients: d.reports.reduce((s, r) => s + r.trafficUsers, 0),
      withNotification: times.filter((t) => Number.isFinite(t.notifiedAt)).length,
    },
    subscriptionErrors: d.reports.reduce((s, r) => s + r.subscriptionErrors, 0),
    firstSubscriptionError: d.reports.find((r) => r.firstSubscriptionError)?.firstSubscriptionError,
    closeCodes: addUp(d.reports.map((r) => r.closeCodes)),
    connectErrors: addUp(d.reports.map((r) => r.connectErrors)),
  }
}

function addUp(counts: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const count of counts) for (const [key, n] of Object.entries(count)) out[key] = (out[key] ?? 0) + n
  return out
}

// --- report -------------------------------------------------------------------------------------

const s = (ms: number | null) => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(2)} s`)

function markdown(runs: RunResult[], setup: Record<string, unknown>): string {
  const lines = [
    `## Reconnect storm (${CONNS.toLocaleString('en')} connections, ${runs.length} run${runs.length === 1 ? '' : 's'})`,
    '',
    `\`npm run bench:storm -- ${process.argv.slice(2).join(' ')}\`; ${setup.machine as string}`,
    '',
    '| run | checks on | on h1 before | all closed | all re-acked | all live | all caught up | p50 / p99 caught up | not caught up | lost | dup | reordered | acked msgs | h2 / h3 reconnects/s (avg, peak) | h2 / h3 marked down | h2 / h3 /readyz non-200, max ms | CPU cores (h2, h3, DDB, LBs, loadgens, machine) |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const r of runs) {
    const rc = (h: string) => `${r.reconnects[h]?.avgPerSec ?? 'n/a'}, ${r.reconnects[h]?.peakPerSec ?? 'n/a'}`
    const downs = (h: string) => r.survivorsMarkedDown[h]?.downs ?? 'n/a'
    const rz = (h: string) => {
      const seen = r.readyz[h]
      if (!seen) return 'n/a'
      const bad = Object.entries(seen.byStatus).filter(([status]) => status !== '200').reduce((a, [, n]) => a + n, 0)
      return `${bad}, ${seen.maxMs ?? 'n/a'}`
    }
    const c = r.cpuCores
    const lbs = (c.lb1 ?? 0) + (c.lb2 ?? 0)
    const lgs = Object.entries(c)
      .filter(([k]) => k.startsWith('loadgen'))
      .reduce((a, [, v]) => a + v, 0)
    lines.push(
      `| ${r.run} | ${r.checks} port | ${r.h1SessionsBeforeKill} | ${s(r.allClosedMs)} | ${s(r.allAckedMs)} | ${s(r.allLiveMs)} | ${s(r.allCaughtUpMs)} | ${s(r.caughtUp.p50)} / ${s(r.caughtUp.p99)} | ${r.notCaughtUp} | ${r.traffic.lost} | ${r.traffic.duplicated} | ${r.traffic.reordered} | ${r.traffic.acked} | ${rc('h2')} / ${rc('h3')} | ${downs('h2')} / ${downs('h3')} | ${rz('h2')} / ${rz('h3')} | ${c.h2 ?? '?'}, ${c.h3 ?? '?'}, ${c['dynamodb-local'] ?? '?'}, ${lbs.toFixed(2)}, ${lgs.toFixed(2)}, ${c.machine ?? '?'} |`,
    )
  }
  const caught = runs.map((r) => r.allCaughtUpMs ?? NaN)
  lines.push(
    '',
    `Median time to every client caught up: ${s(round(median(caught)))} (goal < 10 s: ${median(caught) < 10_000 ? 'met' : 'not met'}); ` +
      `messages lost in all runs: ${runs.reduce((a, r) => a + r.traffic.lost, 0)} (goal 0).`,
  )
  return lines.join('\n')
}

// --- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first (npm run bench:storm does)')
  log('compiling bench/ into bench/.build')
  buildForBench()
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-storm-'))
  dynamodb = await launchDynamoDbLocal({ dataDir, logger: pino({ level: 'warn' }) })
  const ctx = {
    ...newRunIds(),
    dataDir,
    dynamodb,
    chatIds: [],
    setupAgent,
    log,
    notes: [],
    interrupted: () => false,
  } as unknown as BenchContext // hushChats, pairUsers and hushEnv read only these fields
  const redis = await startRedis()
  const started = now()
  const chatIds = await hushChats(ctx, CONNS / 2)
  const users = await pairUsers(ctx, chatIds)
  const setupSeconds = (now() - started) / 1000
  const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, load average at start ${os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}`
  const held = new Map<string, number>()
  const runs: RunResult[] = []
  for (let run = 1; run <= RUNS; run++) {
    const client = new Redis(redis.url)
    await client.flushall()
    client.disconnect()
    const result = await oneRun(run, ctx, users, held, redis.url)
    runs.push(result)
    log(
      `run ${run}: all acked ${s(result.allAckedMs)}, all live ${s(result.allLiveMs)}, all caught up ${s(result.allCaughtUpMs)}; ` +
        `lost ${result.traffic.lost}, duplicated ${result.traffic.duplicated}, reordered ${result.traffic.reordered} of ${result.traffic.acked} acked`,
    )
    await sleep(3_000)
  }
  const setup = {
    machine,
    command: `npm run bench:storm -- ${process.argv.slice(2).join(' ')}`.trim(),
    conns: CONNS,
    loadgens: LOADGENS,
    lbNodes: LB_NODES,
    hosts: HOSTS,
    trafficChats: TRAFFIC_CHATS,
    rate: RATE,
    setupSeconds: round(setupSeconds, 1),
  }
  const caught = runs.map((r) => r.allCaughtUpMs ?? NaN)
  const medians = (of: RunResult[]) => ({
    allAckedMs: round(median(of.map((r) => r.allAckedMs ?? NaN))),
    allLiveMs: round(median(of.map((r) => r.allLiveMs ?? NaN))),
    allCaughtUpMs: round(median(of.map((r) => r.allCaughtUpMs ?? NaN))),
  })
  const out = {
    at: new Date().toISOString(),
    ...setup,
    median: medians(runs),
    medianByChecks: Object.fromEntries(CHECKS.map((mode) => [mode, medians(runs.filter((r) => r.checks === mode))])),
    goals: { caughtUpUnder10s: median(caught) < 10_000, zeroLost: runs.every((r) => r.traffic.lost === 0) },
    runs,
  }
  await mkdir(path.join(ROOT, 'bench/results'), { recursive: true })
  await writeFile(path.join(ROOT, 'bench/results/storm.json'), JSON.stringify(out, null, 2) + '\n')
  console.log(markdown(runs, setup))
}

main()
  .catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
  .finally(async () => {
    killAllInfra()
    await cleanup()
  })
