import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GraphQLError } from 'graphql'
import { createFetch } from '@whatwg-node/fetch'
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga'
import type { Logger } from 'pino'
import type { GraphQLContext } from '../schema/context.js'
import { schema } from '../schema/index.js'
import type { CreateContext } from './context.js'
import type { DocumentCache } from './documents/cache.js'
import type { TrustedDocuments } from './documents/trusted.js'
import { useDocumentCache, useTrustedDocuments } from './documents/yoga-plugin.js'
import type { InFlight } from './in-flight.js'
import { useOperationMetrics, type ServerMetrics } from './metrics.js'
import { logRequest } from './request-log.js'

export const GRAPHQL_PATH = '/graphql'

/** What Hush's node server hands Yoga with each request. */
export interface ServerContext {
  req: IncomingMessage
  res: ServerResponse
  clientAddress: string
}

export interface HushYogaOptions {
  documents: DocumentCache
  /** TRUSTED_DOCUMENTS: only the manifest's documents run. */
  trusted: TrustedDocuments | undefined
  metrics: ServerMetrics | undefined
  createContext: CreateContext
  inFlight: InFlight
  maskError: (error: unknown) => GraphQLError
  logger: Logger
  /** Largest body other than an upload (a JSON or form body), refused from its Content-Length. */
  maxBodyBytes: number
  /** Largest photo: uploads are refused while streaming once past it, never buffered whole. */
  maxPhotoBytes: number
}

export type HushYoga = YogaServerInstance<ServerContext, GraphQLContext>

/**
 * Yoga for everything the lean path (http-operations.ts) leaves to it: GraphiQL, GET, uploads,
 * streamed answers, browsers (CORS) and every request error. It shares the document cache (and so
 * the limits), the context, the in-flight count, the masker and the access log with the other paths.
 */
export function createHushYoga(options: HushYogaOptions): HushYoga {
  const { logger, maxBodyBytes, maxPhotoBytes } = options
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    fetchAPI: createFetch({ formDataLimits: { fileSize: maxPhotoBytes, files: 1, fields: 8, fieldSize: maxBodyBytes } }),
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // GraphiQL is served by the server itself (graphiql.ts), from bytes made once.
    graphiql: false,
    maskedErrors: { maskError: options.maskError },
    logging: {
      debug: (...args) => logger.debug({ yoga: args }, 'yoga'),
      info: (...args) => logger.info({ yoga: args }, 'yoga'),
      warn: (...args) => logger.warn({ yoga: args }, 'yoga'),
      // Errors reaching the client were already judged by maskError, which logs unexpected ones in full.
      error: (...args) => logger.debug({ yoga: args }, 'yoga'),
    },
    // Yoga's own limit wraps every body in a counting stream; a declared Content-Length is
    // checked instead (node's parser never reads past it).
    maxRequestBodySize: false,
    // The document cache parses and validates, bounded by bytes.
    parserAndValidationCache: false,
    plugins: [
      // An upload is the photo, its operation (at most a body's size) and the multipart framing.
      useBodyLimit(maxBodyBytes, maxPhotoBytes + 2 * maxBodyBytes),
      useRequestErrors(),
      ...(options.trusted ? [useTrustedDocuments(options.trusted)] : []),
      useDocumentCache(options.documents),
      useRequestLog(logger),
      useInFlight(options.inFlight),
      ...(options.metrics ? [useOperationMetrics(options.metrics)] : []),
    ],
    context: async (initial) =>
      options.createContext({
        authorization: initial.request.headers.get('authorization'),
        requestId: requestIds.get(initial.request)?.id ?? randomUUID(),
        clientAddress: initial.clientAddress,
      }),
  })
}


const requestIds = new WeakMap<Request, { id: string; started: number }>()

function useRequestLog(logger: Logger): Plugin {
  return {
    onRequest({ request }) {
      requestIds.set(request, { id: request.headers.get('x-request-id') ?? randomUUID(), started: performance.now() })
    },
    onResponse({ request, response }) {
      const entry = requestIds.get(request)
      if (!entry) return
      response.headers.set('x-request-id', entry.id)
      logRequest(logger, { requestId: entry.id, method: request.method, status: response.status, started: entry.started, engine: 'yoga' })
    },
  }
}

function useInFlight(inFlight: InFlight): Plugin {
  return {
    onExecute() {
      inFlight.start()
      return { onExecuteDone: () => inFlight.end() }
    },
  }
}

/**
 * Refuses a request body past its limit before reading it, from its Content-Length: `maxBytes`
 * for JSON and forms (a GraphQL request is a document and its variables), `maxUploadBytes` for a
 * multipart upload. A body without a length (chunked) is only taken as multipart, whose parser
 * bounds every part it reads; anything else would be read whole to learn its size, so it gets 411.
 */
function useBodyLimit(maxBytes: number, maxUploadBytes: number): Plugin {
  const refuse = (message: string, status: number, code: string) => new GraphQLError(message, { extensions: { code, http: { status } } })
  return {
    onRequestParse({ request }) {
      if (request.method !== 'POST') return
      const multipart = request.headers.get('content-type')?.startsWith('multipart/form-data') ?? false
      const length = request.headers.get('content-length')
      if (length === null) {
        if (multipart) return
        throw refuse('A request body needs a Content-Length header.', 411, 'BAD_REQUEST')
      }
      if (!/^\d+$/.test(length)) throw refuse('Content-Length header is invalid.', 400, 'BAD_REQUEST')
      const limit = multipart ? maxUploadBytes : maxBytes
      if (Number(length) > limit) throw refuse(`The request body is larger than ${limit} bytes.`, 413, 'PAYLOAD_TOO_LARGE')
    },
  }
}

/**
 * A request Yoga cannot read (GET variables that are not JSON, a malformed multipart body) is the
 * client's error: 400 BAD_REQUEST, not an unexpected error of the server. Yoga's parsers throw
 * plain TypeErrors and SyntaxErrors for some of these.
 */
function useRequestErrors(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return
      setRequestParser(async (request) => {
        try {
          return await requestParser(request)
        } catch (error) {
          // Yoga words a multipart field past its size (the operation, a document) as invalid
          // multipart data; it is a request too large, as for a JSON body.
          if (error instanceof GraphQLError && /size exceeded/i.test(error.message)) {
            throw new GraphQLError(`The request is larger than allowed: ${error.message}`, { extensions: { code: 'PAYLOAD_TOO_LARGE', http: { status: 413 } } })
          }
          if (error instanceof GraphQLError) throw error
          throw new GraphQLError(`The request could not be read: ${(error as Error).message}`, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } })
        }
      })
    },
  }
}
