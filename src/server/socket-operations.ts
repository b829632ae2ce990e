import { createSourceEventStream, GraphQLError, type ExecutionResult, type GraphQLSchema } from 'graphql'
import { CloseCode, type SubscribePayload } from 'graphql-ws'
import type { WebSocket } from 'ws'
import type { RateConfig } from '../config.js'
import { TokenBucket } from '../domain/token-bucket.js'
import type { GraphQLContext } from '../schema/context.js'
import type { CreateContext } from './context.js'
import { isRefusal, type DocumentCache, type Operation } from './documents/cache.js'
import type { TrustedDocuments } from './documents/trusted.js'
import type { ServerMetrics } from './metrics.js'
import type { InFlight } from './in-flight.js'
import type { PreparedOperation, PreparedSubscription, SocketContext, SocketServerOptions } from './socket-server.js'
import type { Extra } from './ws-adapter.js'

export interface SocketOperationsOptions {
  schema: GraphQLSchema
  /** Shared with the HTTP paths: a document is checked and compiled once for all. */
  documents: DocumentCache
  /** TRUSTED_DOCUMENTS: only the manifest's documents run (by `documentId` or `extensions.persistedQuery` in the payload). */
  trusted: TrustedDocuments | undefined
  metrics: ServerMetrics | undefined
  createContext: CreateContext
  inFlight: InFlight
  /** The address the upgrade request came from. */
  clientAddress: (request: NonNullable<Extra['request']>) => string
  /** The same masking as Yoga's over HTTP: domain codes kept, anything unexpected logged and hidden. */
  maskError: (error: unknown) => GraphQLError
  /** False while the server drains: new sockets are refused (4403, so clients go elsewhere). */
  accepting: () => boolean
  connectionInitTimeoutMs: number
  /** Operations one socket may hold at once (SPEC: 200). */
  maxOperations: number
  /** Subscribes and completes of one socket. */
  operationRate: RateConfig
}

/** Set on a socket once `connection_init` proved a token. */
export type SocketExtra = Extra & {
  /** The context of all its operations. */
  context?: GraphQLContext
  /** Its subscribes and completes. */
  operations?: TokenBucket
}

/**
 * Hush's socket options: authentication in `connection_init`, then operations from the document
 * cache (checked against the limits, compiled by graphql-jit), one resolver context per socket,
 * and Yoga's error masker. A subscription opens its source with graphql-js and maps each event
 * with the compiled operation: the per-event work (variables, field collection, type checks)
 * that graphql-js `execute` redoes every time is done once per operation text.
 *
 * A socket holds at most `maxOperations` operations whose work has not ended, and its subscribes
 * and completes share one token bucket: churning subscriptions (which flaps presence) is refused
 * like anything else done too fast.
 */
export function socketOperations(options: SocketOperationsOptions): SocketServerOptions<SocketExtra> {
  const { maskError } = options
  const tokenExpiries = new TokenExpiries()
  let connections = 0

  return {
    connectionInitWaitTimeout: options.connectionInitTimeoutMs,
    onConnect: async (ctx) => {
      const { socket, request, budget } = ctx.extra
      // Hush's GraphiQL page (graphiql.ts) sends its headers editor as the payload, so "Authorization" counts too.
      const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization
      const context = await options.createContext({
        authorization: typeof authorization === 'string' ? authorization : undefined,
        requestId: `ws-${(++connections).toString(36)}`,
        clientAddress: request ? options.clientAddress(request) : 'unknown',
        budget,
      })
      // 4403 Forbidden, which graphql-ws clients treat as retryable. A socket gone while its
      // token was checked must not be watched.
      if (!context.viewer || !options.accepting() || socket.readyState !== socket.OPEN) return false
      ctx.extra.context = context
      ctx.extra.operations = new TokenBucket(options.operationRate, Date.now())
      // The upgrade request is not needed past here, and would be kept for the socket's life.
      ctx.extra.request = undefined
      tokenExpiries.watch(socket, context.viewer.expiresAt * 1000)
      return true
    },
    onClose: (ctx) => tokenExpiries.forget(ctx.extra.socket),
    onComplete: (ctx) => void ctx.extra.operations?.take(1, Date.now()),
    prepare: (ctx, _id, payload) => prepare(options, ctx, payload),
    formatErrors: (errors) => errors.map((error) => maskError(error).toJSON()),
    toGraphQLError: (error) => {
      const original = error instanceof Error ? error : new Error(String(error))
      return new GraphQLError(original.message, { originalError: original })
    },
  }
}

/**
 * What one `subscribe` runs: refused past the socket's operation count or rate, else the
 * operation from the document cache, its context the socket's.
 */
function prepare(options: SocketOperationsOptions, ctx: SocketContext<SocketExtra>, payload: SubscribePayload): PreparedOperation | readonly GraphQLError[] {
  const { context, operations: bucket } = ctx.extra
  if (!context || !bucket) throw new Error('operation on an unauthenticated socket')
  if (ctx.operationCount > options.maxOperations) {
    return refusal(`At most ${options.maxOperations} operations at once per connection.`, 1_000)
  }
  const retryAfterMs = bucket.take(1, Date.now())
  if (retryAfterMs > 0) return refusal('Too many subscribes and completes on this connection; slow down.', retryAfterMs)
  const text = options.trusted ? options.trusted.resolve(payload) : payload.query
  if (typeof text !== 'string') return [text]
  const operation = options.documents.operation(text, payload.operationName ?? undefined)
  if (isRefusal(operation)) return operation.errors
  const { compiled, label } = operation
  const variables = payload.variables ?? undefined
  if (operation.kind === 'subscription') return new SocketSubscription(options, operation, context, variables)
  return {
    kind: 'single',
    run: async () => {
      options.inFlight.start()
      const started = performance.now()
      try {
        return await compiled.query(undefined, context, variables)
      } finally {
        options.inFlight.end()
        options.metrics?.operation(label, operation.kind, 'socket', (performance.now() - started) / 1000)
      }
    },
  }
}

/** A subscription of one socket: what it keeps for its life is these four references. */
class SocketSubscription implements PreparedSubscription {
  readonly kind = 'subscription'

  constructor(
    private readonly options: SocketOperationsOptions,
    private readonly operation: Operation,
    private readonly context: GraphQLContext,
    private readonly variables: Record<string, unknown> | undefined,
  ) {}

  async open(): Promise<AsyncIterator<unknown> | ExecutionResult> {
    const { options, operation, context, variables } = this
    const started = performance.now()
    try {
      const source = await createSourceEventStream({ schema: options.schema, document: operation.document, operationName: operation.name, variableValues: variables, contextValue: context })
      options.metrics?.operation(operation.label, 'subscription', 'socket', (performance.now() - started) / 1000)
      return Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source
    } catch (error) {
      // Answered as a result with the (masked) error, as graphql-js answers a failing resolver.
      return { errors: [error instanceof GraphQLError ? error : new GraphQLError((error as Error).message, { originalError: error as Error })] }
    }
  }

  map(event: unknown): Promise<ExecutionResult> | ExecutionResult {
    return this.operation.compiled.query(event, this.context, this.variables)
  }
}

const refusal = (message: string, retryAfterMs: number) => [
  new GraphQLError(message, { extensions: { code: 'RATE_LIMITED', retryAfterMs: Math.ceil(retryAfterMs) } }),
]

/** How often sockets are checked for an expired token: they are closed within this of its `exp`. */
const TOKEN_CHECK_MS = 1_000

/**
 * Closes each socket (4403, which clients retry with a fresh token) once its token expired. One
 * timer for all sockets, running only while some are watched, rather than a timer per socket.
 */
class TokenExpiries {
  private readonly expiries = new Map<WebSocket, number>()
  private timer: NodeJS.Timeout | undefined

  watch(socket: WebSocket, expiresAtMs: number): void {
    this.expiries.set(socket, expiresAtMs)
    if (this.timer) return
    this.timer = setInterval(() => this.check(), TOKEN_CHECK_MS)
    this.timer.unref()
  }

  forget(socket: WebSocket): void {
    this.expiries.delete(socket)
    if (this.expiries.size > 0 || !this.timer) return
    clearInterval(this.timer)
    this.timer = undefined
  }

  private check(): void {
    const now = Date.now()
    for (const [socket, expiresAt] of this.expiries) {
      if (expiresAt > now) continue
      this.expiries.delete(socket)
      socket.close(CloseCode.Forbidden, 'Token expired')
    }
  }
}
