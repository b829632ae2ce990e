/**
 * The capacity plan docs/capacity.md quotes, computed from measured figures only: the per-unit
 * costs `npm run bench:capacity` counts (DynamoDB units, Redis commands and Hush CPU per connect,
 * typing event, message and reconnect) and the memory per connection of the last full
 * `npm run bench` (bench/results/full.json). Every assumption about the load is a named constant
 * below, every price has its source.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import type { MeterSnapshot } from './ddb-meter.js'

export interface PhaseCost {
  dynamodb: MeterSnapshot
  redis: Record<string, number>
  hushCpuMs: number
}

export interface CapacityMeasured {
  at: string
  command: string
  pairs: number
  rounds: number
  processes: number
  chatStart: { count: number } & PhaseCost
  connect: { count: number } & PhaseCost
  typing: { count: number } & PhaseCost
  message: { count: number } & PhaseCost
  /** The processes at rest with no connection. */
  empty: { seconds: number } & PhaseCost
  /** The processes at rest with every user connected. */
  idle: { seconds: number; connections: number } & PhaseCost
  reconnect: { count: number } & PhaseCost
}

/** Prices in us-east-1, on demand. */
const PRICES = {
  // DynamoDB on-demand after the November 2024 cut: aws.amazon.com/dynamodb/pricing/on-demand.
  writeRequestUnitPerMillion: 0.625,
  readRequestUnitPerMillion: 0.125,
  storageGbMonth: 0.25,
  // m7g.large (2 vCPU Graviton3, 8 GiB), Linux, as listed in June 2026.
  instanceHour: 0.0816,
  instance: { name: 'm7g.large', vcpus: 2, memoryGiB: 8 },
}
const HOURS_PER_MONTH = 730
const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600

/** What the seed's day one asks of Hush (SPEC; issue 14). */
const LOAD = {
  chatUsers: 50_000,
  /** Each chat user sends a message every 10 s. */
  messageIntervalS: 10,
  /** A typist starts and stops once per message. */
  typingPerMessage: 2,
  /** Assumed: a chat holds 20 messages, so one chat start per 20 messages. */
  messagesPerChat: 20,
  /** Bytes a stored message takes with its keys (a short text). */
  messageItemBytes: 300,
  connections1M: 1_000_000,
  /** After a deploy or a host failure every user reconnects within this window. */
  reconnectWindowS: 10,
}
/** Headroom: plan every process, core and shard for at most this share of what it can do. */
const UTILISATION = 0.5
/** A Redis shard's budget: ~100k simple commands/s on one core, at half of it. */
const REDIS_COMMANDS_PER_SHARD = 100_000 * UTILISATION
/** An idle Node process with Hush loaded (RSS, MB; bench: "RSS MB" at 0 connections ≈ 90–130). */
const PROCESS_BASE_MB = 130

interface PerUnit {
  wcu: number
  rcu: number
  ddbRequests: number
  redisCommands: number
  publishes: number
  cpuMs: number
}

function perUnit(phase: PhaseCost, count: number): PerUnit {
  const ddb = Object.entries(phase.dynamodb).filter(([operation]) => !operation.startsWith('Streams.'))
  const sum = (pick: (entry: { requests: number; wcu: number; rcu: number }) => number) => ddb.reduce((total, [, entry]) => total + pick(entry), 0)
  const redis = Object.values(phase.redis).reduce((total, calls) => total + calls, 0)
  const publishes = (phase.redis.publish ?? 0) + (phase.redis.spublish ?? 0)
  return {
    wcu: sum((e) => e.wcu) / count,
    rcu: sum((e) => e.rcu) / count,
    ddbRequests: sum((e) => e.requests) / count,
    redisCommands: redis / count,
    publishes: publishes / count,
    cpuMs: phase.hushCpuMs / count,
  }
}

/** RSS KB per connection (two subscriptions, after GC) from the last full bench, at its largest step. */
function memoryPerConnectionKb(root: string): { kb: number; source: string } {
  const file = path.join(root, 'bench/results/full.json')
  if (!existsSync(file)) throw new Error('bench/results/full.json is missing: run `npm run bench` first (memory per connection comes from it)')
  const full = JSON.parse(readFileSync(file, 'utf8')) as {
    startedAt: string
    memory: { runs: Array<{ target: string; steps: Array<{ n: number; perConnKB: { rss: number } }> }> }
  }
  const steps = full.memory.runs.filter((run) => run.target === 'hush').flatMap((run) => run.steps)
  const largest = Math.max(...steps.map((step) => step.n))
  const values = steps.filter((step) => step.n === largest).map((step) => step.perConnKB.rss)
  return { kb: Math.max(...values), source: `npm run bench, ${full.startedAt}: ${largest.toLocaleString('en')} connections, worst of ${values.length} run(s)` }
}

const fmt = (value: number, digits = 2) => value.toLocaleString('en', { maximumFractionDigits: digits })
const money = (value: number) => `$${value.toLocaleString('en', { maximumFractionDigits: 0 })}`

/** What keeps running without any event: per process (timers, stream polls) and per connection (presence). */
interface RestCost {
  cpuMsPerProcessS: number
  redisPerProcessS: number
  streamCallsPerProcessS: number
  cpuMsPerConnectionS: number
  redisPerConnectionS: number
}

const redisTotal = (phase: PhaseCost) => Object.values(phase.redis).reduce((a, b) => a + b, 0)

function restCost(measured: CapacityMeasured): RestCost {
  const { empty, idle, processes } = measured
  const perProcess = (n: number, seconds: number) => n / (processes * seconds)
  const perConnection = (busy: number, quiet: number) => Math.max(0, busy / idle.seconds - quiet / empty.seconds) / idle.connections
  return {
    cpuMsPerProcessS: perProcess(empty.hushCpuMs, empty.seconds),
    redisPerProcessS: perProcess(redisTotal(empty), empty.seconds),
    streamCallsPerProcessS: perProcess(
      Object.entries(empty.dynamodb)
        .filter(([operation]) => operation.startsWith('Streams.'))
        .reduce((sum, [, entry]) => sum + entry.requests, 0),
      empty.seconds,
    ),
    cpuMsPerConnectionS: perConnection(idle.hushCpuMs, empty.hushCpuMs),
    redisPerConnectionS: perConnection(redisTotal(idle), redisTotal(empty)),
  }
}

function unitTable(measured: CapacityMeasured, units: Record<string, PerUnit>): string {
  const rows = Object.entries(units).map(
    ([name, u]) => `| ${name} | ${fmt(u.wcu)} | ${fmt(u.rcu)} | ${fmt(u.ddbRequests)} | ${fmt(u.redisCommands)} | ${fmt(u.publishes)} | ${fmt(u.cpuMs * 1000, 0)} |`,
  )
  const rest = restCost(measured)
  return [
    `Measured ${measured.at} by \`${measured.command}\` (${measured.pairs} pairs, ${measured.rounds} rounds, ${measured.processes} processes, every event crossing processes):`,
    '',
    '| per | WCU | RCU | DynamoDB requests | Redis commands | of which publishes | Hush CPU µs |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `At rest, per process and second: ${fmt(rest.redisPerProcessS)} Redis commands, ${fmt(rest.streamCallsPerProcessS)} DynamoDB Streams calls, ${fmt(rest.cpuMsPerProcessS, 1)} ms CPU; ` +
      `per connection and second on top: ${fmt(rest.redisPerConnectionS, 3)} Redis commands, ${fmt(rest.cpuMsPerConnectionS * 1000, 1)} µs CPU.`,
  ].join('\n')
}

interface Sizing {
  processes: number
  instances: number
  memoryGiB: number
  redisShards: number
  wcuPerS: number
  rcuPerS: number
  monthly: { instances: number; redis: number; writes: number; reads: number; storage: number }
  binds: string
}

function size(cores: number, connections: number, memKb: number, redisPerS: number, wcuPerS: number, rcuPerS: number, storageGb: number): Sizing {
  const perInstanceConns = ((PRICES.instance.memoryGiB * 1024 * UTILISATION - PRICES.instance.vcpus * PROCESS_BASE_MB) * 1024) / memKb
  const byCpu = Math.ceil(cores / (PRICES.instance.vcpus * UTILISATION))
  const byMemory = Math.ceil(connections / perInstanceConns)
  const instances = Math.max(2, byCpu, byMemory)
  const redisShards = Math.max(3, Math.ceil(redisPerS / REDIS_COMMANDS_PER_SHARD))
  const monthlyInstance = PRICES.instanceHour * HOURS_PER_MONTH
  return {
    processes: instances * PRICES.instance.vcpus,
    instances,
    memoryGiB: (connections * memKb) / 1024 / 1024 + instances * PRICES.instance.vcpus * (PROCESS_BASE_MB / 1024),
    redisShards,
    wcuPerS,
    rcuPerS,
    monthly: {
      instances: instances * monthlyInstance,
      // A primary and a replica per shard, each an m7g.large running redis-server.
      redis: redisShards * 2 * monthlyInstance,
      writes: (wcuPerS * SECONDS_PER_MONTH * PRICES.writeRequestUnitPerMillion) / 1e6,
      reads: (rcuPerS * SECONDS_PER_MONTH * PRICES.readRequestUnitPerMillion) / 1e6,
      storage: storageGb * PRICES.storageGbMonth,
    },
    binds: byMemory > byCpu ? 'memory per connection' : 'Hush CPU',
  }
}

function sizingTable(title: string, s: Sizing, notes: string[]): string {
  const total = Object.values(s.monthly).reduce((a, b) => a + b, 0)
  return [
    `**${title}**`,
    '',
    '| what | amount | per month |',
    '| --- | ---: | ---: |',
    `| Hush processes (${PRICES.instance.name}: ${PRICES.instance.vcpus} vCPU, ${PRICES.instance.memoryGiB} GiB; WORKERS=auto) | ${s.processes} processes on ${s.instances} instances, ${fmt(s.memoryGiB, 1)} GiB used | ${money(s.monthly.instances)} |`,
    `| Redis Cluster shards (primary + replica, ${PRICES.instance.name} each) | ${s.redisShards} | ${money(s.monthly.redis)} |`,
    `| DynamoDB writes (on demand) | ${fmt(s.wcuPerS, 0)} WCU/s | ${money(s.monthly.writes)} |`,
    `| DynamoDB reads (on demand) | ${fmt(s.rcuPerS, 0)} RCU/s | ${money(s.monthly.reads)} |`,
    `| DynamoDB storage | | ${money(s.monthly.storage)} |`,
    `| **total** | binds first: ${s.binds} | **${money(total)}** |`,
    '',
    ...notes.map((note) => `- ${note}`),
  ].join('\n')
}

/** The per-unit table and both sizings, as markdown. */
export function capacityPlan(measured: CapacityMeasured, root = path.resolve(import.meta.dirname, '../..')): string {
  const units = {
    'chat started (sign-ups, post, startChat)': perUnit(measured.chatStart, measured.chatStart.count),
    'connect (notifications + chatEvents)': perUnit(measured.connect, measured.connect.count),
    'typing event': perUnit(measured.typing, measured.typing.count),
    'message (send, live delivery + receipt, markRead + receipt)': perUnit(measured.message, measured.message.count),
    'reconnect (afterSeq, nothing missed)': perUnit(measured.reconnect, measured.reconnect.count),
  }
  const memory = memoryPerConnectionKb(root)
  const u = {
    chat: units['chat started (sign-ups, post, startChat)'],
    connect: units['connect (notifications + chatEvents)'],
    typing: units['typing event'],
    message: units['message (send, live delivery + receipt, markRead + receipt)'],
    reconnect: units['reconnect (afterSeq, nothing missed)'],
  }
  const rest = restCost(measured)
  /** Cores and Redis commands/s that `connections` at rest cost on `processes`. */
  const atRest = (connections: number, processes: number) => ({
    cores: (connections * rest.cpuMsPerConnectionS + processes * rest.cpuMsPerProcessS) / 1000,
    redis: connections * rest.redisPerConnectionS + processes * rest.redisPerProcessS,
  })
  /** Sizes twice: the processes' own rest cost depends on how many there are. */
  const sized = (cores: number, connections: number, redis: number, wcu: number, rcu: number, storage: number) => {
    const draft = size(cores + atRest(connections, 0).cores, connections, memory.kb, 0, 0, 0, 0)
    const whole = atRest(connections, draft.processes)
    return size(cores + whole.cores, connections, memory.kb, redis + whole.redis, wcu, rcu, storage)
  }

  // (a) 50,000 chat users.
  const messagesPerS = LOAD.chatUsers / LOAD.messageIntervalS
  const typingPerS = messagesPerS * LOAD.typingPerMessage
  const chatsPerS = messagesPerS / LOAD.messagesPerChat
  const coresA = (messagesPerS * u.message.cpuMs + typingPerS * u.typing.cpuMs + chatsPerS * u.chat.cpuMs) / 1000
  const redisA = messagesPerS * u.message.redisCommands + typingPerS * u.typing.redisCommands + chatsPerS * u.chat.redisCommands
  const storageGb = (messagesPerS * 86_400 * LOAD.messageItemBytes) / 1e9
  const a = sized(coresA, LOAD.chatUsers, redisA, messagesPerS * u.message.wcu + chatsPerS * u.chat.wcu, messagesPerS * u.message.rcu + chatsPerS * u.chat.rcu, storageGb)
  const stormA = LOAD.chatUsers / LOAD.reconnectWindowS

  // (b) 1,000,000 connections, at rest, that all reconnect within the window after a failure.
  const stormB = LOAD.connections1M / LOAD.reconnectWindowS
  const b = sized(0, LOAD.connections1M, 0, 0, 0, 0)
  const stormCoresB = (stormB * u.reconnect.cpuMs) / 1000

  return [
    unitTable(measured, units),
    '',
    `Memory per connection (notifications + one chat, RSS after GC): ${fmt(memory.kb, 1)} KB (${memory.source}).`,
    '',
    sizingTable(`(a) ${LOAD.chatUsers.toLocaleString('en')} concurrent chat users, a message each every ${LOAD.messageIntervalS} s, typing and receipts`, a, [
      `${fmt(messagesPerS, 0)} messages/s, ${fmt(typingPerS, 0)} typing events/s, ${fmt(chatsPerS, 0)} chat starts/s (one per ${LOAD.messagesPerChat} messages, assumed).`,
      `Hush CPU for the events: ${fmt(coresA, 1)} cores at full use, plus the connections at rest; planned at ${UTILISATION * 100} %. Redis ${fmt(redisA + atRest(LOAD.chatUsers, a.processes).redis, 0)} commands/s over ${a.redisShards} shards (≤ ${fmt(REDIS_COMMANDS_PER_SHARD, 0)}/s each).`,
      `A reconnect of everyone within ${LOAD.reconnectWindowS} s: ${fmt(stormA, 0)} connects/s, ${fmt((stormA * u.reconnect.rcu), 0)} RCU/s for those seconds, ${fmt((stormA * u.reconnect.cpuMs) / 1000, 1)} cores.`,
      `Storage: ${fmt(storageGb, 0)} GB resident (a day of messages at ${LOAD.messageItemBytes} B; chats are gone 24 h after their last message).`,
    ]),
    '',
    sizingTable(`(b) ${LOAD.connections1M.toLocaleString('en')} connections (notifications + one chat each), at rest`, b, [
      `Memory: ${fmt((LOAD.connections1M * memory.kb) / 1024 / 1024, 1)} GiB of connections, planned at ${UTILISATION * 100} % of each instance's memory. At rest: ${fmt(atRest(LOAD.connections1M, b.processes).cores, 1)} cores, ${fmt(atRest(LOAD.connections1M, b.processes).redis, 0)} Redis commands/s.`,
      `A reconnect of all within ${LOAD.reconnectWindowS} s: ${fmt(stormB, 0)} connects/s, ${fmt(stormB * u.reconnect.rcu, 0)} RCU/s and ${fmt(stormB * u.reconnect.ddbRequests, 0)} DynamoDB requests/s for those seconds (on demand absorbs up to double the previous peak at once; pre-warm the table's throughput for more), ${fmt(stormCoresB, 0)} cores of Hush CPU (${fmt(stormCoresB / (b.processes), 2)} per process: the storm, not the rest state, binds here).`,
      'Messages on top cost as in (a), per message.',
    ]),
  ].join('\n')
}
