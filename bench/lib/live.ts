/**
 * The live scenarios' common course (typing-socket.ts, typing-http.ts): on a fleet of connected
 * servers, each series (a target driven over one transport) is warmed up, then
 * - its server CPU per event is measured at one fixed rate (plan.cpuRate), `rounds` times, the
 *   series alternating;
 * - its highest rate held at p99 ≤ 50 ms is found by a ladder of rates, `rounds` times, the series
 *   alternating (after the first, a series' ladder starts at the rate it held last time).
 */
import type { BenchContext } from './context.js'
import type { Fleet } from './fleet.js'
import { describeStep, ladder, pairsFor, profiled, rateStep, waitForQuiet, warmUp } from './measure.js'
import type { LiveResults, Series } from './results.js'
import { alternating, compare, type Comparison } from './trials.js'

export async function runLive(ctx: BenchContext, name: string, fleet: Fleet, wanted: Series[]): Promise<LiveResults> {
  const { plan } = ctx
  const series = wanted.filter((s) => fleet.members.has(s.target))
  const out: LiveResults = { conns: plan.rateConns, cpuRate: plan.cpuRate, series, sequence: { cpu: [], ladder: [] }, cpu: [], ladders: [] }
  for (const s of series) await warmUp(ctx, fleet.members.get(s.target)!.lg, s.kind, s.transport)

  for (const { round, side: s } of alternating(series, plan.rounds)) {
    const { server, lg } = fleet.members.get(s.target)!
    out.sequence.cpu.push(s.key)
    await waitForQuiet(ctx, plan.quietWaitMs)
    const step = await profiled(ctx, server, round === 0 && s.target === 'hush' ? `${name}-cpu` : undefined, () =>
      rateStep(ctx, server, lg, { kind: s.kind, transport: s.transport, rate: plan.cpuRate, pairs: pairsFor(plan.cpuRate, plan.rateConns / 2) }),
    )
    ctx.log(`${name}: ${describeStep(`${s.label} (CPU run ${round + 1})`, step)}`)
    out.cpu.push({ round, series: s.key, step })
  }

  const lastHeld = new Map<string, number>()
  for (const { round, side: s } of alternating(series, plan.rounds)) {
    const { server, lg } = fleet.members.get(s.target)!
    out.sequence.ladder.push(s.key)
    const start = lastHeld.get(s.key) || undefined
    const result = await profiled(ctx, server, round === 0 && s.target === 'hush' ? `${name}-ladder` : undefined, () =>
      ladder(ctx, `${name}: ${s.label} (ladder ${round + 1})`, server, lg, s.kind, s.transport, { start }),
    )
    lastHeld.set(s.key, result.held)
    out.ladders.push({ round, series: s.key, result })
  }
  return out
}

/** CPU per event and highest rate held, series `a` against each series in `bs` (those measured). */
export function liveComparisons(scenario: string, live: LiveResults, specs: Array<{ a: string; b: string; metric: 'cpu' | 'held' }>): Comparison[] {
  const byKey = new Map(live.series.map((s) => [s.key, s]))
  const cpu = (key: string) => live.cpu.filter((c) => c.series === key).sort((x, y) => x.round - y.round).map((c) => c.step.serverCpuUsPerEvent)
  const held = (key: string) => live.ladders.filter((l) => l.series === key).sort((x, y) => x.round - y.round)
  const out: Comparison[] = []
  for (const { a, b, metric } of specs) {
    const sa = byKey.get(a)
    const sb = byKey.get(b)
    if (!sa || !sb) continue
    if (metric === 'cpu') {
      out.push(compare(scenario, `server CPU µs per event at ${live.cpuRate.toLocaleString('en-US')}/s`, 'lower', { label: sa.label, values: cpu(a) }, { label: sb.label, values: cpu(b) }))
    } else {
      const ha = held(a)
      const hb = held(b)
      out.push(
        compare(
          scenario,
          'highest rate held at p99 ≤ 50 ms (events/s)',
          'higher',
          { label: sa.label, values: ha.map((l) => l.result.held), lowerBound: ha.some((l) => l.result.top) },
          { label: sb.label, values: hb.map((l) => l.result.held), lowerBound: hb.some((l) => l.result.top) },
        ),
      )
    }
  }
  return out
}
