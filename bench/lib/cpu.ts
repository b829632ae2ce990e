/**
 * Whole-machine CPU accounting from /proc (Linux), to tell how much of the machine processes
 * outside this run took during a step: on a shared 2-core box another job can wreck a step.
 */
import { readdir, readFile } from 'node:fs/promises'

export interface CpuSnapshot {
  at: number
  /** busy ticks of the whole machine (USER_HZ) */
  busy: number
  /** ticks of this process and all its descendants */
  ours: number
}

const HZ = 100

async function machineBusy(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!
  const [, ...fields] = line.trim().split(/\s+/)
  const v = fields.map(Number)
  const idle = (v[3] ?? 0) + (v[4] ?? 0)
  return v.slice(0, 8).reduce((a, b) => a + b, 0) - idle
}

/** A process's parent and CPU ticks (user + system) from its /proc/<pid>/stat line. */
function parseStat(stat: string): { ppid: number; ticks: number } {
  // fields after comm: state(0) ppid(1) … utime(11) stime(12)
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) }
}

async function processTicks(): Promise<Map<number, { ppid: number; ticks: number }>> {
  const out = new Map<number, { ppid: number; ticks: number }>()
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      out.set(Number(entry), parseStat(await readFile(`/proc/${entry}/stat`, 'utf8')))
    } catch {
      // the process ended meanwhile
    }
  }
  return out
}

export async function cpuSnapshot(extraPids: number[] = []): Promise<CpuSnapshot | undefined> {
  try {
    const [busy, procs] = await Promise.all([machineBusy(), processTicks()])
    const children = new Map<number, number[]>()
    for (const [pid, { ppid }] of procs) children.set(ppid, [...(children.get(ppid) ?? []), pid])
    const mine = new Set<number>()
    const stack = [process.pid, ...extraPids]
    while (stack.length) {
      const pid = stack.pop()!
      if (mine.has(pid)) continue
      mine.add(pid)
      stack.push(...(children.get(pid) ?? []))
    }
    let ours = 0
    for (const pid of mine) ours += procs.get(pid)?.ticks ?? 0
    return { at: performance.now(), busy, ours }
  } catch {
    return undefined
  }
}

/** Cores' worth of CPU that processes outside this run used between two snapshots. */
export function foreignCores(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined): number {
  if (!before || !after) return NaN
  const seconds = (after.at - before.at) / 1000
  if (seconds <= 0) return NaN
  // Our descendants that exited meanwhile drop out of `ours`; clamp at zero.
  const foreign = (after.busy - before.busy - Math.max(0, after.ours - before.ours)) / HZ
  return Math.max(0, Math.round((foreign / seconds) * 100) / 100)
}

/**
 * CPU time (ms) used so far by the processes whose command line contains every one of `needles`
 * (DynamoDB Local: its jar and its port), to tell how the machine's CPU was split during a phase.
 */
export async function cpuMsOfCommand(needles: string[]): Promise<number> {
  let ticks = 0
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ')
      if (!needles.every((n) => cmdline.includes(n))) continue
      ticks += parseStat(await readFile(`/proc/${entry}/stat`, 'utf8')).ticks
    } catch {
      // the process ended meanwhile
    }
  }
  return (ticks / HZ) * 1000
}

/** CPU (user + system) the given processes have used so far, in ms; a process gone counts 0. */
export async function processCpuMs(pids: number[]): Promise<number> {
  let ticks = 0
  for (const pid of pids) {
    try {
      ticks += parseStat(await readFile(`/proc/${pid}/stat`, 'utf8')).ticks
    } catch {
      // ended
    }
  }
  return (ticks * 1000) / HZ
}

/** CPU milliseconds DynamoDB Local (the one serving `endpoint`) has used so far. */
export function dynamodbLocalCpuMs(endpoint: string): Promise<number> {
  return cpuMsOfCommand(['DynamoDBLocal.jar', `-port ${new URL(endpoint).port}`])
}
