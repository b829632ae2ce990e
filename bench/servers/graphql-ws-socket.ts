/**
 * The socket core's alternative: graphql-ws's own server (`useServer` from `graphql-ws/use/ws`,
 * on the same `ws` WebSocketServer) with Hush's operations plugged into its hooks, in place of
 * src/server/socket-server.ts + ws-adapter.ts + socket-operations.ts:
 * - `onConnect`: Hush's authentication (the context factory, so services.accounts.authenticate),
 *   refusal while draining, the socket's byte budget for unread events, its operation bucket and
 *   its token expiry, as socket-operations.ts does;
 * - `onSubscribe`: the operation limit and the subscribe bucket, then the execution args from
 *   Hush's DocumentCache (the parsed document, checked against the same limits, and its graphql-jit
 *   compiled query, remembered for `execute`/`subscribe`);
 * - `execute`: the compiled query (counted in flight); `subscribe`: graphql's
 *   createSourceEventStream, each event mapped by the compiled query (as graphql's own `subscribe`
 *   maps them with `execute`);
 * - `onNext`/`onError`: Hush's error masker.
 * What graphql-ws does itself is left to it: message parsing and the protocol, one `for await`
 * per subscription inside the handler of the message that started it, a keep-alive interval and
 * pong timeout per socket, and each frame written and awaited.
 */
import { createSourceEventStream, GraphQLError, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql'
import { CloseCode } from 'graphql-ws'
import { useServer } from 'graphql-ws/use/ws'
import type { Logger } from 'pino'
import type { WebSocket, WebSocketServer } from 'ws'
import type { RateConfig } from '../../src/config.js'
import type { QueueBudget } from '../../src/domain/event-queue.js'
import { TokenBucket } from '../../src/domain/token-bucket.js'
import type { GraphQLContext } from '../../src/schema/context.js'
import type { CreateContext } from '../../src/server/context.js'
import { isRefusal, type DocumentCache, type Operation } from '../../src/server/documents/cache.js'
import type { InFlight } from '../../src/server/in-flight.js'
import type { IncomingMessage } from 'node:http'

export interface GraphqlWsSocketOptions {
  schema: GraphQLSchema
  documents: DocumentCache
  createContext: CreateContext
  inFlight: InFlight
  clientAddress: (request: IncomingMessage) => string
  maskError: (error: unknown) => GraphQLError
  accepting: () => boolean
  connectionInitTimeoutMs: number
  maxOperations: number
  operationRate: RateConfig
  maxQueuedBytes: number
  logger: Logger
}

/** What Hush adds to graphql-ws's `ctx.extra` ({ socket, request }) once a socket is authenticated. */
interface HushExtra extends Record<PropertyKey, unknown> {
  context: GraphQLContext
  operations: TokenBucket
}

/** Serves graphql-ws on `wsServer`; returns graphql-ws's disposer. */
export function serveWithGraphqlWs(wsServer: WebSocketServer, options: GraphqlWsSocketOptions): { dispose(): Promise<void> | void } {
  const { schema, documents, maskError, inFlight } = options
  const formatErrors = (errors: readonly GraphQLError[]) => errors.map((error) => maskError(error).toJSON())
  /** The compiled operation of each set of execution args onSubscribe returned. */
  const operationOf = new WeakMap<ExecutionArgs, Operation>()
  const tokenExpiries = new TokenExpiries()
  let connections = 0

  return useServer<Record<string, unknown>, HushExtra>(
    {
      schema,
      connectionInitWaitTimeout: options.connectionInitTimeoutMs,
      onConnect: async (ctx) => {
        const { socket, request } = ctx.extra
        const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization
        const budget = new SocketBudget(socket, options.maxQueuedBytes, options.logger)
        const context = await options.createContext({
          authorization: typeof authorization === 'string' ? authorization : undefined,
          requestId: `ws-${(++connections).toString(36)}`,
          clientAddress: request ? options.clientAddress(request) : 'unknown',
          budget,
        })
        if (!context.viewer || !options.accepting() || socket.readyState !== socket.OPEN) return false
        ctx.extra.context = context
        ctx.extra.operations = new TokenBucket(options.operationRate, Date.now())
        // As Hush does: the upgrade request is not kept for the socket's life.
        ;(ctx.extra as { request?: IncomingMessage }).request = undefined
        tokenExpiries.watch(socket, context.viewer.expiresAt * 1000)
        return true
      },
      onClose: (ctx) => tokenExpiries.forget(ctx.extra.socket),
      onSubscribe: (ctx, _id, payload) => {
        const { context, operations: bucket } = ctx.extra
        if (!context || !bucket) throw new Error('operation on an unauthenticated socket')
        // graphql-ws registered this operation before calling here, so it is counted.
        if (Object.keys(ctx.subscriptions).length > options.maxOperations) {
          return refusal(`At most ${options.maxOperations} operations at once per connection.`, 1_000)
        }
        const retryAfterMs = bucket.take(1, Date.now())
        if (retryAfterMs > 0) return refusal('Too many subscribes and completes on this connection; slow down.', retryAfterMs)
        const operation = documents.operation(payload.query, payload.operationName ?? undefined)
        if (isRefusal(operation)) return operation.errors
        const args: ExecutionArgs = {
          schema,
          document: operation.document,
          operationName: operation.name,
          variableValues: payload.variables ?? undefined,
          contextValue: context,
        }
        operationOf.set(args, operation)
        return args
      },
      execute: (async (args: ExecutionArgs) => {
        const { compiled } = operationOf.get(args)!
        inFlight.start()
        try {
          return await compiled.query(undefined, args.contextValue, args.variableValues)
        } finally {
          inFlight.end()
        }
      }) as never,
      subscribe: (async (args: ExecutionArgs) => {
        const { compiled } = operationOf.get(args)!
        const source = await createSourceEventStream(args)
        if (!(Symbol.asyncIterator in source)) return source
        return mapSource(source, (event) => compiled.query(event, args.contextValue, args.variableValues))
      }) as never,
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: formatErrors(result.errors) } : undefined),
      onError: (_ctx, _id, _payload, errors) => formatErrors(errors),
      // Called when any operation ends; a client's `complete` (or the socket's close) has already
      // removed the id, which is what Hush's bucket counts.
      onComplete: (ctx, id) => {
        if (!(id in ctx.subscriptions)) void ctx.extra.operations?.take(1, Date.now())
      },
    },
    wsServer,
  )
}

const refusal = (message: string, retryAfterMs: number) => [
  new GraphQLError(message, { extensions: { code: 'RATE_LIMITED', retryAfterMs: Math.ceil(retryAfterMs) } }),
]

/** graphql's mapAsyncIterator (what its `subscribe` returns), with the compiled query as the map. */
function mapSource(source: AsyncIterable<unknown>, map: (event: unknown) => Promise<ExecutionResult> | ExecutionResult): AsyncGenerator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]()
  const returnIgnoringErrors = async () => {
    try {
      await iterator.return?.()
    } catch {
      // keep the original error
    }
  }
  const mapResult = async (result: IteratorResult<unknown>): Promise<IteratorResult<ExecutionResult>> => {
    if (result.done) return result as IteratorResult<ExecutionResult>
    try {
      return { value: await map(result.value), done: false }
    } catch (error) {
      await returnIgnoringErrors()
      throw error
    }
  }
  const mapped = {
    next: async () => mapResult(await iterator.next()),
    return: async () =>
      typeof iterator.return === 'function' ? mapResult(await iterator.return()) : ({ value: undefined, done: true } as IteratorResult<ExecutionResult>),
    throw: async (error: unknown) => {
      if (typeof iterator.throw === 'function') return mapResult(await iterator.throw(error))
      await returnIgnoringErrors()
      throw error
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
  return mapped
}

/** How long a cut-off client has to read its close frame before its connection is dropped (as Hush). */
const SLOW_CLIENT_GRACE_MS = 10_000

/**
 * The socket's budget of unread bytes, as Hush's adapter keeps it: events waiting in the
 * subscriptions' queues plus what `ws` has yet to write; past it the socket is closed with 1013.
 */
class SocketBudget implements QueueBudget {
  private queued = 0
  private cutOff = false

  constructor(
    private readonly ws: WebSocket,
    private readonly maxQueuedBytes: number,
    private readonly logger: Logger,
  ) {}

  reserve(bytes: number): boolean {
    if (this.queued + bytes + this.ws.bufferedAmount > this.maxQueuedBytes) {
      if (!this.cutOff) {
        this.cutOff = true
        this.logger.warn({ queuedBytes: this.queued, unsentBytes: this.ws.bufferedAmount }, 'slow WebSocket client cut off (1013)')
        this.ws.close(1013, 'Subscriber too slow')
        setTimeout(() => this.ws.terminate(), SLOW_CLIENT_GRACE_MS).unref()
      }
      return false
    }
    this.queued += bytes
    return true
  }

  release(bytes: number): void {
    this.queued -= bytes
  }
}

/** A copy of socket-operations.ts's TokenExpiries: sockets closed (4403) once their token expired. */
class TokenExpiries {
  private readonly expiries = new Map<WebSocket, number>()
  private timer: NodeJS.Timeout | undefined

  watch(socket: WebSocket, expiresAtMs: number): void {
    this.expiries.set(socket, expiresAtMs)
    if (this.timer) return
    this.timer = setInterval(() => this.check(), 1_000)
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
