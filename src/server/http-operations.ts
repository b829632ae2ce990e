import { randomUUID } from 'node:crypto'
import type http from 'node:http'
import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql'
import type { Logger } from 'pino'
import type { CreateContext } from './context.js'
import type { TrustedDocuments } from './documents/trusted.js'
import type { ServerMetrics } from './metrics.js'
import { isRefusal, type DocumentCache, type Refusal } from './documents/cache.js'
import type { InFlight } from './in-flight.js'
import { logRequest } from './request-log.js'

export interface HttpOperationsOptions {
  /** Shared with Yoga and the socket path: a document is checked and compiled once for all. */
  documents: DocumentCache
  /** TRUSTED_DOCUMENTS: only the manifest's documents run, named by `documentId` (or sent in full). */
  trusted: TrustedDocuments | undefined
  metrics: ServerMetrics | undefined
  createContext: CreateContext
  inFlight: InFlight
  logger: Logger
  /** Yoga's error masker, so both paths answer an error alike. */
  maskError: (error: unknown) => GraphQLError
  /** Bodies up to this many bytes are read here; larger ones go to Yoga unread (which refuses them). */
  maxBodyBytes: number
  /** The address a request came from. */
  clientAddress: (req: http.IncomingMessage) => string
  /**
   * Called with a request this path read but does not run (bad JSON, a refused document,
   * variables that do not fit, a subscription): Yoga answers it from the body already read,
   * exactly as it answers such requests itself (a refused document is not checked again).
   */
  fallback: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => Promise<void>
}

type ResponseType = 'application/json' | 'application/graphql-response+json'

/**
 * The request clients send nearly every time, a JSON POST of a query or mutation, run without
 * Yoga's fetch adapter and plugin chain: the operation compiled by graphql-jit (the cache the
 * socket path uses), the same context, error masking, status, content type and request id as
 * Yoga gives, at about half the server CPU per request. Returns false, having touched nothing, for
 * any request it does not take: GET, uploads, streaming answers, large or chunked bodies, and
 * requests with an Origin (browsers get Yoga's CORS handling).
 */
export function httpOperations(options: HttpOperationsOptions): (req: http.IncomingMessage, res: http.ServerResponse) => boolean {
  const { documents, logger, maskError, inFlight } = options

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, type: ResponseType, started: number): Promise<void> {
    const request = parseRequest(body, options.trusted)
    const operation = request && (typeof request.query === 'string' ? documents.operation(request.query, request.operationName) : request.query)
    if (!request || !operation || (!isRefusal(operation) && operation.kind === 'subscription')) return options.fallback(req, res, body)
    const requestId = singleHeader(req.headers['x-request-id']) ?? randomUUID()
    const reply = (status: number, text: string) => {
      res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(text), 'x-request-id': requestId })
      res.end(text)
      logRequest(logger, { requestId, method: 'POST', status, started, engine: 'jit' })
    }
    // A refused document is answered here, as Yoga answers it, with what the cache kept: a
    // hostile stream of them costs no second pass through Yoga.
    if (isRefusal(operation)) return reply(refusalStatus(operation, type), JSON.stringify({ errors: operation.errors.map((error) => publicError(maskError(error))) }))
    const context = await options.createContext({ authorization: req.headers.authorization, requestId, clientAddress: options.clientAddress(req) })
    inFlight.start()
    const runStarted = performance.now()
    let result: ExecutionResult
    try {
      result = await operation.compiled.query(undefined, context, request.variables)
    } finally {
      inFlight.end()
    }
    options.metrics?.operation(operation.label, operation.kind, 'http', (performance.now() - runStarted) / 1000)
    // No data: the variables did not fit, so nothing ran; Yoga words that request error.
    if (!('data' in result)) return options.fallback(req, res, body)
    const { status, text } = serializeResult(result, maskError)
    reply(status, text)
  }

  return (req, res) => {
    const type = takenResponseType(req, options.maxBodyBytes)
    if (!type) return false
    const started = performance.now()
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      answer(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), type, started).catch((error: unknown) => {
        logger.error({ err: error }, 'http request failed')
        if (res.headersSent) return res.destroy()
        const text = JSON.stringify({ errors: [maskError(error).toJSON()] })
        res.writeHead(500, { 'Content-Type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(text) })
        res.end(text)
      })
    })
    return true
  }
}

/** The response type Yoga would pick for this request, or undefined when the request is not one this path takes. */
function takenResponseType(req: http.IncomingMessage, maxBodyBytes: number): ResponseType | undefined {
  const { headers } = req
  if (req.method !== 'POST' || headers.origin !== undefined) return undefined
  if (mediaType(headers['content-type']) !== 'application/json') return undefined
  const length = headers['content-length']
  if (length === undefined || !/^\d+$/.test(length) || Number(length) > maxBodyBytes) return undefined
  const accept = headers.accept
  if (accept === undefined || accept.trim() === '') return 'application/json'
  // Yoga takes the first listed type it can answer with, whatever its q.
  for (const listed of accept.split(',')) {
    const type = mediaType(listed)
    if (type === 'application/graphql-response+json') return type
    if (type === 'application/json' || type === '*/*' || type === 'application/*') return 'application/json'
    // A streaming answer (text/event-stream, multipart/mixed) is Yoga's to give.
    if (type === 'text/event-stream' || type === 'multipart/mixed') return undefined
  }
  return undefined
}

function mediaType(header: string | undefined): string | undefined {
  return header?.split(';', 1)[0]!.trim().toLowerCase()
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}

interface GraphQLParams {
  /** The document's text, or (TRUSTED_DOCUMENTS) why the request names none that may run. */
  query: string | Refusal
  operationName: string | undefined
  variables: Record<string, unknown> | undefined
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * The params of a single GraphQL request, or undefined for anything else (Yoga words the error).
 * With trusted documents, the document comes from the manifest, by `documentId` or
 * `extensions.persistedQuery`; without, a request with extensions is Yoga's.
 */
function parseRequest(body: Buffer, trusted: TrustedDocuments | undefined): GraphQLParams | undefined {
  let params: unknown
  try {
    params = JSON.parse(body.toString('utf8'))
  } catch {
    return undefined
  }
  if (!isObject(params)) return undefined
  const { operationName, variables } = params
  if (operationName != null && typeof operationName !== 'string') return undefined
  if (variables != null && !isObject(variables)) return undefined
  let query: string | Refusal
  if (trusted) {
    const text = trusted.resolve(params)
    query = typeof text === 'string' ? text : { stage: 'operation', errors: [text] }
  } else {
    if (typeof params.query !== 'string' || params.extensions != null) return undefined
    query = params.query
  }
  return { query, operationName: operationName ?? undefined, variables: variables ?? undefined }
}

/**
 * The status Yoga gives a refused document: its size's 413; 400 for an operation it lacks; for a
 * validation error 400 when the client accepts the GraphQL-over-HTTP type, else 200; 200 for a
 * syntax error (Yoga answers a thrown parse error so).
 */
function refusalStatus(refusal: Refusal, type: ResponseType): number {
  switch (refusal.stage) {
    case 'size':
      return 413
    case 'operation':
      return 400
    case 'validate':
      return type === 'application/graphql-response+json' ? 400 : 200
    case 'parse':
      return 200
  }
}

/** An error as the body carries it: `extensions.http` is for the response, not the client. */
function publicError(error: GraphQLError): GraphQLFormattedError {
  const json = error.toJSON()
  if (!json.extensions?.http) return json
  const { http: _http, ...extensions } = json.extensions
  return { ...json, extensions: Object.keys(extensions).length > 0 ? extensions : undefined }
}

/**
 * As Yoga serializes an execution result: errors masked and first, `extensions.http` kept out of
 * the body and its highest status used (200 when none has one).
 */
function serializeResult(result: ExecutionResult, maskError: (error: unknown) => GraphQLError): { status: number; text: string } {
  if (!result.errors?.length) return { status: 200, text: JSON.stringify({ data: result.data }) }
  let status: number | undefined
  const errors = result.errors.map((error) => {
    const masked = maskError(error)
    const http = masked.extensions.http as { status?: unknown } | undefined
    if (typeof http?.status === 'number' && (status === undefined || http.status > status)) status = http.status
    return publicError(masked)
  })
  return { status: status ?? 200, text: JSON.stringify({ errors, data: result.data }) }
}
