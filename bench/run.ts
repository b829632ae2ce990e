/**
 * `npm run bench [-- --quick] [--rounds=N] [--only=floor,peer,hush,hush-graphql-ws,hush-yoga-jit,cross]
 *   [--scenarios=memory,connect,typing-socket,typing-http,messages,send-path,cross-process]
 *   [--write-readme] [--profile] [--heap] [--report]`
 *
 * The orchestrator of one benchmark run: builds the code, launches DynamoDB Local, creates the
 * chats Hush targets share, and runs the scenarios (bench/scenarios/), each with the servers it
 * compares, passing them one context object (bench/lib/context.ts). Then it takes every ratio from
 * the scenarios' alternating runs, judges the goals, prints the tables, writes
 * bench/results/latest.json (and <mode>.json), and with --write-readme rewrites README's
 * "## Performance" section.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { launchDynamoDbLocal, type EmbeddedDynamoDb } from '../src/infra/dynamodb/launcher.js'
import { hushChats, newRunIds, type BenchContext } from './lib/context.js'
import { startFleet, type Fleet } from './lib/fleet.js'
import { evaluateGoals } from './lib/goals.js'
import { makePlan, parseOptions, USAGE, type Options, type Plan, type Scenario } from './lib/plan.js'
import { buildForBench, killAllChildren, ROOT } from './lib/procs.js'
import { renderMarkdown, renderTerminal } from './lib/report.js'
import type { Results } from './lib/results.js'
import { jsonSafe, round } from './lib/stats.js'
import { isHushTarget, TARGETS, type Target } from './lib/targets.js'
import { connectComparisons, runConnect } from './scenarios/connect.js'
import { runCross } from './scenarios/cross-process.js'
import { memoryComparisons, runMemory } from './scenarios/memory.js'
import { runMessages } from './scenarios/messages.js'
import { runSendPath, sendPathComparisons } from './scenarios/send-path.js'
import { runTypingHttp, typingHttpComparisons } from './scenarios/typing-http.js'
import { runTypingSocket, typingSocketComparisons } from './scenarios/typing-socket.js'

const parsed = parseOptions(process.argv.slice(2))
if ('error' in parsed) {
  console.error(`${parsed.error}\n${USAGE}`)
  process.exit(2)
}
const options: Options = parsed

/** Which targets each group of scenarios compares (of those selected). */
const MEMORY_TARGETS: Target[] = ['floor', 'peer', 'hush', 'hush-graphql-ws']
const SOCKET_TARGETS: Target[] = ['floor', 'peer', 'hush', 'hush-graphql-ws', 'hush-sdk-reads']
const HTTP_TARGETS: Target[] = ['floor', 'peer', 'hush', 'hush-yoga-jit']

/** Installed versions of what the comparisons involve (bench/results and the decision records cite them). */
function libraryVersions(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, dir] of [
    ['graphql', 'graphql'],
    ['graphql-ws', 'graphql-ws'],
    ['ws', 'ws'],
    ['graphql-yoga', 'graphql-yoga'],
    ['@envelop/core', '@envelop/core'],
    ['@whatwg-node/server', '@whatwg-node/server'],
    ['@envelop/graphql-jit', '@envelop/graphql-jit'],
    ['graphql-jit', 'graphql-jit'],
    ['graphql-jit (of @envelop/graphql-jit)', '@envelop/graphql-jit/node_modules/graphql-jit'],
    ['dynamodb-toolbox', 'dynamodb-toolbox'],
  ]) {
    try {
      out[name!] = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', dir!, 'package.json'), 'utf8')) as { version: string }).version
    } catch {
      // not installed
    }
  }
  return out
}

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

/** Caps the connection steps to what the open-files limit allows. */
function fitToFilesLimit(plan: Plan, filesLimit: number, notes: string[]): void {
  const maxConns = Math.max(...plan.connSteps)
  if (!Number.isFinite(filesLimit) || filesLimit >= maxConns + 2_000) return
  const fit = Math.floor((filesLimit - 2_000) / 1_000) * 1_000
  plan.connSteps = plan.connSteps.filter((n) => n <= fit)
  if (!plan.connSteps.includes(fit)) plan.connSteps.push(fit)
  plan.goalConns = Math.min(plan.goalConns, fit)
  plan.rateConns = Math.min(plan.rateConns, fit)
  notes.push(`open-files limit ${filesLimit} (ulimit -n): connection steps capped at ${fit.toLocaleString('en-US')}`)
}

let dynamodb: EmbeddedDynamoDb | undefined
let dataDir: string | undefined
let interrupted = false
const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 64 })

async function cleanup(): Promise<void> {
  killAllChildren()
  await dynamodb?.stop().catch(() => undefined)
  if (dataDir) await rm(dataDir, { recursive: true, force: true }).catch(() => undefined)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true
    console.error(`\n${signal}: stopping everything this run started`)
    void cleanup().finally(() => process.exit(130))
  })
}

async function main(): Promise<void> {
  const startedAt = new Date()
  const notes: string[] = []
  const log = (message: string) => console.log(`[bench +${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)}s] ${message}`)
  const plan = makePlan(options.quick)
  if (options.rounds !== undefined) plan.rounds = options.rounds
  const filesLimit = await openFilesLimit()
  fitToFilesLimit(plan, filesLimit, notes)
  const targets = TARGETS.filter((t) => options.targets.has(t))
  const wants = (s: Scenario) => options.scenarios.has(s)
  const results: Results = {
    mode: options.quick ? 'quick' : 'full',
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
    versions: libraryVersions(),
    command: `npm run bench${options.argv.length ? ` -- ${options.argv.join(' ')}` : ''}`,
    plan: plan as unknown as Record<string, unknown>,
    targets,
    rounds: plan.rounds,
    comparisons: [],
    goals: [],
    notes,
  }
  if (results.machine.loadavgStart[0]! > 0.5) {
    notes.push(`the machine was not idle at the start (load average ${results.machine.loadavgStart[0]}): other processes share the cores`)
  }
  if (plan.rounds < 3) {
    notes.push(
      `${plan.rounds} run${plan.rounds > 1 ? 's' : ''} of each side${options.quick ? ' (quick mode)' : ''}: ` +
        `${plan.rounds === 1 ? 'no ratio has a spread' : 'a median of two'}; the full mode takes the median of 3 alternating runs`,
    )
  }
  log(`${results.mode} mode, ${plan.rounds} run(s) of each side; targets ${targets.join(', ')}${options.cross ? ', cross' : ''}; ${results.machine.nproc} cores, Node ${process.version}`)
  buildForBench()
  log('compiled src/ and bench/ into bench/.build (servers and load generators run as plain JavaScript)')

  dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-bench-'))
  dynamodb = await launchDynamoDbLocal({ dataDir, logger: pino({ level: 'warn' }) })
  log(`DynamoDB Local at ${dynamodb.endpoint}`)

  const ctx: BenchContext = {
    ...newRunIds(),
    plan,
    options,
    dataDir,
    dynamodb,
    results,
    notes,
    startedAt,
    interrupted: () => interrupted,
    log,
    chatIds: [],
    setupAgent,
    quiet: { busy: false, gaveUp: 0 },
  }

  const guard = async <T>(name: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work()
    } catch (error) {
      if (interrupted) throw error
      notes.push(`${name} failed: ${(error as Error).message.split('\n')[0]}`)
      console.error(`[bench] ${name} failed:`, error)
      return undefined
    }
  }
  const withFleet = async (name: string, fleetTargets: Target[], work: (fleet: Fleet) => Promise<void>) => {
    if (fleetTargets.length === 0) return
    const fleet = await guard(`${name} (starting its servers)`, () => startFleet(ctx, fleetTargets, plan.rateConns))
    if (!fleet) return
    try {
      await work(fleet)
    } finally {
      await fleet.stop()
    }
  }
  const pick = (group: Target[]) => targets.filter((t) => group.includes(t))

  // The chats every Hush target shares (created once, through Hush's API, before anything is measured).
  const memoryTargets = wants('memory') ? pick(MEMORY_TARGETS) : []
  const socketTargets = wants('connect') || wants('typing-socket') ? pick(SOCKET_TARGETS) : []
  const httpTargets = wants('typing-http') ? pick(HTTP_TARGETS) : targets.includes('hush') && (wants('messages') || wants('send-path')) ? ['hush' as const] : []
  const chatsNeeded = Math.max(
    memoryTargets.some(isHushTarget) ? Math.max(...plan.connSteps) / 2 : 0,
    [...socketTargets, ...httpTargets].some(isHushTarget) ? plan.rateConns / 2 : 0,
    options.cross && wants('cross-process') ? 3 * plan.cross.pairsPerGroup : 0,
  )
  if (chatsNeeded > 0) await hushChats(ctx, chatsNeeded)

  if (memoryTargets.length) results.memory = await guard('memory', () => runMemory(ctx, memoryTargets))

  await withFleet('socket scenarios', socketTargets, async (fleet) => {
    if (wants('connect')) results.connect = await guard('connect', () => runConnect(ctx, fleet))
    if (wants('typing-socket')) results.typingSocket = await guard('typing-socket', () => runTypingSocket(ctx, fleet))
  })

  await withFleet('HTTP scenarios', httpTargets, async (fleet) => {
    if (wants('typing-http')) results.typingHttp = await guard('typing-http', () => runTypingHttp(ctx, fleet))
    const hush = fleet.members.get('hush')
    if (hush && wants('messages')) results.messages = await guard('messages', () => runMessages(ctx, hush))
    if (hush && wants('send-path')) results.sendPath = await guard('send-path', () => runSendPath(ctx, hush))
  })

  if (options.cross && wants('cross-process')) {
    results.cross = await guard('cross-process', async () => runCross(ctx, await hushChats(ctx, 3 * plan.cross.pairsPerGroup)))
  }

  derive(results)
  if (ctx.quiet.gaveUp > 0) {
    notes.push(`the machine never got quiet (other processes above 0.3 cores) in ${ctx.quiet.gaveUp} waits before a measurement: the runs shared the cores with them`)
  }
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
  if (options.writeReadme) await rewriteReadme(results)
}

/** Every ratio of the run, from its scenarios' alternating runs, and the goals judged on them. */
function derive(results: Results): void {
  results.comparisons = [
    ...(results.memory ? memoryComparisons(results.memory) : []),
    ...(results.connect ? connectComparisons(results.connect) : []),
    ...(results.typingSocket ? typingSocketComparisons(results.typingSocket) : []),
    ...(results.typingHttp ? typingHttpComparisons(results.typingHttp) : []),
    ...(results.sendPath ? sendPathComparisons(results.sendPath) : []),
  ]
  results.goals = evaluateGoals(results)
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

/**
 * --report: the last results again, without running anything. The ratios and goals are taken again
 * from the stored runs (so a change to what is compared applies to the last run too) and written back.
 */
async function reportOnly(): Promise<void> {
  const file = path.join(ROOT, 'bench/results/latest.json')
  const results = JSON.parse(await readFile(file, 'utf8'), (_key, v: unknown) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v)) as Results
  if (!Array.isArray(results.comparisons)) {
    console.error('bench/results/latest.json was written by an older bench (before scenarios and alternating runs): run the bench again')
    process.exitCode = 1
    return
  }
  derive(results)
  const json = JSON.stringify(jsonSafe(results), null, 2) + '\n'
  await writeFile(file, json)
  await writeFile(path.join(ROOT, `bench/results/${results.mode}.json`), json)
  process.stdout.write(renderTerminal(results))
  if (options.writeReadme) await rewriteReadme(results)
}

const watchdog = setTimeout(
  () => {
    console.error('benchmark exceeded its time budget; stopping')
    void cleanup().finally(() => process.exit(3))
  },
  (options.quick ? 15 : 100) * 60_000,
)
watchdog.unref()

try {
  if (options.report) await reportOnly()
  else await main()
} catch (error) {
  console.error('[bench] failed:', error)
  process.exitCode = 1
} finally {
  await cleanup()
  setupAgent.destroy()
}
