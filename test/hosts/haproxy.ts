import { writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { haproxyConfig } from './haproxy-config.js'
import type { HostSpec } from './network.js'
import { Child, waitFor } from './system.js'

export interface HaproxyOptions {
  /** Where clients connect (the root namespace's loopback). */
  listen: { address: string; port: number }
  hosts: HostSpec[]
  hushPort: number
  /** The hosts' ADMIN_PORT, where HAProxy checks /readyz. */
  adminPort: number
  /** The folder for the config file and the runtime API socket. */
  dir: string
}

/**
 * HAProxy's configuration: the settings the README's "Load balancer" section recommends
 * (haproxy-config.ts, shared with the storm bench), plus the suite's own: its logs, the runtime API
 * socket it reads server states from, and an X-Served-By response header that tells a client which
 * host served it (the suite's way to see where a socket or a request went; a deployment need not
 * reveal it).
 */
export function suiteHaproxyConfig(options: HaproxyOptions): string {
  return haproxyConfig({
    listen: options.listen,
    servers: options.hosts.map((host) => ({ name: host.name, address: host.address, port: options.hushPort, checkPort: options.adminPort })),
    statsSocket: path.join(options.dir, 'admin.sock'),
    log: true,
    servedByHeader: true,
  })
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
    writeFileSync(configPath, suiteHaproxyConfig(options))
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
