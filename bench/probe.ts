/**
 * Preloaded (`--import ./bench/probe.ts`) into every server process the benchmark starts, Hush's
 * included, so the server's own code stays untouched. Over the IPC channel the orchestrator asks
 * for memory after a full GC (needs --expose-gc) and for CPU time. When the orchestrator goes away
 * the channel closes and the server exits, so no benchmark server outlives its run.
 */
type ProbeRequest = { type: 'mem' | 'cpu'; id: number }

if (process.send) {
  process.on('message', (raw: unknown) => {
    const request = raw as ProbeRequest
    if (request?.type !== 'mem' && request?.type !== 'cpu') return
    void (async () => {
      if (request.type === 'mem') {
        const gc = (globalThis as { gc?: () => void }).gc
        for (let i = 0; i < 3; i++) {
          gc?.()
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
      process.send!({ type: 'probe', id: request.id, mem: process.memoryUsage(), cpu: process.cpuUsage(), gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function' })
    })()
  })
  // The orchestrator died or let go: leave through the normal exit path (a --cpu-prof profile is still written).
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'))
}
