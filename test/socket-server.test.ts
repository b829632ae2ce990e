import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSourceEventStream, execute, GraphQLError, parse, buildSchema, type ExecutionArgs } from 'graphql'
import { createClient } from 'graphql-ws'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import type { SocketServerOptions } from '../src/server/socket-server.js'
import { serveGraphQLWs, type Extra, type ServedSockets } from '../src/server/ws-adapter.js'

// The protocol core against graphql-ws's own client and raw frames, on a schema of its own.
const schema = buildSchema(`
  type Query { hello: String }
  type Subscription { count(to: Int!): Int, broken: Int }
`)

/** Sources opened by `count`, to see that the server ends them. */
const returned: number[] = []

async function* count(to: number) {
  try {
    for (let n = 1; n <= to; n++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      yield { count: n }
    }
  } finally {
    returned.push(to)
  }
}

async function* broken() {
  yield { broken: 1 }
  throw new Error('source failed')
}

const options: SocketServerOptions<Extra> = {
  connectionInitWaitTimeout: 500,
  onConnect: (ctx) => ctx.connectionParams?.token === 'ok',
  prepare: (_ctx, _id, payload) => {
    const args: ExecutionArgs = { schema, document: parse(payload.query), variableValues: payload.variables }
    if (!payload.query.startsWith('subscription')) return { kind: 'single', run: () => execute({ ...args, rootValue: { hello: 'world' } }) }
    return {
      kind: 'subscription',
      open: async () => {
        const source = await createSourceEventStream({
          ...args,
          rootValue: { count: (a: { to: number }) => count(a.to), broken: () => broken() },
        })
        return Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source
      },
      map: (event: unknown) => execute({ ...args, rootValue: event }),
    }
  },
  toGraphQLError: (error) => new GraphQLError((error as Error).message),
}

describe('the graphql-ws protocol core', () => {
  const server = http.createServer()
  const wsServer = new WebSocketServer({ server })
  let url = ''
  let served: ServedSockets | undefined
  beforeAll(async () => {
    served = serveGraphQLWs(wsServer, options, { logger: pino({ level: 'silent' }), maxQueuedBytes: 1024 * 1024 })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    served?.stop()
    await new Promise((resolve) => wsServer.close(resolve))
    await new Promise((resolve) => server.close(resolve))
  })

  /** A raw socket that records frames and its close code. */
  async function raw(protocol = 'graphql-transport-ws') {
    const socket = protocol ? new WebSocket(url, protocol) : new WebSocket(url)
    const frames: Array<Record<string, unknown>> = []
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    // ws's default binaryType ('nodebuffer'): each message arrives as one Buffer
    socket.on('message', (data) => frames.push(JSON.parse((data as Buffer).toString()) as Record<string, unknown>))
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    const send = (frame: unknown) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
    const waitFor = async (match: (frame: Record<string, unknown>) => boolean) => {
      for (let i = 0; i < 200; i++) {
        const found = frames.find(match)
        if (found) return found
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      throw new Error(`no such frame in ${JSON.stringify(frames)}`)
    }
    return { socket, frames, closed, send, waitFor }
  }

  it('runs queries and subscriptions for graphql-ws clients, and ends a source the client completes', async () => {
    const client = createClient({ url, connectionParams: { token: 'ok' }, webSocketImpl: WebSocket, retryAttempts: 0 })
    try {
      const query = await new Promise<unknown>((resolve, reject) =>
        client.subscribe({ query: '{ hello }' }, { next: resolve, error: reject, complete: () => {} }),
      )
      expect(query).toEqual({ data: { hello: 'world' } })

      const counted: unknown[] = []
      await new Promise<void>((resolve, reject) =>
        client.subscribe({ query: 'subscription { count(to: 3) }' }, { next: (r) => counted.push(r), error: reject, complete: resolve }),
      )
      expect(counted).toEqual([{ data: { count: 1 } }, { data: { count: 2 } }, { data: { count: 3 } }])

      const early: unknown[] = []
      await new Promise<void>((resolve, reject) => {
        const cancel = client.subscribe(
          { query: 'subscription { count(to: 1000) }' },
          {
            next: (r) => {
              early.push(r)
              if (early.length === 2) {
                cancel()
                resolve()
              }
            },
            error: reject,
            complete: () => {},
          },
        )
      })
      await expect.poll(() => returned.includes(1000)).toBe(true)
    } finally {
      await client.dispose()
    }
  })

  it('sends a failing source as the operation error, and keeps the socket', async () => {
    const s = await raw()
    s.send({ type: 'connection_init', payload: { token: 'ok' } })
    await s.waitFor((f) => f.type === 'connection_ack')
    s.send({ id: 'b', type: 'subscribe', payload: { query: 'subscription { broken }' } })
    const error = await s.waitFor((f) => f.type === 'error' && f.id === 'b')
    expect(error.payload).toEqual([expect.objectContaining({ message: 'source failed' })])
    expect(s.frames.filter((f) => f.id === 'b').map((f) => f.type)).toEqual(['next', 'error'])
    s.send({ type: 'ping', payload: { t: 1 } })
    expect(await s.waitFor((f) => f.type === 'pong')).toEqual({ type: 'pong', payload: { t: 1 } })
    s.socket.close()
  })

  it('closes with the protocol codes: 4406, 4400, 4401, 4403, 4409, 4429, 4408', async () => {
    // No subprotocol at all (one the server does not speak fails in the handshake).
    expect(await (await raw('')).closed).toBe(4406)

    const invalid = await raw()
    invalid.send('not json')
    expect(await invalid.closed).toBe(4400)

    const early = await raw()
    early.send({ id: '1', type: 'subscribe', payload: { query: '{ hello }' } })
    expect(await early.closed).toBe(4401)

    const forbidden = await raw()
    forbidden.send({ type: 'connection_init', payload: { token: 'bad' } })
    expect(await forbidden.closed).toBe(4403)

    const duplicate = await raw()
    duplicate.send({ type: 'connection_init', payload: { token: 'ok' } })
    await duplicate.waitFor((f) => f.type === 'connection_ack')
    duplicate.send({ id: 'x', type: 'subscribe', payload: { query: 'subscription { count(to: 50) }' } })
    duplicate.send({ id: 'x', type: 'subscribe', payload: { query: 'subscription { count(to: 50) }' } })
    expect(await duplicate.closed).toBe(4409)
    // The closed socket's source was ended too.
    await expect.poll(() => returned.filter((to) => to === 50).length).toBe(1)

    const twice = await raw()
    twice.send({ type: 'connection_init', payload: { token: 'ok' } })
    twice.send({ type: 'connection_init', payload: { token: 'ok' } })
    expect(await twice.closed).toBe(4429)

    const silent = await raw()
    expect(await silent.closed).toBe(4408)
  })
})
