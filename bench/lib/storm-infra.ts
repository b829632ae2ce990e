/**
 * The storm's moving parts other than the clients: Hush hosts (`node dist/main.js` on their own
 * loopback addresses), a Redis server, HAProxy nodes with their runtime API, and a per-process CPU
 * sampler. Every child is killed by pid when the bench ends (`stopAll`), also on failure or SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { haproxyConfig } from '../../test/hosts/haproxy-config.js'
import { ROOT } from './procs.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface Proc {
  name: string
  child: ChildProcess
  output(): string
  /** lines written to stdout and stderr so far */
  lines(): number
  running(): boolean
  /** SIGTERM (or the given signal), SIGKILL after 10 s; resolves when gone. */
  stop(signal?: NodeJS.Signals): Promise<void>
}

const procs = new Set<Proc>()

function track(name: string, child: ChildProcess): Proc {
  let output = ''
  let lines = 0
  const collect = (chunk: Buffer) => {
    const text = chunk.toString()
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++
    output = (output + text).slice(-32_000)
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const proc: Proc = {
    name,
    child,
    output: () => output,
    lines: () => lines,
    running: () => child.exitCode === null && child.signalCode === null,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.running()) {
        child.kill(signal)
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      procs.delete(proc)
    },
  }
  void exited.then(() => procs.delete(proc))
  procs.add(proc)
  return proc
}

/** Kills every child this module started (by pid), at once: for exits and failures. */
export function killAllInfra(): void {
  for (const proc of procs) if (proc.running()) proc.child.kill('SIGKILL')
}

export async function stopAllInfra(): Promise<void> {
  await Promise.all([...procs].map((proc) => proc.stop()))
}

/** A TCP port free on every one of `addresses`. */
export async function freePortOn(addresses: string[]): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const ok = await Promise.all(
      addresses.map(
        (address) =>
          new Promise<boolean>((resolve) => {
            const server = net.createServer()
            server.once('error', () => resolve(false))
            server.listen(port, address, () => server.close(() => resolve(true)))
          }),
      ),
    )
    if (ok.every(Boolean)) return port
  }
}

async function waitFor(what: string, ms: number, check: () => Promise<boolean>, proc?: Proc): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (proc && !proc.running()) throw new Error(`${proc.name} exited while waiting for ${what}:\n${proc.output()}`)
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${proc ? `:\n${proc.output()}` : ''}`)
    await sleep(100)
  }
}

// --- Redis --------------------------------------------------------------------------------------

export async function startRedis(): Promise<{ proc: Proc; url: string; port: number }> {
  const port = await freePortOn(['127.0.0.1'])
  const child = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--maxclients', '10000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const proc = track('redis', child)
  await waitFor(
    'redis-server',
    10_000,
    () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1')
        socket.once('connect', () => {
          socket.end()
          resolve(true)
        })
        socket.once('error', () => resolve(false))
      }),
    proc,
  )
  return { proc, url: `redis://127.0.0.1:${port}`, port }
}

// --- Hush hosts ---------------------------------------------------------------------------------

export interface Host {
  name: string
  address: string
  port: number
  proc: Proc
  pid: number
}

/** `node dist/main.js` (what `npm start` runs) on `address:port`. */
export async function startHost(name: string, address: string, port: number, env: Record<string, string>): Promise<Host> {
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_NO_WARNINGS: '1', ...env, HOST: address, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const proc = track(name, child)
  await waitFor(`${name} /readyz`, 90_000, async () => (await fetch(`http://${address}:${port}/readyz`)).ok, proc)
  return { name, address, port, proc, pid: child.pid! }
}

// --- HAProxy ------------------------------------------------------------------------------------

export interface HaproxyNode {
  name: string
  address: string
  port: number
  proc: Proc
  pid: number
  command(line: string): Promise<string>
  stat(): Promise<StatRow[]>
}

export interface StatRow {
  pxname: string
  svname: string
  status: string
  /** sessions now, total, max */
  scur: number
  stot: number
  smax: number
  /** connection errors, retries, redispatches, 5xx answers */
  econ: number
  wretr: number
  wredis: number
  hrsp_5xx: number
  /** UP→DOWN transitions so far, and the last health check's status (e.g. L7OK, L7STS, L7TOUT) */
  chkdown: number
  check_status: string
}

/**
 * HAProxy's configuration: test/hosts/haproxy-config.ts, the one the multi-host suite runs and the
 * README's "Load balancer" section shows, with maxconn sized for the run, `disabled` servers to
 * start with (enabled through the runtime API) and the runtime API socket.
 */
export function stormHaproxyConfig(o: {
  address: string
  port: number
  hosts: Array<{ name: string; address: string; port: number; checkPort: number | undefined; disabled: boolean }>
  maxconn: number
  socket: string
}): string {
  return haproxyConfig({ listen: { address: o.address, port: o.port }, servers: o.hosts, maxconn: o.maxconn, statsSocket: o.socket })
}

export async function startHaproxy(
  name: string,
  dir: string,
  options: Omit<Parameters<typeof stormHaproxyConfig>[0], 'socket'>,
): Promise<HaproxyNode> {
  const socket = path.join(dir, `${name}.sock`)
  const configPath = path.join(dir, `${name}.cfg`)
  await writeFile(configPath, stormHaproxyConfig({ ...options, socket }))
  const child = spawn('/usr/sbin/haproxy', ['-db', '-f', configPath], { stdio: ['ignore', 'pipe', 'pipe'] })
  const proc = track(name, child)
  const command = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const conn = net.connect(socket)
      let answer = ''
      conn.setEncoding('utf8')
      conn.on('data', (chunk: string) => (answer += chunk))
      conn.on('end', () => resolve(answer))
      conn.on('error', reject)
      conn.end(`${line}\n`)
    })
  const stat = async (): Promise<StatRow[]> => {
    const [header, ...rows] = (await command('show stat')).split('\n').filter((line) => line.length > 0)
    const columns = (header ?? '').replace(/^# /, '').split(',')
    return rows.map((row) => {
      const cells = row.split(',')
      const get = (column: string) => cells[columns.indexOf(column)] ?? ''
      const num = (column: string) => Number(get(column)) || 0
      return {
        pxname: get('pxname'),
        svname: get('svname'),
        status: get('status'),
        scur: num('scur'),
        stot: num('stot'),
        smax: num('smax'),
        econ: num('econ'),
        wretr: num('wretr'),
        wredis: num('wredis'),
        hrsp_5xx: num('hrsp_5xx'),
        chkdown: num('chkdown'),
        check_status: get('check_status'),
      }
    })
  }
  await waitFor(`${name} runtime API`, 10_000, async () => (await command('show info')).includes('Name: HAProxy'), proc)
  return { name, address: options.address, port: options.port, proc, pid: child.pid!, command, stat }
}

// --- CPU ----------------------------------------------------------------------------------------

const HZ = 100

async function ticksOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(rest[11]) + Number(rest[12])
  } catch {
    return NaN
  }
}

async function machineTicks(): Promise<{ busy: number; total: number }> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = fields.reduce((a, b) => a + b, 0)
  return { busy: total - fields[3]! - fields[4]!, total }
}

/** The pid of the Java process of DynamoDB Local listening on `port`. */
export async function dynamoDbLocalPid(port: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.includes('DynamoDBLocal.jar') && cmdline.includes(`-port\0${port}\0`) && cmdline.startsWith('java')) return Number(entry)
  }
  return undefined
}

export interface CpuSample {
  at: number
  /** cumulative ticks per named process */
  ticks: Record<string, number>
  machineBusy: number
}

/** Samples the CPU ticks of named processes every `everyMs` until stopped. */
export function sampleCpu(pids: Record<string, number>, everyMs = 250): { stop(): Promise<CpuSample[]> } {
  const samples: CpuSample[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const ticks: Record<string, number> = {}
      for (const [name, pid] of Object.entries(pids)) ticks[name] = await ticksOf(pid)
      samples.push({ at: performance.timeOrigin + performance.now(), ticks, machineBusy: (await machineTicks()).busy })
      await sleep(everyMs)
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return samples
    },
  }
}

/** Cores used per process (and the machine) between two times, from the samples nearest them. */
export function coresBetween(samples: CpuSample[], from: number, to: number): Record<string, number> {
  const first = samples.find((s) => s.at >= from) ?? samples[0]
  const last = [...samples].reverse().find((s) => s.at <= to) ?? samples.at(-1)
  if (!first || !last || last.at <= first.at) return {}
  const seconds = (last.at - first.at) / 1000
  const out: Record<string, number> = {}
  for (const name of Object.keys(first.ticks)) {
    const delta = (last.ticks[name] ?? NaN) - (first.ticks[name] ?? NaN)
    if (Number.isFinite(delta)) out[name] = Math.round((delta / HZ / seconds) * 100) / 100
  }
  out.machine = Math.round(((last.machineBusy - first.machineBusy) / HZ / seconds) * 100) / 100
  return out
}
