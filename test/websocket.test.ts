import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { GraphQLError, type FormattedExecutionResult } from 'graphql'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { serveGraphQLWs } from '../src/server/ws-adapter.js'
import { ViewerDocument } from './generated/graphql.js'
import { SignJWT } from 'jose'
import { startTestApp, TEST_JWT_SECRET, type TestApp } from './support/app.js'
import { signUp, wsClient, wsExecute } from './support/client.js'

const closeCodeOf = (client: ReturnType<typeof wsClient>): Promise<number> =>
  new Promise((resolve) => {
    client.on('closed', (event) => resolve((event as { code: number }).code))
    client.subscribe({ query: '{ viewer { id } }' }, { next: () => {}, error: () => {}, complete: () => {} })
  })

describe('graphql-ws on /graphql', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp()
  })
  afterAll(() => app.stop())

  it('runs operations for a socket authenticated in connection_init', async () => {
    const user = await signUp(app.url)
    const client = wsClient(app.url, user.token)
    try {
      const result = await wsExecute(client, ViewerDocument)
      expect(result.errors).toBeUndefined()
      expect(result.data?.viewer.id).toBe(user.id)
    } finally {
      await client.dispose()
    }
  })

  it('closes with 4403 for a missing or bad token', async () => {
    for (const token of [undefined, 'not-a-jwt']) {
      const client = wsClient(app.url, token)
      expect(await closeCodeOf(client)).toBe(4403)
      await client.dispose()
    }
  })

  it('closes a socket with 4403 once its token expires, after serving it until then', async () => {
    const user = await signUp(app.url)
    const expiresAt = Math.floor(Date.now() / 1000) + 2
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user.id).setIssuer('hush').setAudience('hush')
      .setExpirationTime(expiresAt).sign(new TextEncoder().encode(TEST_JWT_SECRET))
    const socket = new WebSocket(`${app.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws')
    const closed = new Promise<{ code: number; at: number }>((resolve) => socket.once('close', (code) => resolve({ code, at: Date.now() })))
    const frames: string[] = []
    // ws's default binaryType ('nodebuffer'): each message arrives as one Buffer
    socket.on('message', (data) => frames.push((data as Buffer).toString()))
    await new Promise((resolve) => socket.once('open', resolve))
    const acknowledged = new Promise((resolve) => socket.once('message', resolve))
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }))
    await acknowledged
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ viewer { id } }' } }))
    const { code, at } = await closed
    expect(frames.some((frame) => frame.includes(user.id))).toBe(true)
    expect(code).toBe(4403)
    expect(at).toBeGreaterThanOrEqual(expiresAt * 1000)
    expect(at).toBeLessThan(expiresAt * 1000 + 2_500)
  })

  it('runs validation and error masking on the socket path too', async () => {
    const user = await signUp(app.url)
    const client = wsClient(app.url, user.token)
    try {
      const errors = await new Promise<unknown>((resolve) =>
        client.subscribe({ query: '{ nope }' }, { next: () => {}, error: resolve, complete: () => {} }),
      )
      expect(JSON.stringify(errors)).toContain('Cannot query field')
      // Coded as over HTTP: the same masker judges both paths.
      expect(JSON.stringify(errors)).toContain('BAD_USER_INPUT')

      // A domain error from a resolver keeps its code and path, as over HTTP.
      const refused = await new Promise<FormattedExecutionResult>((resolve, reject) =>
        client.subscribe({ query: 'mutation { setTyping(chatId: "c_nope", typing: true) }' }, { next: resolve, error: reject, complete: () => {} }),
      )
      expect(refused.data).toBeNull()
      expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
      expect(refused.errors?.[0]?.path).toEqual(['setTyping'])
    } finally {
      await client.dispose()
    }
  })

  it('cuts a frame larger than the limit (1009) and one that never sends connection_init (4408)', async () => {
    const big = new WebSocket(`${app.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws')
    await new Promise((resolve) => big.once('open', resolve))
    const bigClosed = new Promise<number>((resolve) => big.once('close', (code) => resolve(code)))
    big.send('x'.repeat(app.config.limits.maxFrameBytes + 1))
    expect(await bigClosed).toBe(1009)

    const silent = new WebSocket(`${app.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws')
    const silentClosed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)))
    expect(await silentClosed).toBe(4408)
  })
})

describe('the graphql-ws adapter for ws', () => {
  it('pings every socket and drops one that stops answering, keeping (and counting) those that answer', async () => {
    const server = http.createServer()
    // As Hush's server makes it: the adapter keeps the sockets, ws does not.
    const wsServer = new WebSocketServer({ server, clientTracking: false })
    const options = { onConnect: () => true, prepare: () => [], toGraphQLError: (error: unknown) => new GraphQLError(String(error)) }
    const served = serveGraphQLWs(wsServer, options, { logger: pino({ level: 'silent' }), keepAliveMs: 300, maxQueuedBytes: 1024 * 1024 })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const open = (autoPong: boolean) =>
        new Promise<WebSocket>((resolve) => {
          const socket = new WebSocket(url, 'graphql-transport-ws', { autoPong })
          socket.once('open', () => {
            socket.send(JSON.stringify({ type: 'connection_init' }))
            resolve(socket)
          })
        })
      const [answering, silent] = await Promise.all([open(true), open(false)])
      expect(served.count).toBe(2)
      const pings = { answering: 0, silent: 0 }
      answering.on('ping', () => pings.answering++)
      silent.on('ping', () => pings.silent++)
      const silentClosed = new Promise<number>((resolve) => silent.once('close', resolve))
      await silentClosed
      expect(pings.silent).toBeGreaterThanOrEqual(1)
      await new Promise((resolve) => setTimeout(resolve, 700))
      expect(answering.readyState).toBe(WebSocket.OPEN)
      expect(pings.answering).toBeGreaterThanOrEqual(2)
      expect(served.count).toBe(1)
      expect(served.open()).toHaveLength(1)
      answering.close()
    } finally {
      served.stop()
      await new Promise((resolve) => wsServer.close(resolve))
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
