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
import v8 from 'node:v8'

type ProbeRequest = { type: 'mem' | 'cpu' | 'prof-start' | 'prof-stop' | 'heap'; id: number; file?: string }

let session: Session | undefined

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
  return { mem: process.memoryUsage(), cpu: process.cpuUsage(), gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function' }
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
