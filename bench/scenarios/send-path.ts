/**
 * Hush's send path against DynamoDB Local's own throughput for the same write set: both closed
 * loops with the same writers in flight, one per chat. Hush: sendMessage over HTTP until the
 * recipient's MessageEvent. DynamoDB alone: the two writes Hush's store makes for a send, built
 * by that store (bench/lib/ddb-alone.ts), sent straight to DynamoDB Local. Alternating, `rounds`
 * runs of each (Hush, DynamoDB, DynamoDB, Hush, Hush, DynamoDB): DynamoDB Local's JIT and the
 * table's growth must not favour whichever runs second. Every run records the CPU each process
 * spent per write, which is what the ratio comes down to on a machine where DynamoDB Local shares
 * the cores.
 */
import type { DdbResult, SendPathResult } from '../loadgen.js'
import { loadConfig } from '../../src/config.js'
import { hushEnv, type BenchContext } from '../lib/context.js'
import { dynamodbLocalCpuMs } from '../lib/cpu.js'
import type { FleetMember } from '../lib/fleet.js'
import { ms } from '../lib/format.js'
import { profiled, serverCpuMeter, waitForQuiet } from '../lib/measure.js'
import type { ServerProc } from '../lib/procs.js'
import type { SendPathResults } from '../lib/results.js'
import { round } from '../lib/stats.js'
import { alternating, compare, type Comparison } from '../lib/trials.js'


export async function runSendPath(ctx: BenchContext, hush: FleetMember): Promise<SendPathResults> {
  const { plan } = ctx
  const { server, lg } = hush
  const dynamodbCpuMs = () => dynamodbLocalCpuMs(ctx.dynamodb.endpoint)
  const withCpu = async <R extends SendPathResult | DdbResult>(servers: ServerProc[], run: () => Promise<R>): Promise<R> => {
    const [serverCpu, dynamodbBefore] = await Promise.all([serverCpuMeter(servers), dynamodbCpuMs()])
    const result = await run()
    const [serverMs, dynamodbAfter] = await Promise.all([serverCpu(), dynamodbCpuMs()])
    const perWrite = (v: number) => round((v * 1000) / Math.max(1, result.completed), 0)
    result.cpuPerWrite = { server: perWrite(serverMs), dynamodbLocal: perWrite(dynamodbAfter - dynamodbBefore), loadgen: perWrite(result.loadgenCpuMs) }
    return result
  }
  const cpuNote = (c: SendPathResult['cpuPerWrite']) => (c ? `; CPU per write: server ${c.server} µs, DynamoDB Local ${c.dynamodbLocal} µs, load generator ${c.loadgen} µs` : '')
  // The chat lifetime and live-chat limit the Hush servers of this run have.
  const { chatTtlSeconds, limits } = loadConfig(hushEnv(ctx))
  const out: SendPathResults = { sequence: [], hush: [], ddb: [] }
  let ddbRuns = 0
  for (const { round: r, side } of alternating(['hush', 'ddb'] as const, plan.rounds)) {
    out.sequence.push(side)
    await waitForQuiet(ctx, plan.quietWaitMs)
    if (side === 'hush') {
      const result = await profiled(ctx, server, r === 0 ? 'sendpath' : undefined, () =>
        withCpu([server], () => lg.run<SendPathResult>({ type: 'sendpath', transport: 'http', concurrency: plan.sendPath.concurrency, durationMs: plan.sendPath.durationMs })),
      )
      ctx.log(`send path: Hush ${result.throughput}/s, p50 ${ms(result.latency.p50)} p99 ${ms(result.latency.p99)} ms, errors ${result.errors}${cpuNote(result.cpuPerWrite)}`)
      out.hush.push({ round: r, result })
    } else {
      const result = await withCpu([], () =>
        lg.run<DdbResult>({
          type: 'ddb',
          endpoint: ctx.dynamodb.endpoint,
          table: ctx.table,
          runTag: `${ctx.runId}${++ddbRuns}`,
          idSecret: ctx.idSecret,
          chatTtlSeconds,
          maxLiveChats: limits.maxLiveChats,
          concurrency: plan.sendPath.concurrency,
          durationMs: plan.sendPath.durationMs,
        }),
      )
      ctx.log(
        `send path: DynamoDB Local alone ${result.throughput}/s, p50 ${ms(result.latency.p50)} p99 ${ms(result.latency.p99)} ms, errors ${result.errors}` +
          `${cpuNote(result.cpuPerWrite)}${result.builtDuringRun ? ` (${result.builtDuringRun} sends built during the run)` : ''}`,
      )
      out.ddb.push({ round: r, result })
    }
  }
  return out
}

export function sendPathComparisons(s: SendPathResults): Comparison[] {
  const byRound = <T extends { round: number }>(list: T[]) => [...list].sort((a, b) => a.round - b.round)
  return [
    compare(
      'send-path',
      'messages per second, closed loop (the goal is on DynamoDB alone / Hush)',
      'higher',
      { label: 'DynamoDB Local alone (same write set)', values: byRound(s.ddb).map((d) => d.result.throughput) },
      { label: 'Hush sendMessage → recipient event', values: byRound(s.hush).map((h) => h.result.throughput) },
    ),
  ]
}
