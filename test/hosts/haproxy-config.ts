/**
 * The one HAProxy configuration of the repository: the settings the README's "Load balancer"
 * section shows, used by the multi-host suite (test/hosts/haproxy.ts) and by the reconnect-storm
 * bench (bench/lib/storm-infra.ts), each adding only its own plumbing through the options. Plain
 * text, no imports: the bench compiles it with its own sources.
 */
export interface HaproxyServer {
  /** The server name HAProxy knows the host by. */
  name: string
  address: string
  port: number
  /** Start in maintenance (`disabled`), to be enabled through the runtime API. */
  disabled?: boolean
  /**
   * Health-check this port (Hush's ADMIN_PORT) instead of the traffic port: a check never waits
   * in the accept queue behind a reconnect storm.
   */
  checkPort?: number
}

export interface HaproxyConfigOptions {
  /** Where clients connect. */
  listen: { address: string; port: number }
  servers: HaproxyServer[]
  /** Connections at once (each proxied one holds two descriptors). Default 4000. */
  maxconn?: number
  /** The runtime API socket (the suite and the bench read server states through it). */
  statsSocket?: string
  /** Request and health-check logs on stdout (the suite's). */
  log?: boolean
  /** An X-Served-By response header naming the host (the suite's way to see where a request went). */
  servedByHeader?: boolean
}

export function haproxyConfig(o: HaproxyConfigOptions): string {
  const maxconn = o.maxconn ?? 4000
  const own = (line: string | false | undefined) => (line ? `${line}\n` : '')
  const sockets = o.servers
    .map((s) => `  server ${s.name} ${s.address}:${s.port} check${s.checkPort === undefined ? '' : ` port ${s.checkPort}`}${s.disabled ? ' disabled' : ''}`)
    .join('\n')
  const plain = o.servers.map((s) => `  server ${s.name} ${s.address}:${s.port} track hush_sockets/${s.name}`).join('\n')
  return `global
  # Each proxied socket holds two descriptors; HAProxy refuses to start if maxconn needs more than
  # its descriptor limit (ulimit -n) allows: raise both together.
  maxconn ${maxconn}
${own(o.log && '  log stdout format raw local0 info')}${own(o.statsSocket && `  stats socket ${o.statsSocket} mode 600 level admin`)}  # A reload keeps the old process while its WebSockets last: bound it.
  hard-stop-after 30s

defaults
  mode http
  maxconn ${maxconn}
${own(o.log && '  log global\n  option httplog')}  option forwardfor
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  timeout http-keep-alive 10s
  timeout queue 5s
  timeout tunnel 1h
  timeout client-fin 10s
  timeout server-fin 10s
  # Longer than Hush's own bound on /readyz (2 s): a busy host answers 200 or 503, it does not time out.
  timeout check 3s
  retries 3
  option redispatch 1
  # Three failed checks in a row (one pass resets the count) before a host is marked down. A host
  # marked down gets no new connections but keeps its sockets (no on-marked-down shutdown-sessions):
  # a host that cannot serve closes them itself (UNREADY_CLOSE_AFTER_MS), and a check that times out
  # because the host is busy with a reconnect storm must not cut its sockets and start the next one.
  default-server inter 2s fastinter 1s downinter 1s fall 3 rise 2

frontend hush
  bind ${o.listen.address}:${o.listen.port}
${own(o.servedByHeader && '  http-response set-header X-Served-By %[srv_name]')}  use_backend hush_sockets if { hdr(upgrade) -i websocket }
  default_backend hush_http

backend hush_sockets
  balance leastconn
  option httpchk
  http-check send meth GET uri /readyz
  http-check expect status 200
${sockets}

backend hush_http
  balance roundrobin
${plain}
`
}
