/**
 * src/server/http.ts with one of its two hand-written replacements of a library swapped back for
 * the library (a copy of that file from `createHushServer` down, edited only where marked
 * "variant"; keep it in step with src/server/http.ts):
 * - `socket: 'graphql-ws'`: the WebSocket served by graphql-ws's `useServer` (graphql-ws-socket.ts)
 *   instead of Hush's protocol core, adapter and socket operations;
 * - `http: 'yoga-jit'`: every HTTP request served by Yoga with @envelop/graphql-jit (yoga-jit.ts),
 *   without the lean JSON path.
 * Everything else is src/'s own: schema, document cache and limits, context, masking, in-flight
 * count, client address, probes and photos.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import type { Services } from '../../src/domain/services.js'
import { schema } from '../../src/schema/index.js'
import { clientAddressOf } from '../../src/server/client-address.js'
import { contextFactory, type CreateContext } from '../../src/server/context.js'
import { DocumentCache } from '../../src/server/documents/cache.js'
import { createErrorMasker } from '../../src/server/errors.js'
import type { HushServer, HushServerOptions } from '../../src/server/http.js'
import { httpOperations, type HttpOperationsOptions } from '../../src/server/http-operations.js'
import { InFlight } from '../../src/server/in-flight.js'
import { isPhotoPath, parsePhotoTicket } from '../../src/server/photo-routes.js'
import { socketOperations } from '../../src/server/socket-operations.js'
import { serveGraphQLWs } from '../../src/server/ws-adapter.js'
import { createHushYoga, GRAPHQL_PATH, type HushYoga } from '../../src/server/yoga.js'
import { serveWithGraphqlWs } from './graphql-ws-socket.js'
import { createYogaWithJit } from './yoga-jit.js'

export interface Variant {
  http: 'hush' | 'yoga-jit'
  socket: 'hush' | 'graphql-ws'
}

export function createVariantServer(options: HushServerOptions, variant: Variant): HushServer {
  const { services, logger, limits } = options
  const state = { draining: false }
  const shared: SharedParts = {
    inFlight: new InFlight(),
    maskError: createErrorMasker(logger),
    createContext: contextFactory(services),
    clientAddress: clientAddressOf(options.trustedProxies),
    // The bench measures neither trusted documents nor metrics: both off, as by default.
    trusted: undefined,
    metrics: undefined,
    documents: new DocumentCache(
      schema,
      { ...limits.document, maxBytes: limits.maxFrameBytes, introspection: options.graphql.introspection, suggestions: options.graphql.suggestions },
      options.graphql.documentCacheBytes,
    ),
  }
  const httpServer = http.createServer(requestHandler(options, shared, state, variant))
  const wsServer = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH, maxPayload: limits.maxFrameBytes })
  // variant: graphql-ws's useServer, or Hush's socket core as src/server/http.ts serves it.
  let stopSockets: () => Promise<void> | void
  if (variant.socket === 'graphql-ws') {
    const served = serveWithGraphqlWs(wsServer, {
      ...shared,
      schema,
      accepting: () => !state.draining,
      connectionInitTimeoutMs: limits.connectionInitTimeoutMs,
      maxOperations: limits.maxSubscriptionsPerConnection,
      operationRate: limits.rates.socketOperations,
      maxQueuedBytes: limits.maxQueuedBytes,
      logger,
    })
    stopSockets = () => served.dispose()
  } else {
    const sockets = serveGraphQLWs(
      wsServer,
      socketOperations({
        ...shared,
        schema,
        accepting: () => !state.draining,
        connectionInitTimeoutMs: limits.connectionInitTimeoutMs,
        maxOperations: limits.maxSubscriptionsPerConnection,
        operationRate: limits.rates.socketOperations,
      }),
      { logger, maxQueuedBytes: limits.maxQueuedBytes },
    )
    stopSockets = async () => {
      sockets.stop()
      await new Promise<void>((resolve) => wsServer.close(() => resolve()))
    }
  }
  return {
    listenAdmin: () => Promise.reject(new Error('the bench variants have no admin port')),
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject)
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject)
          resolve(baseUrl(httpServer.address() as AddressInfo))
        })
      }),
    async close(timeoutMs) {
      state.draining = true
      await drain(httpServer, wsServer, shared.inFlight, timeoutMs, logger)
      await stopSockets()
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
  trusted: undefined
  metrics: undefined
}

/** HTTP routes: the probes, photos, then /graphql on the lean path or Yoga. */
function requestHandler(options: HushServerOptions, shared: SharedParts, state: { draining: boolean }, variant: Variant): http.RequestListener {
  const { services, logger, limits } = options
  // variant: Yoga with @envelop/graphql-jit and no lean path, or Hush's Yoga and lean path.
  const yogaOptions = { ...shared, logger, maxBodyBytes: limits.maxFrameBytes, maxPhotoBytes: limits.maxPhotoBytes }
  const yoga = variant.http === 'yoga-jit' ? createYogaWithJit(yogaOptions) : createHushYoga(yogaOptions)
  const leanPath =
    variant.http === 'hush'
      ? httpOperations({ ...shared, logger, maxBodyBytes: limits.maxFrameBytes, fallback: answerWithYoga(yoga, shared.clientAddress) })
      : () => false
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' })
    if (isPhotoPath(path)) {
      servePhoto(services, req, res).catch((error: unknown) => {
        logger.error({ err: error }, 'photo request failed')
        if (!res.headersSent) sendJson(res, 500, { error: 'Unexpected error.' })
      })
      return
    }
    if (path === '/readyz') {
      if (state.draining) return sendJson(res, 503, { status: 'draining' })
      options.checkReadiness().then(
        () => sendJson(res, 200, { status: 'ready' }),
        (error: Error) => {
          logger.warn({ err: error.message }, 'not ready')
          sendJson(res, 503, { status: 'unavailable' })
        },
      )
      return
    }
    // A refused upload is answered before its body is read; the rest is read and dropped, so the
    // client gets the answer instead of a reset connection.
    if (req.headers['content-type']?.startsWith('multipart/form-data')) {
      res.once('finish', () => {
        if (!req.complete && !req.destroyed) req.resume()
      })
    }
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
    const request = new yoga.fetchAPI.Request(url, { method: 'POST', headers, body: new Uint8Array(body) })
    const response = await yoga.fetch(request, { req, res, clientAddress: clientAddress(req) })
    res.writeHead(response.status, Object.fromEntries(response.headers))
    if (!response.body) return void res.end()
    // Streamed, not buffered: Yoga may hold the answer open (a subscription it streams). A
    // client gone mid-stream ends it; pipeline has then closed both sides.
    await pipeline(Readable.from(response.body as unknown as AsyncIterable<Uint8Array>), res).catch(() => undefined)
  }
}

/**
 * Stops accepting, tells socket clients to reconnect elsewhere (1001), and waits for the work in
 * flight, at most `timeoutMs`; then cuts whatever remains.
 */
async function drain(httpServer: http.Server, wsServer: WebSocketServer, inFlight: InFlight, timeoutMs: number, logger: Logger): Promise<void> {
  const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()))
  for (const socket of wsServer.clients) socket.close(1001, 'Server shutting down')
  httpServer.closeIdleConnections()
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref())
  if ((await Promise.race([Promise.all([closed, inFlight.drained()]), timeout])) === 'timeout') {
    logger.warn({ inFlight: inFlight.count }, 'shutdown timed out; closing remaining connections')
    for (const socket of wsServer.clients) socket.terminate()
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

function baseUrl(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}
