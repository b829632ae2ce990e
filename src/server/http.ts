import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import type { Config } from '../config.js'
import type { Services } from '../domain/services.js'
import { schema } from '../schema/index.js'
import { clientAddressOf } from './client-address.js'
import { contextFactory, type CreateContext } from './context.js'
import { DocumentCache } from './documents/cache.js'
import type { TrustedDocuments } from './documents/trusted.js'
import { baseUrl, listenAdmin, probeRoutes, sendJson, type ProbeRoutes } from './admin.js'
import { serveMetrics, type ServerMetrics } from './metrics.js'
import { createErrorMasker } from './errors.js'
import { httpOperations, type HttpOperationsOptions } from './http-operations.js'
import { isPhotoPath, parsePhotoTicket } from './photo-routes.js'
import { InFlight } from './in-flight.js'
import { Readiness } from './readiness.js'
import { socketOperations } from './socket-operations.js'
import { serveGraphQLWs, type ServedSockets } from './ws-adapter.js'
import { graphiqlPage, selfContainedGraphiQL } from './graphiql.js'
import { webAppHandler, type WebAppOptions } from './web-app.js'
import { createHushYoga, GRAPHQL_PATH, type HushYoga } from './yoga.js'

export { GRAPHQL_PATH } from './yoga.js'

/**
 * Connections the kernel completes and queues until the server accepts them (it caps this at
 * net.core.somaxconn). Node's default, 511, overflows when thousands of clients reconnect at once;
 * a dropped SYN is retried only after a second, and a load balancer's connect times out meanwhile.
 */
const LISTEN_BACKLOG = 4096

export interface HushServerOptions {
  services: Services
  logger: Logger
  limits: Config['limits']
  graphql: Config['graphql']
  trustedProxies: Config['trustedProxies']
  /** TRUSTED_DOCUMENTS, loaded: every path runs only the manifest's documents. Unset: any document within the limits. */
  trustedDocuments?: TrustedDocuments | undefined
  /** What the transports report; `onMainPort`: /metrics is served on the public port (no admin port). */
  metrics?: { sink: ServerMetrics; onMainPort: boolean } | undefined
  /** Throws when a backing service (DynamoDB, Redis) cannot be reached; serves /readyz. */
  checkReadiness: () => Promise<void>
  /**
   * Unready this long (ms) without a break, the server closes its sockets with 1013 and refuses
   * new ones until ready again (see README, "Load balancer"). 0 or unset: it keeps serving what
   * it can. Also the checks' timeout and interval (defaults: 2 s, 1 s).
   */
  readiness?: { shedAfterMs?: number; timeoutMs?: number; intervalMs?: number }
  /** The web chat, served at `/`; unset (WEB_APP off): `/` is the API's 404. */
  webApp?: WebAppOptions | undefined
}

export interface HushServer {
  /** Listens; resolves to the server's base URL (http://host:port, loopback for a wildcard host). */
  listen(port: number, host: string): Promise<string>
  /** Opens the admin port (probes and /metrics, see admin.ts); resolves to its base URL. */
  listenAdmin(port: number, host: string): Promise<string>
  /** Stops accepting, tells socket clients to reconnect elsewhere (1001), waits for in-flight work. */
  close(timeoutMs: number): Promise<void>
}

/**
 * One HTTP server: JSON POSTs of queries and mutations run on a lean path (http-operations.ts),
 * and Yoga serves everything else on /graphql (GraphiQL, GET, uploads, browsers, every request
 * error); graphql-ws serves subscriptions (and any operation) on the same path; /healthz and
 * /readyz answer probes. Every path shares one document cache (and so one set of limits), one
 * way to build the resolver context, one in-flight count and one error masker.
 */
export function createHushServer(options: HushServerOptions): HushServer {
  const { services, logger, limits } = options
  const state = { draining: false }
  const shared: SharedParts = {
    inFlight: new InFlight(),
    maskError: createErrorMasker(logger),
    createContext: contextFactory(services),
    clientAddress: clientAddressOf(options.trustedProxies),
    trusted: options.trustedDocuments,
    metrics: options.metrics?.sink,
    documents: new DocumentCache(
      schema,
      { ...limits.document, maxBytes: limits.maxFrameBytes, introspection: options.graphql.introspection, suggestions: options.graphql.suggestions },
      options.graphql.documentCacheBytes,
    ),
  }
  const shedAfterMs = options.readiness?.shedAfterMs ?? 0
  // Called only once listening, when `sockets` (served below, on the HTTP server) exist.
  const readiness = new Readiness({ ...options.readiness, check: options.checkReadiness, logger, onUnreadyTooLong: () => closeForUnreadiness(sockets, logger) })
  const probes = probeRoutes(readiness, state)
  const httpServer = http.createServer(requestHandler(options, shared, probes))
  let admin: { close(): Promise<void> } | undefined
  // The adapter keeps the sockets (see serveGraphQLWs): ws need not.
  const wsServer = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH, maxPayload: limits.maxFrameBytes, clientTracking: false })
  shared.metrics?.gauge('hush_websocket_connections', 'WebSocket connections open.', () => sockets.count)
  const sockets = serveGraphQLWs(
    wsServer,
    socketOperations({
      ...shared,
      schema,
      // Unready with shedding on, a new socket would be closed again soon: refused now instead.
      accepting: () => !state.draining && (shedAfterMs === 0 || readiness.isReady),
      connectionInitTimeoutMs: limits.connectionInitTimeoutMs,
      maxOperations: limits.maxSubscriptionsPerConnection,
      operationRate: limits.rates.socketOperations,
    }),
    { logger, maxQueuedBytes: limits.maxQueuedBytes, onSlowConsumer: () => shared.metrics?.slowConsumerCut() },
  )
  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject)
        httpServer.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
          httpServer.off('error', reject)
          // Without shedding, the probes' checks are enough: no background checks.
          if (shedAfterMs > 0) readiness.start()
          resolve(baseUrl(httpServer.address() as AddressInfo))
        })
      }),
    async listenAdmin(port, host) {
      const opened = await listenAdmin(probes, shared.metrics, port, host)
      admin = opened
      return opened.url
    },
    async close(timeoutMs) {
      state.draining = true
      readiness.stop()
      await drain(httpServer, sockets, shared.inFlight, timeoutMs, logger)
      sockets.stop()
      await new Promise<void>((resolve) => wsServer.close(() => resolve()))
      await admin?.close()
    },
  }
}

/** What every path shares: one in-flight count, masker, context factory and document cache. */
interface SharedParts {
  inFlight: InFlight
  maskError: ReturnType<typeof createErrorMasker>
  createContext: CreateContext
  clientAddress: (req: http.IncomingMessage) => string
  documents: DocumentCache
  trusted: TrustedDocuments | undefined
  metrics: ServerMetrics | undefined
}

/** HTTP routes: the probes, photos, the web chat's files, then /graphql on the lean path or Yoga. */
function requestHandler(options: HushServerOptions, shared: SharedParts, probes: ProbeRoutes): http.RequestListener {
  const { services, logger, limits } = options
  const yoga = createHushYoga({ ...shared, logger, maxBodyBytes: limits.maxFrameBytes, maxPhotoBytes: limits.maxPhotoBytes })
  const leanPath = httpOperations({ ...shared, logger, maxBodyBytes: limits.maxFrameBytes, fallback: answerWithYoga(yoga, shared.clientAddress) })
  const graphiql = options.graphql.graphiql ? graphiqlPage(selfContainedGraphiQL(), { subscriptionsProtocol: 'WS', title: 'Hush', endpoint: GRAPHQL_PATH }) : undefined
  const webApp = options.webApp && webAppHandler(options.webApp, logger)
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (probes(path, res)) return
    if (path === '/metrics' && options.metrics?.onMainPort) return serveMetrics(options.metrics.sink, res)
    if (isPhotoPath(path)) {
      servePhoto(services, req, res).catch((error: unknown) => {
        logger.error({ err: error }, 'photo request failed')
        if (!res.headersSent) sendJson(res, 500, { error: 'Unexpected error.' })
      })
      return
    }
    // A refused upload is answered before its body is read; the rest is read and dropped, so the
    // client gets the answer instead of a reset connection.
    if (req.headers['content-type']?.startsWith('multipart/form-data')) {
      res.once('finish', () => {
        if (!req.complete && !req.destroyed) req.resume()
      })
    }
    if (path !== GRAPHQL_PATH && webApp?.(req, res)) return
    if (path === GRAPHQL_PATH && graphiql?.wants(req)) return graphiql.serve(req, res)
    if (path === GRAPHQL_PATH && leanPath(req, res)) return
    void yoga.handle(req, res, { req, res, clientAddress: shared.clientAddress(req) })
  }
}

/** Lets Yoga answer a request the lean path read but does not run, from the body already read. */
function answerWithYoga(yoga: HushYoga, clientAddress: (req: http.IncomingMessage) => string): HttpOperationsOptions['fallback'] {
  return async (req, res, body) => {
    const headers = new yoga.fetchAPI.Headers()
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value)
    const url = `http://${req.headers.host ?? 'localhost'}${req.url ?? GRAPHQL_PATH}`
    // The body read already, handed over as it is (a Buffer is a Uint8Array): no copy.
    const request = new yoga.fetchAPI.Request(url, { method: 'POST', headers, body: body as Uint8Array<ArrayBuffer> })
    const response = await yoga.fetch(request, { req, res, clientAddress: clientAddress(req) })
    res.writeHead(response.status, Object.fromEntries(response.headers))
    if (!response.body) return void res.end()
    // Streamed, not buffered: Yoga may hold the answer open (a subscription it streams). A
    // client gone mid-stream ends it; pipeline has then closed both sides.
    await pipeline(Readable.from(response.body as unknown as AsyncIterable<Uint8Array>), res).catch(() => undefined)
  }
}

/**
 * Closes every socket of a process that has been unready too long (it cannot deliver other
 * processes' events without Redis), so that clients reconnect through the load balancer, which
 * should have stopped routing here by then (/readyz has failed for that long). 1013 Try Again Later: graphql-ws clients retry every close code
 * but their fatal ones (4500, 4005, 4400, 4004, 4401, 4406, 4409, 4429) and 1000, and the code
 * says what happened, a temporary condition of this server; 1001 stays the code of a shutdown.
 */
function closeForUnreadiness(sockets: ServedSockets, logger: Logger): void {
  logger.warn({ sockets: sockets.count }, 'unready too long: closing sockets with 1013 so that clients move')
  for (const socket of sockets.open()) socket.close(1013, 'Service unavailable: reconnect')
}

/**
 * Stops accepting, tells socket clients to reconnect elsewhere (1001), and waits for the work in
 * flight, at most `timeoutMs`; then cuts whatever remains.
 */
async function drain(httpServer: http.Server, sockets: ServedSockets, inFlight: InFlight, timeoutMs: number, logger: Logger): Promise<void> {
  const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()))
  for (const socket of sockets.open()) socket.close(1001, 'Server shutting down')
  httpServer.closeIdleConnections()
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref())
  if ((await Promise.race([Promise.all([closed, inFlight.drained()]), timeout])) === 'timeout') {
    logger.warn({ inFlight: inFlight.count }, 'shutdown timed out; closing remaining connections')
    for (const socket of sockets.open()) socket.terminate()
    httpServer.closeAllConnections()
  }
}

/**
 * A signed photo URL; 404 for anything invalid, expired, already viewed or gone alike. GET
 * serves the bytes (and uses up a view-once photo). HEAD answers from the photo's record alone and
 * never uses up a view-once photo: link previewers and prefetchers send HEADs. Any other method
 * gets 405, and the connection is closed rather than a body it may carry read.
 */
async function servePhoto(services: Services, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json', connection: 'close' })
    return void res.end(JSON.stringify({ error: 'Method not allowed.' }))
  }
  const head = req.method === 'HEAD'
  const request = parsePhotoTicket(new URL(req.url ?? '/', 'http://photo.invalid'))
  const photo = request && (await services.photos.serve(request, { withBytes: !head }))
  if (!photo) return sendJson(res, 404, { error: 'Not found.' })
  res.writeHead(200, {
    'content-type': photo.contentType,
    'content-length': photo.byteSize,
    'cache-control': 'private, no-store',
    'x-content-type-options': 'nosniff',
  })
  res.end(head ? undefined : photo.bytes)
}

