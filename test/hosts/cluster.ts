import { fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { launchDynamoDbLocal } from '../../src/infra/dynamodb/launcher.js'
import { Haproxy } from './haproxy.js'
import { BRIDGE, HOSTS, setUpNetwork, tearDownNetwork, type HostSpec } from './network.js'
import { attempt, Child, endLeftoverChildren, freePortOn, requirePrerequisites, waitFor } from './system.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const MAIN = path.join(ROOT, 'dist/main.js')
const HUSH_PORT = 4000
/** Where HAProxy checks /readyz (ADMIN_PORT), as the README's load balancer section sets it. */
const ADMIN_PORT = 9000
const RATE_LIMITS = ['SIGNUP', 'START_CHAT', 'SEND', 'MARK_READ', 'UPLOAD', 'CREATE_POST', 'ADD_COMMENT', 'SOCKET_OPERATIONS']

/** A host's Hush: `node dist/main.js` (what `npm start` runs) inside the host's namespace. */
export interface Host extends HostSpec {
  child: Child | undefined
  /** Its own address, for the suite's observations only (/readyz); clients go through HAProxy. */
  directUrl: string
}

interface Relay {
  child: Child
  port: number
  setDelay(source: string, delayMs: number): Promise<void>
}

/**
 * Everything the multi-host suite runs: the network, one Redis and one DynamoDB Local in the root
 * namespace (DynamoDB behind the link relay, see link-relay.ts), a Hush per host namespace, and
 * HAProxy in front, listening on the root namespace's loopback, where the clients are.
 */
export class Cluster {
  readonly hosts: Host[] = HOSTS.map((spec) => ({ ...spec, child: undefined, directUrl: `http://${spec.address}:${HUSH_PORT}` }))
  redis!: Child
  redisPort = 0
  relay!: Relay
  haproxy!: Haproxy
  private dynamoStop: (() => Promise<void>) | undefined
  private dir = ''

  get url(): string {
    return this.haproxy.url
  }

  host(name: string | undefined): Host {
    const host = this.hosts.find((h) => h.name === name)
    if (!host) throw new Error(`no host named ${name}`)
    return host
  }

  async start(): Promise<void> {
    requirePrerequisites()
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm run test:hosts does)`)
    endLeftoverChildren()
    setUpNetwork()
    this.dir = await mkdtemp(path.join(os.tmpdir(), 'hush-hosts-'))
    this.redisPort = await freePortOn(BRIDGE.address)
    this.redis = Child.spawn('redis', 'redis-server', ['--port', String(this.redisPort), '--bind', BRIDGE.address, '--protected-mode', 'no', '--save', '', '--appendonly', 'no'])
    await this.redis.waitForOutput(/Ready to accept connections/, 10_000)
    const dynamodb = await launchDynamoDbLocal({ dataDir: path.join(this.dir, 'dynamodb'), logger: pino({ level: 'warn' }) })
    this.dynamoStop = () => dynamodb.stop()
    this.relay = await startRelay(new URL(dynamodb.endpoint))
    // The first host creates the table; the others find it.
    await this.startHost(this.hosts[0]!)
    await Promise.all(this.hosts.slice(1).map((host) => this.startHost(host)))
    this.haproxy = await Haproxy.start({ listen: { address: '127.0.0.1', port: await freePortOn('127.0.0.1') }, hosts: this.hosts, hushPort: HUSH_PORT, adminPort: ADMIN_PORT, dir: this.dir })
    for (const host of this.hosts) await this.haproxy.waitForStatus(host.name, /^UP$/, 15_000)
  }

  /** Starts (or restarts) the host's Hush and waits until it answers /readyz. */
  async startHost(host: Host): Promise<void> {
    const env = {
      PORT: String(HUSH_PORT),
      ADMIN_PORT: String(ADMIN_PORT),
      HOST: '0.0.0.0',
      LOG_LEVEL: 'warn',
      DATA_DIR: path.join(this.dir, host.name),
      DYNAMODB_ENDPOINT: `http://${BRIDGE.address}:${this.relay.port}`,
      DYNAMODB_REGION: 'hosts',
      DYNAMODB_TABLE: 'hush_hosts',
      REDIS_URL: `redis://${BRIDGE.address}:${this.redisPort}`,
      JWT_SECRET: 'hosts-jwt-secret-that-is-at-least-32-chars',
      ID_SECRET: 'hosts-id-secret-that-is-at-least-32-chars-long',
      // The cascade reads the table's stream; it is not what this suite is about.
      EXPIRY_CASCADE: 'false',
      // HAProxy connects from the bridge address and sends X-Forwarded-For.
      TRUSTED_PROXIES: BRIDGE.address,
      // The README's recommendation behind a load balancer: see "Load balancer".
      UNREADY_CLOSE_AFTER_MS: '3000',
      SHUTDOWN_TIMEOUT_MS: '2000',
      ...Object.fromEntries(RATE_LIMITS.map((name) => [`RATE_LIMIT_${name}`, '100000/s burst 100000'])),
    }
    host.child = Child.spawn(host.name, 'ip', ['netns', 'exec', host.netns, process.execPath, '--enable-source-maps', MAIN], env)
    const child = host.child
    await waitFor(`${host.name} to answer /readyz`, 60_000, async () => {
      if (!child.running) throw new Error(`${host.name} exited (${child.process.exitCode ?? child.process.signalCode}):\n${child.output().slice(-4000)}`)
      const status = await fetch(`${host.directUrl}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0)
      return status === 200 ? true : undefined
    }, 200)
  }

  async stop(): Promise<void> {
    const children = [this.haproxy?.child, ...this.hosts.map((host) => host.child), this.relay?.child, this.redis]
    await Promise.all(children.map((child) => child?.kill('SIGKILL') ?? Promise.resolve()))
    const stopDynamo = this.dynamoStop
    this.dynamoStop = undefined
    await stopDynamo?.()
    tearDownNetwork()
    endLeftoverChildren()
    if (this.dir) await rm(this.dir, { recursive: true, force: true })
    this.dir = ''
  }

  /**
   * Adds `delayMs` to everything `host` sends to DynamoDB. With netem in the kernel that is tc on
   * the host's veth, for the relay's port alone; this suite's kernel has none ("Specified qdisc
   * kind is unknown"), so the relay delays that host's connections itself. Returns how.
   */
  async delayDynamoDb(host: Host, delayMs: number): Promise<'netem' | 'relay'> {
    if (delayMs > 0 && tryNetem(host, this.relay.port, delayMs)) return 'netem'
    if (delayMs === 0) attempt('ip', ['netns', 'exec', host.netns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root'])
    await this.relay.setDelay(host.address, delayMs)
    return 'relay'
  }
}

/** netem on the host's egress, for packets to the relay's port only (a prio band with a filter). */
function tryNetem(host: Host, port: number, delayMs: number): boolean {
  const tc = (...args: string[]) => attempt('ip', ['netns', 'exec', host.netns, 'tc', ...args])
  if (!tc('qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'prio')) return false
  const ok =
    tc('qdisc', 'add', 'dev', 'eth0', 'parent', '1:3', 'handle', '30:', 'netem', 'delay', `${delayMs}ms`) &&
    tc('filter', 'add', 'dev', 'eth0', 'protocol', 'ip', 'parent', '1:0', 'prio', '3', 'u32', 'match', 'ip', 'dst', `${BRIDGE.address}/32`, 'match', 'ip', 'dport', String(port), '0xffff', 'flowid', '1:3')
  if (!ok) tc('qdisc', 'del', 'dev', 'eth0', 'root')
  return ok
}

/** The link relay as a child process on the bridge address (see link-relay.ts). */
async function startRelay(upstream: URL): Promise<Relay> {
  const forked = fork(path.join(import.meta.dirname, 'link-relay.ts'), [BRIDGE.address, upstream.hostname, upstream.port], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  const child = new Child('relay', forked)
  const port = await new Promise<number>((resolve, reject) => {
    forked.once('message', (message: { port: number }) => resolve(message.port))
    forked.once('exit', () => reject(new Error(`the link relay exited:\n${child.output()}`)))
  })
  const setDelay = (source: string, delayMs: number) =>
    new Promise<void>((resolve) => {
      const done = (message: { source?: string }) => {
        if (message.source !== source) return
        forked.off('message', done)
        resolve()
      }
      forked.on('message', done)
      forked.send({ source, delayMs })
    })
  return { child, port, setDelay }
}
