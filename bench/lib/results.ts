/** What a run records (bench/results/*.json), scenario by scenario. */
import type { DdbConnectResult } from './ddb-alone-connect.js'
import type { ConnectResult, DdbResult, RateResult, SendPathResult, Transport } from '../loadgen.js'
import type { ProfileSummary } from './cpuprofile.js'
import type { ServerStalls } from './procs.js'
import type { LadderResult } from './measure.js'
import type { Comparison } from './trials.js'
import type { Target } from './targets.js'

export interface MemSnapshot {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export interface ConnStep {
  n: number
  connect: ConnectResult
  mem: MemSnapshot
  /** (mem at this step − mem before the first connection) / connections, in KB */
  perConnKB: { rss: number; heap: number; external: number }
  /** (mem at this step − mem at the previous step) / new connections, in KB */
  marginalKB: { rss: number; heap: number }
  /** the server's own CPU while the connections sit idle (cores) */
  idleCores: number
}

export interface PublishCount {
  events: number
  publishes: number
  perEvent: number
  commandstatsDelta: number
  byKind?: Record<string, number>
}

export interface RateStep extends RateResult {
  held: boolean
  serverCpuMs: number
  /** server CPU time per sent event (µs) */
  serverCpuUsPerEvent: number
  /** cores' worth of CPU used by processes outside this run during the step */
  foreignCores: number
  /** runs of this step (a failed step is re-run when other processes took the CPU) */
  attempts: number
  /** Redis PUBLISH calls during the step (cross-process test) */
  publishes?: PublishCount
  /** the server's longest event-loop delay and GC pauses during the step (of any server, when several) */
  serverStalls?: ServerStalls
}

/** One fresh server of one target, connected up to its steps, memory after a full GC. */
export interface MemoryRun {
  round: number
  target: Target
  busyAfterStartMs: number
  baseline: MemSnapshot
  steps: ConnStep[]
}

export interface MemoryResults {
  targets: Target[]
  goalConns: number
  /** the runs in the order they were made */
  sequence: string[]
  runs: MemoryRun[]
}

/** CPU microseconds per connect, by process (Hush runs and DynamoDB-alone runs; 0 where a process takes no part). */
export interface ConnectCpu {
  server: number
  dynamodbLocal: number
  loadgen: number
}

export interface ReconnectRun {
  round: number
  target: Target
  result: ConnectResult
  cpu?: ConnectCpu
}

export interface ConnectResults {
  targets: Target[]
  conns: number
  sequence: string[]
  runs: ReconnectRun[]
  /** DynamoDB Local serving the same reads alone (bench/lib/ddb-alone-connect.ts), alternating with the targets */
  ddb: Array<{ round: number; result: DdbConnectResult & { cpu: ConnectCpu } }>
  /** the same, sent through the plain AWS SDK document client (the alternative to Hush's lean reads); absent in older results */
  ddbSdk?: Array<{ round: number; result: DdbConnectResult & { cpu: ConnectCpu } }>
}

/** One measured line of a live scenario: a target driven over one transport. */
export interface Series {
  key: string
  label: string
  target: Target
  transport: Transport
  kind: 'typing' | 'message'
}

export interface LiveResults {
  conns: number
  cpuRate: number
  series: Series[]
  sequence: { cpu: string[]; ladder: string[] }
  cpu: Array<{ round: number; series: string; step: RateStep }>
  ladders: Array<{ round: number; series: string; result: LadderResult }>
}

export interface SendPathResults {
  sequence: string[]
  hush: Array<{ round: number; result: SendPathResult }>
  ddb: Array<{ round: number; result: DdbResult }>
}

export interface CrossResults {
  /** how long the three fresh servers kept busy after start, before anything was measured */
  busyAfterStartMs?: number
  pairsPerGroup: number
  rates: number[]
  sequence: string[]
  /** per rate and round: each setup's step */
  steps: Array<{ rate: number; round: number; group: CrossGroup; step: RateStep }>
  messagesTwoProcesses?: RateStep
  publishes: { typing?: PublishCount; typingOneProcess?: PublishCount; messages?: PublishCount }
}

export type CrossGroup = 'in-process' | 'one-process-redis' | 'two-processes'

export interface Goal {
  name: string
  goal: string
  measured: string
  /** judged on the median */
  met: boolean | null
  /** the per-round ratios fall on both sides of the target */
  withinSpread?: boolean
}

export interface Results {
  mode: 'quick' | 'full'
  startedAt: string
  finishedAt: string
  durationS: number
  machine: {
    nproc: number
    cpuModel: string
    memTotalGiB: number
    node: string
    os: string
    loadavgStart: number[]
    loadavgEnd: number[]
    openFilesLimit: number
  }
  /** the code measured: git commit of the working tree, and whether src/ had uncommitted changes */
  code: { commit: string; srcDirty: boolean }
  /** versions of the libraries the comparisons involve, as installed */
  versions: Record<string, string>
  command: string
  plan: Record<string, unknown>
  targets: Target[]
  /** runs of each side of every comparison */
  rounds: number
  memory?: MemoryResults
  connect?: ConnectResults
  typingSocket?: LiveResults
  typingHttp?: LiveResults
  /** Hush's stored messages over HTTP (one ladder; no ratio is taken from it) */
  messages?: LadderResult
  sendPath?: SendPathResults
  cross?: CrossResults
  /** every ratio of the run, each from `rounds` alternating runs of each side */
  comparisons: Comparison[]
  goals: Goal[]
  /** Hush server CPU profiles by phase (with --profile) */
  profiles?: Record<string, ProfileSummary>
  notes: string[]
}
