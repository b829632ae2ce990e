import { Worker } from 'node:worker_threads'

export interface HealthzReport {
  /** Answers received. */
  count: number
  /** Slowest answer, in ms, from the request's start to the end of its body. */
  maxMs: number
  p99Ms: number
  /**
   * The slowest answer's share that was the server's own doing: the CPU its event-loop thread
   * used while the answer was pending (work queued ahead of it, GC pauses), never more than the
   * answer's time less the longest run-queue wait of a server thread or of the poller. On a shared
   * machine, what the other processes took is left out; on an idle one it is nearly all of it.
   */
  maxOwnMs: number
  /** Answers that were not 200, or requests that failed. */
  failures: string[]
  /**
   * The slowest few: when (ms since the poller started), how long, and how long of it the
   * server's event-loop thread was runnable but waiting for a CPU (its run-queue wait, from
   * /proc/<pid>/task/<pid>/schedstat): time the machine, not the server, took.
   */
  slowest: HealthzSample[]
  /** The slowest few once their waits for a CPU are taken out. */
  slowestOwn: HealthzSample[]
  /** The poller's own worst event-loop delay: how late it could notice an answer. */
  pollerLoopDelayMaxMs: number
}

export interface HealthzSample {
  /** ms since the poller started */
  at: number
  /** When the request was sent (Date.now()). */
  sentAt: number
  ms: number
  /** CPU the server's event-loop thread used during the request (its own work, JS or kernel). */
  serverRanMs: number
  /** Run-queue wait of the server's event-loop thread during the request. */
  serverWaitedForCpuMs: number
  /**
   * The longest run-queue wait of any one server thread during the request: V8's GC helper
   * threads too, which a pause waits for (a scavenge is parallel).
   */
  serverAnyThreadWaitedForCpuMs: number
  pollerWaitedForCpuMs: number
  /** Major page faults of the server during the request (each stalls a thread on I/O). */
  serverMajorFaults: number
  /** The server's own share: serverRanMs, at most ms less the longest of those waits for a CPU. */
  ownMs: number
}

export interface HealthzPoller {
  stop(): Promise<HealthzReport>
}

/**
 * Polls `${baseUrl}/healthz` every `everyMs` from a worker thread of its own: its timing is not
 * delayed by whatever the test's main thread is busy with (building documents, parsing answers).
 * One request at a time on one kept-alive connection, as a load balancer's probe sends them.
 */
export function pollHealthz(baseUrl: string, serverPid: number, everyMs: number): HealthzPoller {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { url: `${baseUrl}/healthz`, serverPid, everyMs } })
  worker.unref()
  return {
    stop: () =>
      new Promise<HealthzReport>((resolve, reject) => {
        worker.once('message', (report: HealthzReport) => {
          void worker.terminate()
          resolve(report)
        })
        worker.once('error', reject)
        worker.postMessage('stop')
      }),
  }
}

const WORKER_SOURCE = `
const fs = require('node:fs')
const http = require('node:http')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { parentPort, workerData } = require('node:worker_threads')
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
const loopDelay = monitorEventLoopDelay({ resolution: 5 })
loopDelay.enable()
const serverTasks = '/proc/' + workerData.serverPid + '/task/'
const serverSchedstat = serverTasks + workerData.serverPid + '/schedstat'
// ns a thread has waited on a run queue so far: the server's event-loop thread, and this one
const waited = (file) => Number(fs.readFileSync(file, 'utf8').split(' ')[1])
// ns a thread has run so far
const ran = (file) => Number(fs.readFileSync(file, 'utf8').split(' ')[0])
// ns each server thread has waited on a run queue so far, by thread id
function threadWaits() {
  const waits = new Map()
  for (const tid of fs.readdirSync(serverTasks)) {
    try {
      waits.set(tid, waited(serverTasks + tid + '/schedstat'))
    } catch {
      // the thread ended meanwhile
    }
  }
  return waits
}
const majorFaults = () => {
  const stat = fs.readFileSync('/proc/' + workerData.serverPid + '/stat', 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[9])
}
const started = performance.now()
const samples = []
const failures = []
let stopping = false
function probe() {
  if (stopping) return finish()
  const serverBefore = waited(serverSchedstat)
  const serverRanBefore = ran(serverSchedstat)
  const threadsBefore = threadWaits()
  const faultsBefore = majorFaults()
  const pollerBefore = waited('/proc/thread-self/schedstat')
  const t0 = performance.now()
  const sentAt = Date.now()
  const req = http.get(workerData.url, { agent }, (res) => {
    res.resume()
    res.on('end', () => {
      const ms = performance.now() - t0
      const serverWaitedForCpuMs = (waited(serverSchedstat) - serverBefore) / 1e6
      const serverRanMs = (ran(serverSchedstat) - serverRanBefore) / 1e6
      let longest = 0
      for (const [tid, after] of threadWaits()) longest = Math.max(longest, after - (threadsBefore.get(tid) ?? 0))
      const serverAnyThreadWaitedForCpuMs = longest / 1e6
      const pollerWaitedForCpuMs = (waited('/proc/thread-self/schedstat') - pollerBefore) / 1e6
      const serverMajorFaults = majorFaults() - faultsBefore
      const ownMs = Math.min(serverRanMs, Math.max(0, ms - Math.max(serverAnyThreadWaitedForCpuMs, pollerWaitedForCpuMs)))
      samples.push({ at: Math.round(t0 - started), sentAt, ms, serverRanMs, serverWaitedForCpuMs, serverAnyThreadWaitedForCpuMs, pollerWaitedForCpuMs, serverMajorFaults, ownMs })
      if (res.statusCode !== 200) failures.push('status ' + res.statusCode)
      setTimeout(probe, Math.max(0, workerData.everyMs - ms))
    })
  })
  req.setTimeout(5000, () => req.destroy(new Error('timed out')))
  req.on('error', (error) => {
    failures.push(String(error && error.message))
    setTimeout(probe, workerData.everyMs)
  })
}
function finish() {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b)
  const slowest = [...samples].sort((a, b) => b.ms - a.ms).slice(0, 5)
  const slowestOwn = [...samples].sort((a, b) => b.ownMs - a.ownMs).slice(0, 5)
  parentPort.postMessage({
    count: samples.length,
    maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
    p99Ms: sorted.length ? sorted[Math.floor(sorted.length * 0.99)] : NaN,
    maxOwnMs: samples.reduce((max, s) => Math.max(max, s.ownMs), 0),
    failures,
    slowest,
    slowestOwn,
    pollerLoopDelayMaxMs: loopDelay.max / 1e6,
  })
  agent.destroy()
}
parentPort.on('message', () => { stopping = true })
probe()
`
