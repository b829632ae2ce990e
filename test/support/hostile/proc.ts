import { readFileSync } from 'node:fs'

/** USER_HZ: the unit of utime and stime in /proc/<pid>/stat (100 on every Linux Node supports). */
const TICKS_PER_SECOND = 100

/** CPU time (user + system, all threads) a process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // After "pid (comm) ": state(0) ppid(1) … utime(11) stime(12); comm may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND
}

/** Resident set size of a process (VmRSS), in bytes. */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match) throw new Error(`no VmRSS for process ${pid}`)
  return Number(match[1]) * 1024
}

/** CPU time the whole machine has been busy (all cores, all processes), in milliseconds. */
export function machineBusyMs(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  const busy = fields.reduce((sum, value) => sum + value, 0) - fields[3]! - fields[4]!
  return (busy * 1000) / TICKS_PER_SECOND
}
