/**
 * Reconnects: on a fleet of warm servers, each holding the plan's connections, every client of one
 * target drops its socket and connects again (connection_init with its token, both subscriptions),
 * as a fleet of apps does after a server restart or a network change. Measured: connections per
 * second from the first socket opened until every connection is live (Hush: every chat saw its
 * peer's presence, so both users' subscriptions run; the floor and the peer confirm nothing, so
 * their clock stops at the last subscribe sent, which favours them). Targets alternate, `rounds`
 * times each.
 */
import type { BenchContext } from '../lib/context.js'
import { connectUsers, type Fleet } from '../lib/fleet.js'
import { serverCores, waitForQuiet } from '../lib/measure.js'
import type { ConnectResults } from '../lib/results.js'
import { sleep } from '../lib/stats.js'
import { labelOf, type Target } from '../lib/targets.js'
import { alternating, compare, type Comparison } from '../lib/trials.js'

export async function runConnect(ctx: BenchContext, fleet: Fleet): Promise<ConnectResults> {
  const { plan } = ctx
  const targets = [...fleet.members.keys()]
  const out: ConnectResults = { targets, conns: plan.rateConns, sequence: [], runs: [] }
  for (const { round, side: target } of alternating(targets, plan.rounds)) {
    const member = fleet.members.get(target)!
    out.sequence.push(target)
    await member.lg.run({ type: 'close', keep: 0 })
    // The server finishes with the closed sockets (presence, typing, streams) before the clock starts.
    for (let i = 0; i < 20 && (await serverCores([member.server], 500)) > 0.1; i++) await sleep(100)
    await waitForQuiet(ctx, plan.quietWaitMs)
    const result = await connectUsers(ctx, member, member.users, `reconnected (run ${round + 1} of ${plan.rounds})`)
    out.runs.push({ round, target, result })
  }
  return out
}

/** Reconnect rate until live: Hush against each other target, and its graphql-ws alternative against the baselines. */
export function connectComparisons(c: ConnectResults): Comparison[] {
  const rates = (target: Target) =>
    c.runs
      .filter((r) => r.target === target)
      .sort((a, b) => a.round - b.round)
      .map((r) => (r.result.failed > 0 ? NaN : r.result.liveRate))
  const pairs: Array<[Target, Target]> = [
    ['hush', 'floor'],
    ['hush', 'peer'],
    ['hush', 'hush-graphql-ws'],
    ['hush-graphql-ws', 'floor'],
    ['hush-graphql-ws', 'peer'],
  ]
  return pairs
    .filter(([a, b]) => c.targets.includes(a) && c.targets.includes(b))
    .map(([a, b]) =>
      compare(
        'connect',
        `reconnects per second until live, ${c.conns.toLocaleString('en-US')} clients at once (25 opening at a time)`,
        'higher',
        { label: labelOf(a), values: rates(a) },
        { label: labelOf(b), values: rates(b) },
      ),
    )
}
