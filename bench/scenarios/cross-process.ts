/**
 * Across processes: three Hush processes, connected once. Group A, both users on S0 (one process,
 * in-process events); group B, both on R1 (one process with Redis); group C, one user on R1 and one
 * on R2 (two processes on one Redis: every event crosses). Typing goes over the socket, as a Hush
 * client sends it: the hop measured is Redis's, and HTTP handling (a request and an answer per
 * event, in three processes on two cores) would only add noise to both sides of the comparison.
 * Each rate runs every group `rounds` times in alternating order; the p99 added by crossing is
 * taken per round (two processes − in-process). PUBLISH calls are counted with a PSUBSCRIBE on
 * this run's prefix (exact, whatever else uses the Redis) and with INFO commandstats (the whole
 * server).
 */
import { Redis } from 'ioredis'
import type { ConnectResult, Transport } from '../loadgen.js'
import { pairUsers, specOf, startTarget, type BenchContext } from '../lib/context.js'
import { ms } from '../lib/format.js'
import { noteServerOutput, pairsFor, rateStep, waitForQuiet, waitForServersIdle, type PublishCounter } from '../lib/measure.js'
import { startLoadGen } from '../lib/procs.js'
import type { CrossGroup, CrossResults } from '../lib/results.js'
import { sleep } from '../lib/stats.js'
import { alternating, spreadOf, type Spread } from '../lib/trials.js'

const CROSS_TRANSPORT: Transport = 'ws'

export const CROSS_LABELS: Record<CrossGroup, string> = {
  'in-process': '1 process, in-process events',
  'one-process-redis': '1 process + Redis',
  'two-processes': '2 processes + Redis (every event crosses)',
}

function commandstatsPublish(info: string): number {
  const match = /cmdstat_publish:calls=(\d+)/.exec(info)
  return match ? Number(match[1]) : 0
}

export async function runCross(ctx: BenchContext, chatIds: string[]): Promise<CrossResults> {
  const { plan } = ctx
  const P = plan.cross.pairsPerGroup
  const out: CrossResults = { pairsPerGroup: P, rates: plan.cross.rates, sequence: [], steps: [], publishes: {} }
  const counter = new Redis(ctx.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  const stats = new Redis(ctx.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await counter.connect()
  await stats.connect()
  let published = 0
  const byKind: Record<string, number> = {}
  counter.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
    published++
    const kind = /"kind":"(\w+)"/.exec(message.toString())?.[1] ?? 'other'
    byKind[kind] = (byKind[kind] ?? 0) + 1
  })
  await counter.psubscribe(`${ctx.redisPrefix}*`)
  // Redis's CPU is this run's during a step, not another process's.
  const redisPid = Number(/process_id:(\d+)/.exec(await stats.info('server'))?.[1])
  const extraPids = Number.isInteger(redisPid) ? [redisPid] : []
  const publishCounter: PublishCounter = {
    async start() {
      for (const k of Object.keys(byKind)) delete byKind[k]
      const before = { published, cmd: commandstatsPublish(await stats.info('commandstats')) }
      return async () => {
        await sleep(300)
        return { publishes: published - before.published, commandstats: commandstatsPublish(await stats.info('commandstats')) - before.cmd, byKind: { ...byKind } }
      }
    },
  }
  const env = { REDIS_URL: ctx.redisUrl, REDIS_PREFIX: ctx.redisPrefix }
  const [s0, r1, r2] = await Promise.all([startTarget(ctx, 'hush'), startTarget(ctx, 'hush', env), startTarget(ctx, 'hush', env)])
  const lg = startLoadGen()
  try {
    await lg.run({ type: 'init', protocol: 'hush', servers: [specOf('hush', s0), specOf('hush', r1), specOf('hush', r2)] })
    // idx → server: group A (pairs 0..P-1) on 0, group B on 1, group C split 1/2.
    const serverOf = (idx: number) => {
      const pair = idx >> 1
      if (pair < P) return 0
      if (pair < 2 * P) return 1
      return 1 + (idx & 1)
    }
    const users = await pairUsers(ctx, chatIds.slice(0, 3 * P), serverOf)
    const connect = await lg.run<ConnectResult>({ type: 'connect', users, concurrency: 25, localAddresses: [], settleMs: plan.settleMs }, 600_000)
    ctx.log(
      `cross: ${connect.connected} connections over 3 processes (${connect.failed} failed, ${connect.subscriptionErrors} subscription errors, ` +
        `${connect.chatsSettled}/${connect.chatsTotal} chats saw presence)` + (connect.firstError ? `: ${connect.firstError}` : ''),
    )
    const groups = [
      { group: 'in-process' as const, servers: [0, 0] as [number, number], procs: [s0] },
      { group: 'one-process-redis' as const, servers: [1, 1] as [number, number], procs: [r1] },
      { group: 'two-processes' as const, servers: [1, 2] as [number, number], procs: [r1, r2] },
    ]
    const busy = await waitForServersIdle(ctx, [s0, r1, r2], plan.idleWaitMs)
    out.busyAfterStartMs = busy
    if (busy > 2_000) ctx.log(`cross: the fresh servers kept busy for ${(busy / 1000).toFixed(1)} s after start (background work)`)
    await waitForQuiet(ctx, plan.quietWaitMs, extraPids)
    const warmRate = plan.cross.rates[0]!
    for (const g of groups) {
      await lg.run({ type: 'rate', kind: 'typing', transport: CROSS_TRANSPORT, rate: warmRate, durationMs: plan.cross.stepMs / 2, pairs: pairsFor(warmRate, P), graceMs: plan.graceMs, servers: g.servers })
    }
    for (const rate of plan.cross.rates) {
      for (const { round, side: g } of alternating(groups, plan.rounds)) {
        out.sequence.push(`${g.group}@${rate}`)
        // As in the ladders, one event a second per sending user (see pairsFor).
        const step = await rateStep(ctx, g.procs, lg, { kind: 'typing', transport: CROSS_TRANSPORT, rate, pairs: pairsFor(rate, P), durationMs: plan.cross.stepMs, servers: g.servers }, { publishCounter, extraPids })
        const p = step.publishes
        ctx.log(
          `cross: ${CROSS_LABELS[g.group]} @ ${rate}/s (run ${round + 1}): p50 ${ms(step.latency.p50)} p99 ${ms(step.latency.p99)} ms, lost ${step.latency.lost}, errors ${step.errors}, ` +
            `${p?.publishes} PUBLISH for ${p?.events} events` + (step.firstError ? ` (${step.firstError.slice(0, 200)})` : ''),
        )
        if (step.latency.lost > step.sent / 2) noteServerOutput(ctx, g.procs)
        if (rate === warmRate && round === 0 && g.group === 'one-process-redis') out.publishes.typingOneProcess = p
        if (rate === warmRate && round === 0 && g.group === 'two-processes') out.publishes.typing = p
        out.steps.push({ rate, round, group: g.group, step })
      }
    }
    const messages = await rateStep(
      ctx,
      [r1, r2],
      lg,
      { kind: 'message', transport: 'http', rate: plan.cross.messageRate, pairs: pairsFor(plan.cross.messageRate, P), durationMs: plan.cross.messageStepMs, servers: [1, 2] },
      { publishCounter, extraPids },
    )
    out.messagesTwoProcesses = messages
    out.publishes.messages = messages.publishes
    ctx.log(
      `cross: messages @ ${plan.cross.messageRate}/s over 2 processes: p99 ${ms(messages.latency.p99)} ms; ` +
        `${messages.publishes?.perEvent} PUBLISH per message ${JSON.stringify(messages.publishes?.byKind)}`,
    )
  } finally {
    await lg.stop()
    await Promise.all([s0.stop(), r1.stop(), r2.stop()])
    counter.disconnect()
    // Leave nothing of this run in Redis (presence keys of the run's prefix).
    let cursor = '0'
    do {
      const [next, keys] = await stats.scan(cursor, 'MATCH', `${ctx.redisPrefix}*`, 'COUNT', 1000)
      if (keys.length) await stats.del(...keys)
      cursor = next
    } while (cursor !== '0')
    stats.disconnect()
  }
  return out
}

/** Per rate: the p99 added by crossing processes, two processes − in-process, per round. */
export function crossAdded(c: CrossResults): Array<{ rate: number; added: Spread; baseHeld: boolean }> {
  return c.rates.map((rate) => {
    const of = (group: CrossGroup) => c.steps.filter((s) => s.rate === rate && s.group === group).sort((a, b) => a.round - b.round)
    const one = of('in-process')
    const two = of('two-processes')
    const n = Math.min(one.length, two.length)
    const added = Array.from({ length: n }, (_, i) => two[i]!.step.latency.p99 - one[i]!.step.latency.p99)
    return { rate, added: spreadOf(added), baseHeld: one.every((s) => s.step.held) }
  })
}
