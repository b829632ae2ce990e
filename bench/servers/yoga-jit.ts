/**
 * The lean HTTP path's alternative: Yoga alone, as its docs make it fast, for every HTTP request.
 * A copy of src/server/yoga.ts's createHushYoga (same schema, fetch API limits, masking, logging,
 * body limits, document cache and so the same document limits, request log, in-flight count and
 * context), plus `@envelop/graphql-jit`, which runs each document compiled by graphql-jit (cached
 * per parsed document; the document cache hands Yoga the same parsed document for the same text,
 * so each text is compiled once). Keep it in step with src/server/yoga.ts.
 */
import { randomUUID } from 'node:crypto'
import { useGraphQlJit } from '@envelop/graphql-jit'
import { createFetch } from '@whatwg-node/fetch'
import { GraphQLError } from 'graphql'
import { createYoga, type Plugin } from 'graphql-yoga'
import type { Logger } from 'pino'
import type { GraphQLContext } from '../../src/schema/context.js'
import { schema } from '../../src/schema/index.js'
import { useDocumentCache } from '../../src/server/documents/yoga-plugin.js'
import { logRequest } from '../../src/server/request-log.js'
import { GRAPHQL_PATH, type HushYoga, type HushYogaOptions, type ServerContext } from '../../src/server/yoga.js'
import type { InFlight } from '../../src/server/in-flight.js'

export function createYogaWithJit(options: HushYogaOptions): HushYoga {
  const { logger, maxBodyBytes, maxPhotoBytes } = options
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    fetchAPI: createFetch({ formDataLimits: { fileSize: maxPhotoBytes, files: 1, fields: 8, fieldSize: maxBodyBytes } }),
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // As in Hush's Yoga: GraphiQL is the server's own page, not Yoga's.
    graphiql: false,
    maskedErrors: { maskError: options.maskError },
    logging: {
      debug: (...args) => logger.debug({ yoga: args }, 'yoga'),
      info: (...args) => logger.info({ yoga: args }, 'yoga'),
      warn: (...args) => logger.warn({ yoga: args }, 'yoga'),
      error: (...args) => logger.debug({ yoga: args }, 'yoga'),
    },
    maxRequestBodySize: false,
    // The document cache parses and validates (with Hush's limits), bounded by bytes: it is the
    // parser and validation cache here, as in Hush's Yoga.
    parserAndValidationCache: false,
    plugins: [
      useBodyLimit(maxBodyBytes, maxPhotoBytes + 2 * maxBodyBytes),
      useDocumentCache(options.documents),
      useRequestLog(logger),
      useInFlight(options.inFlight),
      // The one addition: execution by graphql-jit, through Yoga's plugin chain.
      useGraphQlJit(),
    ],
    context: async (initial) =>
      options.createContext({
        authorization: initial.request.headers.get('authorization'),
        requestId: requestIds.get(initial.request)?.id ?? randomUUID(),
        clientAddress: initial.clientAddress,
      }),
  })
}

// Copies of src/server/yoga.ts's private plugins.

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
