import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import { afterEach, describe, expect, it, inject } from 'vitest'
import { createDynamoClients, type DynamoClients } from '../src/infra/dynamodb/client.js'
import { ensureTable } from '../src/infra/dynamodb/table.js'

/**
 * A TCP relay in front of DynamoDB Local. Connections opened while `holding` is on keep what the
 * client sends (DynamoDB never sees the request, so never answers) until `release()`; later ones
 * pass through. With `blackHole`, every connection is accepted and nothing is ever forwarded.
 */
async function startRelay(upstream: URL, options: { blackHole?: boolean } = {}) {
  let holding = false
  let held = 0
  const releases: Array<() => void> = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => client.destroy())
    if (options.blackHole) return
    const target = net.connect(Number(upstream.port), upstream.hostname)
    sockets.add(target)
    target.on('error', () => client.destroy())
    target.pipe(client)
    if (holding) {
      held++
      client.pause()
      releases.push(() => client.pipe(target))
    } else client.pipe(target)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    hold: (on: boolean) => void (holding = on),
    held: () => held,
    release: () => releases.splice(0).forEach((resume) => resume()),
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const closers: Array<() => unknown> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function clientsOn(endpoint: string, region: string, maxSockets: number): Promise<DynamoClients> {
  const clients = createDynamoClients(endpoint, region, { maxSockets })
  closers.push(() => clients.destroy())
  return clients
}

const elapsed = async (work: () => Promise<unknown>): Promise<{ ms: number; error?: Error }> => {
  const started = performance.now()
  const error = await work().then(
    () => undefined,
    (failure: Error) => failure,
  )
  return { ms: performance.now() - started, error }
}

describe('the DynamoDB readiness check', () => {
  const upstream = new URL(inject('dynamodbEndpoint'))
  const region = `test-${randomBytes(4).toString('hex')}`
  const table = `hush_ready_${randomBytes(4).toString('hex')}`

  it('answers while every socket of the main pool waits on DynamoDB and requests queue behind them', async () => {
    await ensureTable((await clientsOn(upstream.origin, region, 4)).client, table)
    const relay = await startRelay(upstream)
    closers.push(() => relay.close())
    const clients = await clientsOn(relay.endpoint, region, 2)

    relay.hold(true)
    const stuck = Array.from({ length: 20 }, () => clients.client.send(new DescribeTableCommand({ TableName: table })).catch(() => undefined))
    for (let i = 0; i < 50 && relay.held() < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(relay.held()).toBe(2)
    relay.hold(false)

    // The pool is saturated: a request on the main client waits in its queue...
    const queued = await elapsed(() => clients.client.send(new DescribeTableCommand({ TableName: table }), { abortSignal: AbortSignal.timeout(1_000) }))
    expect(queued.error).toBeDefined()
    expect(queued.ms).toBeGreaterThanOrEqual(950)
    // ...while the readiness check, on a client of its own, answers at once.
    const check = await elapsed(() => clients.check(table))
    expect(check.error).toBeUndefined()
    expect(check.ms).toBeLessThan(500)

    relay.release()
    await Promise.all(stuck)
    // An answer to the main client is proof enough: no DescribeTable of its own for a while.
    const recent = await elapsed(() => clients.check(table))
    expect(recent.error).toBeUndefined()
  })

  it('still fails within 2 s when DynamoDB accepts connections but never answers, and at once when nothing listens', async () => {
    const blackHole = await startRelay(upstream, { blackHole: true })
    closers.push(() => blackHole.close())
    const silent = await elapsed(async () => (await clientsOn(blackHole.endpoint, region, 2)).check(table))
    expect(silent.error).toBeDefined()
    expect(silent.ms).toBeLessThan(2_000)

    const closed = await startRelay(upstream)
    const closedEndpoint = closed.endpoint
    await closed.close()
    const refused = await elapsed(async () => (await clientsOn(closedEndpoint, region, 2)).check(table))
    expect(refused.error).toBeDefined()
    expect(refused.ms).toBeLessThan(1_000)
  })
})
