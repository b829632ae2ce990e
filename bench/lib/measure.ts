/**
 * Measuring steps shared by the scenarios: a server's CPU and memory, waiting for quiet, one rate
 * step (with re-runs when other processes took the CPU), a ladder of rates, profiles and heap
 * snapshots. Everything run-wide comes from the context.
 */
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import type { RateResult, Transport } from '../loadgen.js'
import type { BenchContext } from './context.js'
import { cpuSnapshot, foreignCores } from './cpu.js'
import { summarizeProfile } from './cpuprofile.js'
import { ROOT, type LoadGen, type ServerProc, type ServerStalls } from './procs.js'
import { ms } from './format.js'
import type { MemSnapshot, PublishCount, RateStep } from './results.js'
import { round, sleep } from './stats.js'

export const memOf = (m: NodeJS.MemoryUsage): MemSnapshot => ({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })

/** Starts measuring the servers' own CPU; the returned function gives the ms used since (summed). */
export async function serverCpuMeter(servers: ServerProc[]): Promise<() => Promise<number>> {
  const meter = await serverMeter(servers)
  return async () => (await meter()).cpuMs
}

/**
 * Starts measuring the servers' own CPU and stalls; the returned function gives the CPU ms used
 * since (summed) and the longest stalls since (of any of them).
 */
export async function serverMeter(servers: ServerProc[]): Promise<() => Promise<{ cpuMs: number; stalls: ServerStalls }>> {
  const before = await Promise.all(servers.map((s) => s.probe('cpu')))
  return async () => {
    const after = await Promise.all(servers.map((s) => s.probe('cpu')))
    const cpuMs = after.reduce((sum, a, i) => sum + a.cpu.user + a.cpu.system - before[i]!.cpu.user - before[i]!.cpu.system, 0) / 1000
    const stalls: ServerStalls = { loopMaxMs: 0, gcMaxMs: 0, gcMs: 0, gcCount: 0 }
    for (const a of after) {
      if (!a.stalls) continue
      stalls.loopMaxMs = Math.max(stalls.loopMaxMs, round(a.stalls.loopMaxMs, 1))
      stalls.gcMaxMs = Math.max(stalls.gcMaxMs, round(a.stalls.gcMaxMs, 1))
      stalls.gcMs = round(stalls.gcMs + a.stalls.gcMs, 1)
      stalls.gcCount += a.stalls.gcCount
    }
    return { cpuMs, stalls }
  }
}

/** The servers' own CPU over `ms` (cores, summed). */
export async function serverCores(servers: ServerProc[], ms: number): Promise<number> {
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
export async function waitForServersIdle(ctx: BenchContext, servers: ServerProc[], maxMs: number): Promise<number> {
  // Background work can come in bursts a second apart (the expiry cascade polls the stream once a
  // second), so each window spans more than a second, and full mode wants two quiet ones in a row.
  const windowMs = ctx.options.quick ? 1_200 : 2_000
  const needed = ctx.options.quick ? 1 : 2
  const started = Date.now()
  let quiet = 0
  while (Date.now() - started < maxMs) {
    const busy = await Promise.all(servers.map((s) => serverCores([s], windowMs)))
    quiet = busy.every((c) => c < 0.1) ? quiet + 1 : 0
    if (quiet >= needed) return Date.now() - started - needed * windowMs
  }
  ctx.notes.push(`a server was still busy ${Math.round(maxMs / 1000)} s after it started; measured anyway`)
  return Date.now() - started
}

/**
 * Waits (at most maxMs) until processes outside this run use less than 0.3 cores. On a machine
 * that stays busy the wait gives up; after one gave up, the next ones wait at most
 * BUSY_MACHINE_WAIT_MS until one finds quiet again, so a busy machine slows the run down by a
 * bounded amount (the run's notes count the waits that gave up).
 */
export async function waitForQuiet(ctx: BenchContext, maxMs: number, extraPids: number[] = []): Promise<number> {
  const deadline = Date.now() + (ctx.quiet.busy ? Math.min(maxMs, BUSY_MACHINE_WAIT_MS) : maxMs)
  let foreign = NaN
  for (;;) {
    const before = await cpuSnapshot(extraPids)
    await sleep(300)
    foreign = foreignCores(before, await cpuSnapshot(extraPids))
    if (!(foreign > 0.3)) {
      ctx.quiet.busy = false
      return foreign
    }
    if (Date.now() >= deadline) {
      ctx.quiet.busy = true
      ctx.quiet.gaveUp++
      return foreign
    }
  }
}

const BUSY_MACHINE_WAIT_MS = 3_000

/** Puts the tail of a server's own output (its warnings and errors) into the run's notes. */
export function noteServerOutput(ctx: BenchContext, servers: ServerProc[]): void {
  for (const server of servers) {
    const tail = server
      .output()
      .split('\n')
      .filter((line) => line.trim() && !/NodeVersionSupportWarning|node >=22|a\.co\/|trace-warnings|AWS SDK|upgrade to node|continue receiving|first week of/i.test(line))
      .slice(-5)
      .join(' | ')
    if (tail) {
      ctx.notes.push(`${server.name} on port ${server.port} said: ${tail.slice(0, 600)}`)
      console.error(`[bench] ${server.name} on port ${server.port} said:\n${server.output().slice(-3000)}`)
    }
  }
}

export interface PublishCounter {
  /** Starts counting; the returned function stops and reports. */
  start(): Promise<() => Promise<{ publishes: number; commandstats: number; byKind: Record<string, number> }>>
}

export interface RateJob {
  kind: 'typing' | 'message'
  transport: Transport
  rate: number
  pairs: number
  durationMs?: number
  servers?: [number, number]
}

/**
 * One step at a fixed rate: the load generator's figures, the server's own CPU per event, and the
 * CPU other processes took meanwhile. A step that failed while other processes took more than
 * 0.3 cores is run again (plan.retries times) after waiting for quiet; the best attempt is kept.
 */
export async function rateStep(
  ctx: BenchContext,
  server: ServerProc | ServerProc[],
  lg: LoadGen,
  job: RateJob,
  extra: { publishCounter?: PublishCounter; extraPids?: number[] } = {},
): Promise<RateStep> {
  const { plan } = ctx
  const servers = Array.isArray(server) ? server : [server]
  const extraPids = extra.extraPids ?? []
  let best: RateStep | undefined
  for (let attempt = 1; attempt <= 1 + plan.retries; attempt++) {
    const counting = await extra.publishCounter?.start()
    const serverCpu = await serverMeter(servers)
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
    const { cpuMs: serverCpuMs, stalls } = await serverCpu()
    const held =
      result.latency.p99 <= 50 && result.achieved >= 0.95 * result.target && result.latency.lost === 0 && result.errors === 0 && result.skipped === 0
    const step: RateStep = {
      ...result,
      held,
      serverCpuMs: round(serverCpuMs),
      serverCpuUsPerEvent: round((serverCpuMs * 1000) / Math.max(1, result.sent), 0),
      foreignCores: foreignCores(machineBefore, machineAfter),
      attempts: attempt,
      serverStalls: stalls,
    }
    if (counting) {
      const counted = await counting()
      // Every event the step caused: the window's sends plus the typing=false sent for users left
      // typing, less the sends that failed (nothing stored, nothing to publish).
      const events = result.sent + result.cleanupSent - result.errors
      const publishes: PublishCount = {
        events,
        publishes: counted.publishes,
        perEvent: round(counted.publishes / Math.max(1, events), 3),
        commandstatsDelta: counted.commandstats,
        byKind: counted.byKind,
      }
      step.publishes = publishes
    }
    if (!best || step.held || step.foreignCores < best.foreignCores) best = step
    if (step.held || !(step.foreignCores > 0.3) || !step.drained || attempt > plan.retries) break
    ctx.log(`  (${job.rate}/s failed while other processes used ${step.foreignCores} cores: waiting for quiet and running it again)`)
    await waitForQuiet(ctx, plan.quietWaitMs, extraPids)
  }
  return best!
}

/**
 * Active pairs for a rate: every sending user then sends one event a second. Hush shows a chat
 * side's typing changes at most once per 500 ms (later ones wait for its 250 ms sweep), so two
 * a second per user would measure that throttle rather than the server; and a user idle for 6 s
 * would get Hush's automatic typing=false, an event the generator does not count. Past
 * `available` pairs, users send faster (a typing step is then throttle-bound: see plan.rateConns).
 */
export const pairsFor = (rate: number, available: number) => Math.min(available, Math.max(50, Math.ceil(rate / 2)))

export function describeStep(name: string, step: RateStep): string {
  return (
    `${name} @ ${step.target}/s: achieved ${step.achieved}/s, p50 ${ms(step.latency.p50)} p99 ${ms(step.latency.p99)} max ${ms(step.latency.max)} ms, ` +
    `lost ${step.latency.lost}, errors ${step.errors}, skipped ${step.skipped}, server ${step.serverCpuUsPerEvent} µs/event, other CPU ${step.foreignCores}, ` +
    `longest stall: server ${step.serverStalls?.loopMaxMs} ms (GC ${step.serverStalls?.gcMaxMs} ms), load generator ${step.loadgenLoopMaxMs} ms → ${step.held ? 'held' : 'NOT held'}` +
    (step.drained ? '' : `, backlog not drained after ${step.drainMs} ms`) +
    (step.firstError ? ` (${step.firstError.slice(0, 160)})` : '')
  )
}

/** Warm-up (JIT, caches, sockets) before a series is measured; not recorded. */
export async function warmUp(ctx: BenchContext, lg: LoadGen, kind: 'typing' | 'message', transport: Transport): Promise<void> {
  const { plan } = ctx
  await lg.run<RateResult>({ type: 'rate', kind, transport, rate: Math.min(200, plan.rates[0]!), durationMs: plan.warmupMs, pairs: 50, graceMs: plan.graceMs })
}

export interface LadderResult {
  steps: RateStep[]
  /** highest rate held (0: none) */
  held: number
  /** the highest rate tried still held: `held` is a lower bound */
  top: boolean
}

/**
 * Rates from `start` (default: the plan's first), doubling while held (past the plan's last, up
 * to extendTo), stopping at the first rate not held; when the first does not hold, halving down
 * to the one that does.
 */
export async function ladder(
  ctx: BenchContext,
  name: string,
  server: ServerProc,
  lg: LoadGen,
  kind: 'typing' | 'message',
  transport: Transport,
  options: { rates?: number[]; start?: number; extend?: boolean } = {},
): Promise<LadderResult> {
  const { plan } = ctx
  const base = options.rates ?? plan.rates
  const available = plan.rateConns / 2
  const steps: RateStep[] = []
  const run = async (rate: number) => {
    const step = await rateStep(ctx, server, lg, { kind, transport, rate, pairs: pairsFor(rate, available) })
    steps.push(step)
    if (step.latency.lost > step.sent / 2 && step.errors > 0) noteServerOutput(ctx, [server])
    ctx.log(describeStep(name, step))
    return step
  }
  await waitForQuiet(ctx, plan.quietWaitMs)
  const start = options.start ?? base[0]!
  // From `start` up through every rate a ladder can visit: the step-down rates below the plan's
  // first (halvings of it) and the plan's own, so a ladder that starts low skips none.
  const below: number[] = []
  for (let rate = Math.floor(base[0]! / 2); rate >= Math.min(start, plan.stepDownTo); rate = Math.floor(rate / 2)) below.unshift(rate)
  const list = [...below, ...base].filter((r) => r >= start)
  if (list[0] !== start) list.unshift(start)
  let stopped = false
  for (let i = 0; i < list.length; i++) {
    const step = await run(list[i]!)
    if (!step.drained) {
      ctx.notes.push(`${name}: the server had not answered every request ${Math.round(step.drainMs / 1000)} s after the ${list[i]}/s step; the ladder stopped there`)
      stopped = true
      break
    }
    // A rate that does not hold is the end of the ladder: higher ones will not hold either.
    if (!step.held) break
    if (i === list.length - 1 && options.extend !== false && list[i]! * 2 <= plan.extendTo) list.push(list[i]! * 2)
  }
  if (!stopped && !steps.some((s) => s.held)) {
    for (let rate = Math.floor(start / 2); rate >= plan.stepDownTo; rate = Math.floor(rate / 2)) {
      const step = await run(rate)
      if (step.held || !step.drained) break
    }
  }
  steps.sort((a, b) => a.target - b.target)
  const heldRates = steps.filter((s) => s.held).map((s) => s.target)
  const held = heldRates.length ? Math.max(...heldRates) : 0
  const top = held > 0 && held === Math.max(...steps.map((s) => s.target))
  return { steps, held, top }
}

/** With --profile, a CPU profile of `server` around `work` (once per phase: later calls just run). */
export async function profiled<T>(ctx: BenchContext, server: ServerProc, phase: string | undefined, work: () => Promise<T>): Promise<T> {
  if (!phase || !ctx.options.profile || ctx.results.profiles?.[phase]) return work()
  const dir = path.join(ROOT, 'bench/results/profile')
  await mkdir(dir, { recursive: true })
  const file = path.join(dir, `${server.name}-${phase}.cpuprofile`)
  await server.probe('prof-start')
  try {
    return await work()
  } finally {
    await server.probe('prof-stop', file)
    ctx.results.profiles ??= {}
    ctx.results.profiles[phase] = await summarizeProfile(file)
  }
}

/** With --heap, a heap snapshot of the server holding `conns` connections, for a diff by constructor. */
export async function heapSnapshot(ctx: BenchContext, server: ServerProc, conns: number): Promise<void> {
  if (!ctx.options.heap) return
  const dir = path.join(ROOT, 'bench/results/profile')
  await mkdir(dir, { recursive: true })
  const file = path.join(dir, `${server.name}-${conns}.heapsnapshot`)
  await server.probe('heap', file)
  ctx.log(`${server.name}: heap snapshot at ${conns} connections: ${path.relative(ROOT, file)}`)
}
