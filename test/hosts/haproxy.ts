import { writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import type { HostSpec } from './network.js'
import { Child, waitFor } from './system.js'

export interface HaproxyOptions {
  /** Where clients connect (the root namespace's loopback). */
  listen: { address: string; port: number }
  hosts: HostSpec[]
  hushPort: number
  /** The folder for the config file and the runtime API socket. */
  dir: string
}

/**
 * HAProxy's configuration: the settings the README's "Load balancer" section recommends, plus two
 * lines that are the suite's own (marked): the runtime API socket it reads server states from, and
 * an X-Served-By response header that tells a client which host served it (the suite's way to see
 * where a socket or a request went; a deployment need not reveal it).
 */
export function haproxyConfig(options: HaproxyOptions): string {
  const servers = (backend: 'sockets' | 'http') =>
    options.hosts
      .map((host) =>
        backend === 'sockets'
          ? `  server ${host.name} ${host.address}:${options.hushPort} check on-marked-down shutdown-sessions`
          : `  server ${host.name} ${host.address}:${options.hushPort} track hush_sockets/${host.name}`,
      )
      .join('\n')
  return `global
  # Each proxied socket holds two descriptors; HAProxy refuses to start if maxconn needs more than
  # its descriptor limit (ulimit -n) allows. The suite's is small; production raises both.
  maxconn 4000
  log stdout format raw local0 info
  # The suite's own: the runtime API, read for server states.
  stats socket ${path.join(options.dir, 'admin.sock')} mode 600 level admin
  # A reload keeps the old process while its WebSockets last: bound it.
  hard-stop-after 30s

defaults
  mode http
  log global
  option httplog
  option forwardfor
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  timeout http-keep-alive 10s
  timeout queue 5s
  timeout tunnel 1h
  timeout client-fin 10s
  timeout server-fin 10s
  timeout check 2s
  retries 2
  option redispatch 1
  default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 2

frontend hush
  bind ${options.listen.address}:${options.listen.port}
  # The suite's own: which host served the request or the socket.
  http-response set-header X-Served-By %[srv_name]
  use_backend hush_sockets if { hdr(upgrade) -i websocket }
  default_backend hush_http

backend hush_sockets
  balance leastconn
  option httpchk
  http-check send meth GET uri /readyz
  http-check expect status 200
${servers('sockets')}

backend hush_http
  balance roundrobin
${servers('http')}
`
}

export interface ServerState {
  /** UP, DOWN, MAINT, or a transition such as "UP 1/2" or "DOWN 1/2". */
  status: string
  /** Sessions open on the server now. */
  current: number
  lastCheck: string
}

/** HAProxy run as the suite's own process (not the system service), in the foreground. */
export class Haproxy {
  private constructor(
    readonly child: Child,
    readonly url: string,
    private readonly socketPath: string,
  ) {}

  static async start(options: HaproxyOptions): Promise<Haproxy> {
    const configPath = path.join(options.dir, 'haproxy.cfg')
    writeFileSync(configPath, haproxyConfig(options))
    const child = Child.spawn('haproxy', 'haproxy', ['-db', '-f', configPath])
    const proxy = new Haproxy(child, `http://${options.listen.address}:${options.listen.port}`, path.join(options.dir, 'admin.sock'))
    await waitFor('HAProxy to answer on its runtime API', 10_000, async () => {
      if (!child.running) throw new Error(`haproxy exited: ${child.output()}`)
      return (await proxy.command('show info').catch(() => '')).includes('Name: HAProxy') ? true : undefined
    })
    return proxy
  }

  /** One runtime API command (https://docs.haproxy.org/2.6/management.html#9.3). */
  command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socketPath)
      let answer = ''
      socket.setEncoding('utf8')
      socket.on('data', (chunk: string) => (answer += chunk))
      socket.on('end', () => resolve(answer))
      socket.on('error', reject)
      socket.end(`${line}\n`)
    })
  }

  /** The state of each server of a backend, by server name. */
  async servers(backend = 'hush_sockets'): Promise<Map<string, ServerState>> {
    const csv = await this.command('show stat')
    const [header, ...rows] = csv.split('\n').filter((line) => line.length > 0)
    const columns = (header ?? '').replace(/^# /, '').split(',')
    const at = (name: string) => columns.indexOf(name)
    const states = new Map<string, ServerState>()
    for (const row of rows) {
      const cells = row.split(',')
      if (cells[at('pxname')] !== backend || ['FRONTEND', 'BACKEND'].includes(cells[at('svname')] ?? '')) continue
      states.set(cells[at('svname')]!, { status: cells[at('status')] ?? '', current: Number(cells[at('scur')]), lastCheck: cells[at('check_status')] ?? '' })
    }
    return states
  }

  async status(server: string): Promise<string> {
    return (await this.servers()).get(server)?.status ?? 'unknown'
  }

  /** Resolves with the time the server's status first matched (polled every 50 ms). */
  async waitForStatus(server: string, wanted: RegExp, ms: number): Promise<number> {
    return waitFor(`HAProxy to mark ${server} ${wanted}`, ms, async () => (wanted.test(await this.status(server)) ? Date.now() : undefined), 50)
  }

  stop(): Promise<void> {
    return this.child.kill('SIGTERM')
  }
}
