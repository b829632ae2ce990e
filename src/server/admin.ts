import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { serveMetrics, type ServerMetrics } from './metrics.js'
import type { Readiness } from './readiness.js'

/** Answers a probe (/healthz, /readyz) and returns true, or returns false for any other path. */
export type ProbeRoutes = (path: string, res: http.ServerResponse) => boolean

/**
 * /healthz (the process runs) and /readyz (it can serve: DynamoDB and Redis answer, and it is
 * not draining), answered alike on the public port and the admin port.
 */
export function probeRoutes(readiness: Readiness, state: { draining: boolean }): ProbeRoutes {
  return (path, res) => {
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' })
      return true
    }
    if (path !== '/readyz') return false
    if (state.draining) sendJson(res, 503, { status: 'draining' })
    // Bounded by the check's timeout; the watcher logs the change of state.
    else void readiness.probe().then((failure) => sendJson(res, failure ? 503 : 200, { status: failure ? 'unavailable' : 'ready' }))
    return true
  }
}

/**
 * The admin port (ADMIN_PORT): the probes and /metrics on a listener of their own. A reconnect
 * storm fills the public port's accept queue, and a load balancer's health check queued behind
 * thousands of connections times out and marks a healthy, busy host down, which sends its
 * clients into the next storm; here the check never waits behind client traffic.
 */
export function listenAdmin(probes: ProbeRoutes, metrics: ServerMetrics | undefined, port: number, host: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (probes(path, res)) return
    if (path === '/metrics' && metrics) return serveMetrics(metrics, res)
    res.writeHead(404).end()
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve({ url: baseUrl(server.address() as AddressInfo), close: () => new Promise((done) => server.close(() => done())) })
    })
  })
}

/** http://host:port, loopback for a wildcard host. */
export function baseUrl(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}
