/**
 * A fleet: the servers one scenario compares, running side by side, each driven by a load
 * generator of its own (one process per target, since a generator speaks one protocol) holding
 * `conns` connections. Hush targets share the chats created through the API; the floor and the
 * peer get chat ids of their own (they store nothing).
 */
import type { ConnectResult, UserSpec } from '../loadgen.js'
import { hushChats, pairUsers, specOf, startTarget, syntheticChats, type BenchContext } from './context.js'
import { waitForServersIdle, noteServerOutput } from './measure.js'
import { startLoadGen, type LoadGen, type ServerProc } from './procs.js'
import { ms } from './format.js'
import { isHushTarget, TARGET_INFO, type Target } from './targets.js'

/** Sockets a load generator opens at a time when it connects users (the handshake and both subscribes of each). */
export const CONNECTS_AT_A_TIME = 25

export interface FleetMember {
  target: Target
  server: ServerProc
  lg: LoadGen
  users: UserSpec[]
  /** how long the server kept busy after it started (background work), before anything was measured */
  busyAfterStartMs: number
}

export interface Fleet {
  members: Map<Target, FleetMember>
  stop(): Promise<void>
}

/** Starts a fresh server and its load generator for `target`; nothing connected yet. */
export async function startMember(ctx: BenchContext, target: Target, users: UserSpec[]): Promise<FleetMember> {
  const server = await startTarget(ctx, target)
  const lg = startLoadGen()
  try {
    await lg.run({ type: 'init', protocol: TARGET_INFO[target].protocol, servers: [specOf(target, server)] })
    const busyAfterStartMs = isHushTarget(target) ? await waitForServersIdle(ctx, [server], ctx.plan.idleWaitMs) : 0
    if (busyAfterStartMs > 2_000) ctx.log(`${target}: the fresh server kept busy for ${(busyAfterStartMs / 1000).toFixed(1)} s after start (background work)`)
    return { target, server, lg, users, busyAfterStartMs }
  } catch (error) {
    await lg.stop()
    await server.stop()
    throw error
  }
}

export async function stopMember(member: FleetMember): Promise<void> {
  await member.lg.stop()
  await member.server.stop()
}

/** The users of `conns` connections for `target` (two per chat). */
export async function usersFor(ctx: BenchContext, target: Target, conns: number): Promise<UserSpec[]> {
  const chats = isHushTarget(target) ? await hushChats(ctx, conns / 2) : syntheticChats(ctx, conns / 2)
  return pairUsers(ctx, chats)
}

/**
 * Connects `users` through the member's load generator, logging what happened. `total`: the
 * connections it will then hold (past 10,000, sockets rotate over several source addresses).
 */
export async function connectUsers(ctx: BenchContext, member: FleetMember, users: UserSpec[], what = 'connected', total = users.length): Promise<ConnectResult> {
  const connect = await member.lg.run<ConnectResult>(
    { type: 'connect', users, concurrency: CONNECTS_AT_A_TIME, localAddresses: total > 10_000 ? LOCAL_ADDRESSES : [], settleMs: ctx.plan.settleMs },
    600_000,
  )
  ctx.log(
    `${member.target}: ${what} ${connect.connected}/${connect.requested} (${connect.connectRate}/s to the last subscribe, ${connect.liveRate}/s until live; ` +
      `handshake p99 ${ms(connect.handshake.p99)} ms)` +
      (connect.failed ? `, ${connect.failed} failed: ${connect.firstError}` : '') +
      (connect.chatsSettled < connect.chatsTotal ? `, ${connect.chatsTotal - connect.chatsSettled} chats without presence` : '') +
      (connect.subscriptionErrors ? `, ${connect.subscriptionErrors} subscription errors` : ''),
  )
  if (connect.failed > 0 || connect.chatsSettled < connect.chatsTotal) noteServerOutput(ctx, [member.server])
  return connect
}

/** Past this many connections per load generator, sockets rotate over several source addresses. */
export const LOCAL_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']

/** Starts every target (one after the other, so that each starts on a quiet machine) and connects its users. */
export async function startFleet(ctx: BenchContext, targets: Target[], conns: number): Promise<Fleet> {
  const members = new Map<Target, FleetMember>()
  const stop = async () => {
    await Promise.all([...members.values()].map(stopMember))
    members.clear()
  }
  try {
    for (const target of targets) {
      const users = await usersFor(ctx, target, conns)
      const member = await startMember(ctx, target, users)
      members.set(target, member)
      await connectUsers(ctx, member, users)
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { members, stop }
}
