import { createSourceEventStream, GraphQLError, type GraphQLSchema } from 'graphql'
import { CloseCode } from 'graphql-ws'
import type { WebSocket } from 'ws'
import type { Limits } from '../config.js'
import type { Services } from '../domain/services.js'
import type { GraphQLContext } from '../schema/context.js'
import { isOperation, type OperationCache } from './operation-cache.js'
import type { PreparedOperation, SocketServerOptions } from './socket-server.js'
import type { Extra } from './ws-adapter.js'

export interface SocketOperationsOptions {
  schema: GraphQLSchema
  /** Shared with the HTTP path: a client's operations are compiled once for both. */
  operations: OperationCache
  services: Services
  limits: Limits
  /** The same masking as Yoga's over HTTP: domain codes kept, anything unexpected logged and hidden. */
  maskError: (error: unknown) => GraphQLError
  /** False while the server drains: new sockets are refused (4403, so clients go elsewhere). */
  accepting: () => boolean
  /** Called around each query and mutation, so that a drain waits for writes in flight. */
  onExecuteStart: () => void
  onExecuteEnd: () => void
}

/** Set on a socket once `connection_init` proved a token: the context of all its operations. */
export type SocketExtra = Extra & { context?: GraphQLContext }

/**
 * Hush's socket options: authentication in `connection_init`, then operations compiled once by
 * graphql-jit (as Mercurius runs them) and kept by their text, one resolver context per socket,
 * and Yoga's error masker. A subscription opens its source with graphql-js and maps each event
 * with the compiled operation: the per-event work (variables, field collection, type checks)
 * that graphql-js `execute` redoes every time is done once per operation text.
 */
export function socketOperations(options: SocketOperationsOptions): SocketServerOptions<SocketExtra> {
  const { schema, services, limits, maskError, operations } = options
  const refuse = (message: string, code: string) => [new GraphQLError(message, { extensions: { code } })]
  const tokenExpiries = new TokenExpiries()
  let connections = 0

  return {
    connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
    onConnect: async (ctx) => {
      // GraphiQL forwards its header editor as the payload, so "Authorization" counts too.
      const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization
      const viewer = await services.accounts.authenticate(typeof authorization === 'string' ? authorization : undefined)
      // 4403 Forbidden, which graphql-ws clients treat as retryable.
      const socket = ctx.extra.socket
      // A socket gone while its token was checked must not be watched.
      if (!viewer || !options.accepting() || socket.readyState !== socket.OPEN) return false
      ctx.extra.context = {
        viewer,
        services,
        requestId: `ws-${(++connections).toString(36)}`,
        // 1013 "try again later": graphql-ws clients reconnect and resume with afterSeq.
        cutOff: () => socket.close(1013, 'Subscriber too slow'),
      }
      // The upgrade request is not needed past here, and would be kept for the socket's life.
      ctx.extra.request = undefined
      tokenExpiries.watch(socket, viewer.expiresAt * 1000)
      return true
    },
    onClose: (ctx) => tokenExpiries.forget(ctx.extra.socket),
    prepare: (ctx, _id, payload): PreparedOperation | readonly GraphQLError[] => {
      const contextValue = ctx.extra.context
      if (!contextValue) throw new Error('operation on an unauthenticated socket')
      if (ctx.operationCount > limits.maxSubscriptionsPerConnection) {
        return refuse(`At most ${limits.maxSubscriptionsPerConnection} operations per connection.`, 'RATE_LIMITED')
      }
      const operation = operations.get(payload.query, payload.operationName ?? undefined)
      if (!isOperation(operation)) return operation
      const { compiled } = operation
      const variables = payload.variables ?? undefined
      if (operation.kind === 'subscription') {
        const { document, name: operationName } = operation
        return {
          kind: 'subscription',
          open: async () => {
            const source = await createSourceEventStream({ schema, document, operationName, variableValues: variables, contextValue })
            return Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source
          },
          map: (event: unknown) => compiled.query(event, contextValue, variables),
        }
      }
      return {
        kind: 'single',
        run: async () => {
          options.onExecuteStart()
          try {
            return await compiled.query(undefined, contextValue, variables)
          } finally {
            options.onExecuteEnd()
          }
        },
      }
    },
    formatErrors: (errors) => errors.map((error) => maskError(error).toJSON()),
    toGraphQLError: (error) => {
      const original = error instanceof Error ? error : new Error(String(error))
      return new GraphQLError(original.message, { originalError: original })
    },
  }
}

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
