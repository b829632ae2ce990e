/**
 * Memory per connection: for each target, `rounds` fresh servers (in alternating order), each
 * measured empty and then holding connections whose users each hold two subscriptions
 * (notifications + one chat for Hush; two chats for the peer; two rooms for the floor), memory
 * read after a full GC. The first run of each target also climbs the plan's higher steps (the
 * scaling table); every run stops at the goal's connection count, where the comparison is taken.
 */
import type { BenchContext } from '../lib/context.js'
import { connectUsers, startMember, stopMember, usersFor } from '../lib/fleet.js'
import { kb } from '../lib/format.js'
import { heapSnapshot, memOf, profiled, serverCores, waitForQuiet } from '../lib/measure.js'
import type { ConnStep, MemoryResults, MemoryRun } from '../lib/results.js'
import { round } from '../lib/stats.js'
import { labelOf, type Target } from '../lib/targets.js'
import { alternating, compare, type Comparison } from '../lib/trials.js'

export async function runMemory(ctx: BenchContext, targets: Target[]): Promise<MemoryResults> {
  const { plan } = ctx
  const out: MemoryResults = { targets, goalConns: plan.goalConns, sequence: [], runs: [] }
  for (const { round: r, side: target } of alternating(targets, plan.rounds)) {
    const stepsOfRun = r === 0 ? plan.connSteps : plan.connSteps.filter((n) => n <= plan.goalConns)
    const users = await usersFor(ctx, target, Math.max(...stepsOfRun))
    ctx.log(`memory: ${target}, run ${r + 1} of ${plan.rounds}`)
    out.sequence.push(target)
    const member = await startMember(ctx, target, users)
    try {
      await waitForQuiet(ctx, plan.quietWaitMs)
      const run = await profiled(ctx, member.server, r === 0 && target === 'hush' ? 'connect' : undefined, async (): Promise<MemoryRun> => {
        const baseline = memOf((await member.server.probe('mem')).mem)
        if (r === 0) await heapSnapshot(ctx, member.server, 0)
        const steps: ConnStep[] = []
        let previous = { n: 0, mem: baseline }
        for (const n of stepsOfRun) {
          const connect = await connectUsers(ctx, member, users.slice(previous.n, n), `${n} connections:`, n)
          const mem = memOf((await member.server.probe('mem')).mem)
          if (r === 0) await heapSnapshot(ctx, member.server, n)
          const idleCores = await serverCores([member.server], 1_000)
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
            marginalKB: { rss: round((mem.rss - previous.mem.rss) / added / 1024), heap: round((mem.heapUsed - previous.mem.heapUsed) / added / 1024) },
            idleCores,
          }
          steps.push(step)
          ctx.log(`memory: ${target} at ${n} connections: RSS ${kb(step.perConnKB.rss)} KB/conn, heap ${kb(step.perConnKB.heap)} KB/conn`)
          previous = { n, mem }
        }
        return { round: r, target, busyAfterStartMs: member.busyAfterStartMs, baseline, steps }
      })
      out.runs.push(run)
    } finally {
      await stopMember(member)
    }
  }
  return out
}

/**
 * RSS and heap per connection at the goal's count: Hush against each other target, and Hush's
 * alternative (on graphql-ws's useServer) against the floor and the peer, as the goals judge Hush.
 */
export function memoryComparisons(m: MemoryResults): Comparison[] {
  const at = (target: Target, metric: 'rss' | 'heap') =>
    m.runs
      .filter((run) => run.target === target)
      .sort((a, b) => a.round - b.round)
      .map((run) => run.steps.find((s) => s.n === m.goalConns)?.perConnKB[metric] ?? NaN)
  const pairs: Array<[Target, Target]> = [
    ['hush', 'floor'],
    ['hush', 'peer'],
    ['hush', 'hush-graphql-ws'],
    ['hush-graphql-ws', 'floor'],
    ['hush-graphql-ws', 'peer'],
  ]
  const out: Comparison[] = []
  for (const [a, b] of pairs.filter(([a, b]) => m.targets.includes(a) && m.targets.includes(b))) {
    for (const metric of ['rss', 'heap'] as const) {
      out.push(
        compare(
          'memory',
          `${metric === 'rss' ? 'RSS' : 'heap'} KB per connection at ${m.goalConns.toLocaleString('en-US')} connections (after GC)`,
          'lower',
          { label: labelOf(a), values: at(a, metric) },
          { label: labelOf(b), values: at(b, metric) },
        ),
      )
    }
  }
  return out
}
