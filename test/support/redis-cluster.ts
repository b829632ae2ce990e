import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './process.js'

export interface ClusterNode {
  port: number
  process: ChildProcess
}

export interface RedisCluster {
  nodes: ClusterNode[]
  /** host:port of every node, as REDIS_CLUSTER_NODES takes them. */
  seeds: string
  /** The ports of the nodes that are masters now. */
  masters(): Promise<number[]>
  /** SIGKILLs a node and waits until the cluster is whole again (its replica promoted). */
  kill(port: number): Promise<void>
  /** Runs a command on one node. */
  on(port: number): Redis
  close(): Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function startNode(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000',
      // A replica may take over however long ago it last heard its master (a test kills masters soon after the start).
      '--cluster-replica-validity-factor', '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve(child)
    })
  })
}

/**
 * A real Redis Cluster of three masters and three replicas on free local ports, made from
 * redis-server and redis-cli as an operator would, for this test run alone.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hush-cluster-'))
  const ports: number[] = []
  while (ports.length < 6) {
    const port = await freePort()
    // The cluster bus listens on port + 10000: keep both free and distinct.
    if (port < 50_000 && !ports.includes(port)) ports.push(port)
  }
  const nodes = await Promise.all(ports.map(async (port) => ({ port, process: await startNode(port, dir) })))
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes'], {
    encoding: 'utf8',
  })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
  const clients = new Map<number, Redis>()
  const on = (port: number) => {
    let client = clients.get(port)
    if (!client) clients.set(port, (client = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null })))
    client.on('error', () => undefined)
    return client
  }
  const alive = () => nodes.filter((node) => node.process.exitCode === null && node.process.signalCode === null)
  const whole = async () => {
    for (let attempt = 0; attempt < 150; attempt++) {
      const states = await Promise.all(alive().map((node) => on(node.port).cluster('INFO').then(String, () => '')))
      if (states.every((info) => info.includes('cluster_state:ok'))) return
      await sleep(200)
    }
    throw new Error('the Redis Cluster did not become whole')
  }
  await whole()
  // Replicas in sync with their masters before anyone relies on a failover.
  for (let attempt = 0; attempt < 150; attempt++) {
    const infos = await Promise.all(nodes.map((node) => on(node.port).info('replication').then(String, () => '')))
    const replicas = infos.filter((info) => info.includes('role:slave'))
    if (replicas.length === 3 && replicas.every((info) => info.includes('master_link_status:up'))) break
    await sleep(200)
  }
  const masters = async () => {
    const ports: number[] = []
    for (const node of alive()) {
      const role = String(await on(node.port).call('ROLE').then((r) => (r as unknown[])[0], () => ''))
      if (role === 'master') ports.push(node.port)
    }
    return ports
  }
  return {
    nodes,
    seeds: ports.map((port) => `127.0.0.1:${port}`).join(','),
    masters,
    on,
    async kill(port) {
      const node = nodes.find((n) => n.port === port)!
      clients.get(port)?.disconnect()
      clients.delete(port)
      node.process.kill('SIGKILL')
      await new Promise((resolve) => node.process.once('exit', resolve))
      // The others notice after the node timeout (2 s), then promote its replica.
      for (let attempt = 0; attempt < 150 && (await masters()).length < 3; attempt++) await sleep(200)
      await whole()
    },
    async close() {
      for (const client of clients.values()) client.disconnect()
      for (const node of alive()) node.process.kill('SIGKILL')
      await rm(dir, { recursive: true, force: true })
    },
  }
}
