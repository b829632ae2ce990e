import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { GraphQLError } from 'graphql'
import { createFetch } from '@whatwg-node/fetch'
import { createYoga, type Plugin } from 'graphql-yoga'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import type { Limits } from '../config.js'
import { isPhotoPath, parsePhotoRequest } from '../domain/photos.js'
import type { Services } from '../domain/services.js'
import type { GraphQLContext } from '../schema/context.js'
import { schema } from '../schema/index.js'
import { createErrorMasker } from './errors.js'
import { httpOperations } from './http-operations.js'
import { OperationCache, OPERATIONS_MAX } from './operation-cache.js'
import { socketOperations } from './socket-operations.js'
import { serveGraphQLWs } from './ws-adapter.js'

export const GRAPHQL_PATH = '/graphql'

export interface HushServerOptions {
  services: Services
  logger: Logger
  limits: Limits
  /** Throws when a backing service (DynamoDB, Redis) cannot be reached; serves /readyz. */
  checkReadiness: () => Promise<void>
}

export interface HushServer {
  /** Listens; resolves to the server's base URL (http://host:port, loopback for a wildcard host). */
  listen(port: number, host: string): Promise<string>
  /** Stops accepting, tells socket clients to reconnect elsewhere (1001), waits for in-flight work. */
  close(timeoutMs: number): Promise<void>
}

/**
 * One HTTP server: JSON POSTs of queries and mutations run on a lean path (http-operations.ts),
 * and Yoga serves everything else on /graphql (GraphiQL, GET, uploads, browsers, every request
 * error); graphql-ws serves subscriptions (and any operation) on the same path; /healthz and
 * /readyz answer probes. All paths share the schema, the resolver context and the error masker,
 * and the lean HTTP path and the socket run operations compiled once by graphql-jit.
 */
export function createHushServer(options: HushServerOptions): HushServer {
  const { services, logger, limits } = options
  let inFlight = 0
  let draining = false
  const idle = new Set<() => void>()
  const settle = () => {
    if (inFlight === 0) for (const resolve of idle) resolve()
  }

  const maskError = createErrorMasker(logger)
  const operations = new OperationCache(schema, OPERATIONS_MAX)
  const onExecuteStart = () => inFlight++
  const onExecuteEnd = () => {
    inFlight--
    settle()
  }
  const requestIds = new WeakMap<Request, { id: string; started: number }>()
  const trackInFlight: Plugin = {
    onExecute() {
      onExecuteStart()
      return { onExecuteDone: onExecuteEnd }
    },
  }
  const requestLog: Plugin = {
    onRequest({ request }) {
      requestIds.set(request, { id: request.headers.get('x-request-id') ?? randomUUID(), started: performance.now() })
    },
    onResponse({ request, response }) {
      const entry = requestIds.get(request)
      if (!entry) return
      response.headers.set('x-request-id', entry.id)
      logger.info(
        { requestId: entry.id, method: request.method, status: response.status, ms: Math.round(performance.now() - entry.started), engine: 'yoga' },
        'http request',
      )
    },
  }

  const yoga = createYoga<Record<string, never>, GraphQLContext>({
    schema,
    // Uploads are refused while streaming once past the photo limit, never buffered whole.
    fetchAPI: createFetch({
      formDataLimits: { fileSize: limits.maxPhotoBytes, files: 1, fields: 8, fieldSize: limits.maxFrameBytes },
    }),
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    graphiql: { subscriptionsProtocol: 'WS', title: 'Hush' },
    maskedErrors: { maskError },
    logging: {
      debug: (...args) => logger.debug({ yoga: args }, 'yoga'),
      info: (...args) => logger.info({ yoga: args }, 'yoga'),
      warn: (...args) => logger.warn({ yoga: args }, 'yoga'),
      // Errors reaching the client were already judged by maskError, which logs unexpected ones in full.
      error: (...args) => logger.debug({ yoga: args }, 'yoga'),
    },
    // Yoga's own limit wraps every body in a counting stream, which costs more than a small
    // mutation; a declared Content-Length is checked instead (node's parser never reads past it).
    maxRequestBodySize: false,
    plugins: [useContentLengthLimit(Math.max(MAX_REQUEST_BODY_BYTES, 2 * limits.maxPhotoBytes)), requestLog, trackInFlight],
    context: async (initial): Promise<GraphQLContext> => {
      const requestId = requestIds.get(initial.request)?.id ?? randomUUID()
      const viewer = await services.accounts.authenticate(initial.request.headers.get('authorization'))
      return { viewer, services, requestId }
    },
  })

  const leanPath = httpOperations({
    operations,
    services,
    logger,
    maskError,
    maxBodyBytes: limits.maxFrameBytes,
    onExecuteStart,
    onExecuteEnd,
    fallback: async (req, res, body) => {
      const headers = new yoga.fetchAPI.Headers()
      for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value)
      const url = `http://${req.headers.host ?? 'localhost'}${req.url ?? GRAPHQL_PATH}`
      const response = await yoga.fetch(new yoga.fetchAPI.Request(url, { method: 'POST', headers, body: new Uint8Array(body) }))
      res.writeHead(response.status, Object.fromEntries(response.headers))
      if (!response.body) return void res.end()
      // Streamed, not buffered: Yoga may hold the answer open (a subscription it streams). A
      // client gone mid-stream ends it; pipeline has then closed both sides.
      await pipeline(Readable.from(response.body as unknown as AsyncIterable<Uint8Array>), res).catch(() => undefined)
    },
  })

  const httpServer = http.createServer((req, res) => {
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
      if (draining) return sendJson(res, 503, { status: 'draining' })
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
    void yoga.handle(req, res)
  })

  const wsServer = new WebSocketServer({ server: httpServer, path: GRAPHQL_PATH, maxPayload: limits.maxFrameBytes })

  const stopKeepAlive = serveGraphQLWs(
    wsServer,
    socketOperations({
      schema,
      operations,
      services,
      limits,
      maskError,
      accepting: () => !draining,
      onExecuteStart,
      onExecuteEnd,
    }),
    { logger },
  )

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject)
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject)
          resolve(baseUrl(httpServer.address() as AddressInfo))
        })
      })
    },
    async close(timeoutMs) {
      draining = true
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()))
      for (const socket of wsServer.clients) socket.close(1001, 'Server shutting down')
      httpServer.closeIdleConnections()
      const drained = new Promise<void>((resolve) => {
        idle.add(resolve)
        settle()
      })
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref())
      if ((await Promise.race([Promise.all([closed, drained]), timeout])) === 'timeout') {
        logger.warn({ inFlight }, 'shutdown timed out; closing remaining connections')
        for (const socket of wsServer.clients) socket.terminate()
        httpServer.closeAllConnections()
      }
      stopKeepAlive()
      await new Promise<void>((resolve) => wsServer.close(() => resolve()))
    },
  }
}

/**
 * Bodies past this are refused unread (Yoga's default). Uploads between the photo limit and this
 * are read and refused by the multipart parser's own limit, with a clean PAYLOAD_TOO_LARGE.
 */
const MAX_REQUEST_BODY_BYTES = 25_000_000

/**
 * Refuses a request body past `limit` bytes before reading it, from its Content-Length. A body
 * without one (chunked) is only taken as multipart, whose parser bounds every part it reads;
 * anything else would be read whole to learn its size, so it gets 411.
 */
function useContentLengthLimit(limit: number): Plugin {
  const refuse = (message: string, status: number, code: string) => new GraphQLError(message, { extensions: { code, http: { status } } })
  return {
    onRequestParse({ request }) {
      if (request.method !== 'POST') return
      const length = request.headers.get('content-length')
      if (length === null) {
        if (request.headers.get('content-type')?.startsWith('multipart/form-data')) return
        throw refuse('A request body needs a Content-Length header.', 411, 'BAD_REQUEST')
      }
      if (!/^\d+$/.test(length)) throw refuse('Content-Length header is invalid.', 400, 'BAD_REQUEST')
      if (Number(length) > limit) throw refuse('Request body too large.', 413, 'REQUEST_ENTITY_TOO_LARGE')
    },
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
  const request = parsePhotoRequest(new URL(req.url ?? '/', 'http://photo.invalid'))
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
