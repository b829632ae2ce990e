/**
 * Preloaded (compiled, `--import ./bench/.build/bench/probe.js`) into every server process the
 * benchmark starts, Hush's included, so the server's own code stays untouched. Over the IPC
 * channel the orchestrator asks for memory after a full GC (needs --expose-gc), for CPU time, to
 * start and stop a CPU profile (V8 inspector) around one phase, or to write a heap snapshot. When
 * the orchestrator goes away the channel closes and the server is sent SIGTERM, so no benchmark
 * server outlives its run.
 */
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import v8 from 'node:v8'

type ProbeRequest = { type: 'mem' | 'cpu' | 'prof-start' | 'prof-stop' | 'heap'; id: number; file?: string }

let session: Session | undefined

/**
 * Stalls since the last 'cpu' probe (a step's end probe covers the step): the event loop's longest
 * delay, and the garbage collector's pauses (longest and total), so that a step that failed on a
 * p99 can be told from one server stall.
 */
const loop = monitorEventLoopDelay({ resolution: 10 })
loop.enable()
const gc = { count: 0, totalMs: 0, maxMs: 0 }
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count++
    gc.totalMs += entry.duration
    gc.maxMs = Math.max(gc.maxMs, entry.duration)
  }
}).observe({ entryTypes: ['gc'] })

function stallsSinceLastAsked(): { loopMaxMs: number; gcMaxMs: number; gcMs: number; gcCount: number } {
  const out = { loopMaxMs: loop.max / 1e6, gcMaxMs: gc.maxMs, gcMs: gc.totalMs, gcCount: gc.count }
  loop.reset()
  gc.count = 0
  gc.totalMs = 0
  gc.maxMs = 0
  return out
}

async function answer(request: ProbeRequest): Promise<Record<string, unknown>> {
  switch (request.type) {
    case 'mem': {
      // Walk the young generation (pinned at its full size by the orchestrator) with short-lived
      // garbage, so that its pages are resident in every snapshot, the empty server's included:
      // otherwise they count against whichever phase first allocated enough to touch them.
      let sink = 0
      for (let i = 0; i < 4_096; i++) sink += new Array<number>(2_048).fill(i).length
      if (sink < 0) console.log(sink)
      const gc = (globalThis as { gc?: () => void }).gc
      for (let i = 0; i < 3; i++) {
        gc?.()
        await new Promise((resolve) => setImmediate(resolve))
      }
      break
    }
    case 'heap':
      v8.writeHeapSnapshot(request.file)
      break
    case 'prof-start':
      session ??= new Session()
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: 500 })
      await session.post('Profiler.start')
      break
    case 'prof-stop': {
      if (!session) break
      const { profile } = await session.post('Profiler.stop')
      await writeFile(request.file!, JSON.stringify(profile))
      session.disconnect()
      session = undefined
      break
    }
  }
  return {
    mem: process.memoryUsage(),
    cpu: process.cpuUsage(),
    gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    stalls: request.type === 'cpu' ? stallsSinceLastAsked() : undefined,
  }
}

if (process.send) {
  process.on('message', (raw: unknown) => {
    const request = raw as ProbeRequest
    if (!request || typeof request.id !== 'number') return
    answer(request).then(
      (reply) => process.send!({ type: 'probe', id: request.id, ...reply }),
      (error: Error) => process.send!({ type: 'probe', id: request.id, error: error.message }),
    )
  })
  // The orchestrator died: leave through the normal exit path.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'))
}
