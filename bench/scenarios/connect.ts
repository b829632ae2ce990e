/**
 * Reconnects: on a fleet of warm servers, each holding the plan's connections, every client of one
 * target drops its socket and connects again (connection_init with its token, both subscriptions),
 * as a fleet of apps does after a server restart or a network change. Measured: connections per
 * second from the first socket opened until every connection is live (Hush: every chat saw its
 * peer's presence, so both users' subscriptions run; the floor and the peer confirm nothing, so
 * their clock stops at the last subscribe sent, which favours them). Targets alternate, `rounds`
 * times each. With Hush among them, so does DynamoDB Local serving the same reads alone
 * (bench/lib/ddb-alone-connect.ts): where DynamoDB Local is what binds Hush's reconnects, that is
 * the rate to compare with. It runs twice per round: through the document client Hush uses (the
 * goal's reference) and through the plain AWS SDK document client that Hush's lean reads replaced
 * (docs/decisions/0004-lean-dynamodb-reads.md). Every Hush and DynamoDB-alone run records the CPU
 * each process spent per connect.
 */
import type { DdbConnectResult } from '../lib/ddb-alone-connect.js'
import type { BenchContext } from '../lib/context.js'
import { dynamodbLocalCpuMs } from '../lib/cpu.js'
import { CONNECTS_AT_A_TIME, connectUsers, type Fleet, type FleetMember } from '../lib/fleet.js'
import { ms } from '../lib/format.js'
import { profiled, serverCores, serverCpuMeter, waitForQuiet } from '../lib/measure.js'
import type { ConnectCpu, ConnectResults } from '../lib/results.js'
import { round, sleep } from '../lib/stats.js'
import { isHushTarget, labelOf, type Target } from '../lib/targets.js'
import { alternating, compare, type Comparison } from '../lib/trials.js'

export async function runConnect(ctx: BenchContext, fleet: Fleet): Promise<ConnectResults> {
  const { plan } = ctx
  const targets = [...fleet.members.keys()]
  const hush = fleet.members.get('hush')
  const ddbSdk: NonNullable<ConnectResults['ddbSdk']> = []
  const out: ConnectResults = { targets, conns: plan.rateConns, sequence: [], runs: [], ddb: [], ddbSdk }
  const dynamodbCpuMs = () => dynamodbLocalCpuMs(ctx.dynamodb.endpoint)
  const sides: Array<Target | 'ddb'> = hush ? [...targets, 'ddb'] : targets
  for (const { round, side: target } of alternating(sides, plan.rounds)) {
    out.sequence.push(target)
    if (target === 'ddb') {
      await waitForQuiet(ctx, plan.quietWaitMs)
      out.ddb.push({ round, result: await ddbAloneRun(ctx, hush!, 'hush') })
      await waitForQuiet(ctx, plan.quietWaitMs)
      ddbSdk.push({ round, result: await ddbAloneRun(ctx, hush!, 'sdk') })
      continue
    }
    const member = fleet.members.get(target)!
    await member.lg.run({ type: 'close', keep: 0 })
    // The server finishes with the closed sockets (presence, typing, streams) before the clock starts.
    for (let i = 0; i < 20 && (await serverCores([member.server], 500)) > 0.1; i++) await sleep(100)
    await waitForQuiet(ctx, plan.quietWaitMs)
    const [serverCpu, dynamodbBefore] = await Promise.all([serverCpuMeter([member.server]), dynamodbCpuMs()])
    const result = await profiled(ctx, member.server, round === 0 && target === 'hush' ? 'reconnect' : undefined, () =>
      connectUsers(ctx, member, member.users, `reconnected (run ${round + 1} of ${plan.rounds})`),
    )
    const [serverMs, dynamodbAfter] = await Promise.all([serverCpu(), dynamodbCpuMs()])
    const cpu = isHushTarget(target) ? perConnect(member.users.length, { server: serverMs, dynamodbLocal: dynamodbAfter - dynamodbBefore, loadgen: result.loadgenCpuMs }) : undefined
    if (cpu) ctx.log(`${target}: CPU per connect: server ${cpu.server} µs, DynamoDB Local ${cpu.dynamodbLocal} µs, load generator ${cpu.loadgen} µs`)
    out.runs.push({ round, target, result, cpu })
  }
  return out
}

/** CPU milliseconds of a run as microseconds per connect. */
const perConnect = (connects: number, cpuMs: Record<keyof ConnectCpu, number>): ConnectCpu => {
  const each = (v: number) => round((v * 1000) / Math.max(1, connects), 0)
  return { server: each(cpuMs.server), dynamodbLocal: each(cpuMs.dynamodbLocal), loadgen: each(cpuMs.loadgen) }
}

/** DynamoDB Local serving the reads of Hush's users' connects, as many at a time as the reconnect test opens. */
async function ddbAloneRun(ctx: BenchContext, hush: FleetMember, client: 'hush' | 'sdk'): Promise<DdbConnectResult & { cpu: ConnectCpu }> {
  const before = await dynamodbLocalCpuMs(ctx.dynamodb.endpoint)
  const result = await hush.lg.run<DdbConnectResult>({
    type: 'ddb-connect',
    endpoint: ctx.dynamodb.endpoint,
    table: ctx.table,
    users: hush.users.map(({ userId, chatId }) => ({ userId, chatId })),
    concurrency: CONNECTS_AT_A_TIME,
    client,
  })
  const cpu = perConnect(result.connects, { server: 0, dynamodbLocal: (await dynamodbLocalCpuMs(ctx.dynamodb.endpoint)) - before, loadgen: result.loadgenCpuMs })
  ctx.log(
    `reconnect reads (${client === 'hush' ? "Hush's document client" : 'AWS SDK document client'}): DynamoDB Local alone ${result.rate}/s (${result.requestsPerConnect} requests per connect), p50 ${ms(result.latency.p50)} p99 ${ms(result.latency.p99)} ms, ` +
      `errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ''}; CPU per connect: DynamoDB Local ${cpu.dynamodbLocal} µs, load generator ${cpu.loadgen} µs`,
  )
  return { ...result, cpu }
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
    ['hush', 'hush-sdk-reads'],
    ['hush-graphql-ws', 'floor'],
    ['hush-graphql-ws', 'peer'],
  ]
  const ddbAlone =
    c.ddb.length > 0 && c.targets.includes('hush')
      ? [
          compare(
            'connect',
            `reconnects per second until live, ${c.conns.toLocaleString('en-US')} clients (the goal is on DynamoDB alone / Hush)`,
            'higher',
            { label: DDB_ALONE_LABEL, values: [...c.ddb].sort((a, b) => a.round - b.round).map((d) => (d.result.errors > 0 ? NaN : d.result.rate)) },
            { label: labelOf('hush'), values: rates('hush') },
          ),
        ]
      : []
  return [...pairs
    .filter(([a, b]) => c.targets.includes(a) && c.targets.includes(b))
    .map(([a, b]) =>
      compare(
        'connect',
        `reconnects per second until live, ${c.conns.toLocaleString('en-US')} clients at once (25 opening at a time)`,
        'higher',
        { label: labelOf(a), values: rates(a) },
        { label: labelOf(b), values: rates(b) },
      ),
    ), ...ddbAlone]
}

export const DDB_ALONE_LABEL = 'DynamoDB Local alone (same reads)'
export const DDB_ALONE_SDK_LABEL = 'DynamoDB Local alone, plain AWS SDK client'
