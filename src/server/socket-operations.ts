import {
  execute,
  GraphQLError,
  parse,
  subscribe,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql'
import { CloseCode, type ServerOptions } from 'graphql-ws'
import type { Limits } from '../config.js'
import type { Viewer } from '../domain/ports.js'
import type { Services } from '../domain/services.js'
import type { GraphQLContext } from '../schema/context.js'
import type { Extra } from './ws-adapter.js'

export interface SocketOperationsOptions {
  schema: GraphQLSchema
  services: Services
  limits: Limits
  /** The same masking as Yoga's over HTTP: domain codes kept, anything unexpected logged and hidden. */
  maskError: (error: unknown) => Error
  /** False while the server drains: new sockets are refused (4403, so clients go elsewhere). */
  accepting: () => boolean
  /** Called around each query and mutation, so that a drain waits for writes in flight. */
  onExecuteStart: () => void
  onExecuteEnd: () => void
}

/** Set on a socket once `connection_init` proved a token. */
interface SocketState {
  viewer?: Viewer
  connectionId?: string
}

export type SocketExtra = Extra & SocketState

/** Distinct operation texts kept parsed and validated (clients send a handful, over and over). */
const DOCUMENTS_MAX = 1_000

/**
 * graphql-ws's server options for Hush's sockets. Operations run on graphql-js `execute` and
 * `subscribe` directly, with a document cache, the plain resolver context and Yoga's error
 * masker: a long-lived subscription then holds one iterator and its context, where routing it
 * through Yoga's plugin chain (`getEnveloped`) wrapped each one in five more iterator layers and
 * a full request context, about 6 KB per subscription.
 */
export function socketOperations(options: SocketOperationsOptions): ServerOptions<Record<string, unknown> | undefined, SocketExtra> {
  const { schema, services, limits, maskError } = options
  const documents = new DocumentCache(schema, DOCUMENTS_MAX)
  const formatErrors = (errors: readonly unknown[]) => errors.map((error) => (maskError(error) as GraphQLError).toJSON())
  let connections = 0

  return {
    connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
    onConnect: async (ctx) => {
      // GraphiQL forwards its header editor as the payload, so "Authorization" counts too.
      const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization
      const viewer = await services.accounts.authenticate(typeof authorization === 'string' ? authorization : undefined)
      // graphql-ws answers false with 4403 Forbidden, which its client treats as retryable.
      if (!viewer || !options.accepting()) return false
      ctx.extra.viewer = viewer
      ctx.extra.connectionId = (++connections).toString(36)
      // The upgrade request is not needed past here, and would be kept for the socket's life.
      ctx.extra.request = undefined
      const socket = ctx.extra.socket
      const msUntilExpiry = viewer.expiresAt * 1000 - Date.now()
      if (msUntilExpiry < 2 ** 31 - 1) {
        const timer = setTimeout(() => socket.close(CloseCode.Forbidden, 'Token expired'), msUntilExpiry)
        socket.once('close', () => clearTimeout(timer))
      }
      return true
    },
    onSubscribe: (ctx, id, payload) => {
      const viewer = ctx.extra.viewer
      if (!viewer) throw new Error('operation on an unauthenticated socket')
      if (Object.keys(ctx.subscriptions).length >= limits.maxSubscriptionsPerConnection) {
        return [
          new GraphQLError(`At most ${limits.maxSubscriptionsPerConnection} operations per connection.`, {
            extensions: { code: 'RATE_LIMITED' },
          }),
        ]
      }
      const document = documents.get(payload.query)
      if (!isDocument(document)) return document
      const socket = ctx.extra.socket
      const contextValue: GraphQLContext = {
        viewer,
        services,
        requestId: `${ctx.extra.connectionId}:${id}`,
        // 1013 "try again later": graphql-ws clients reconnect and resume with afterSeq.
        cutOff: () => socket.close(1013, 'Subscriber too slow'),
      }
      return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue }
    },
    execute: async (args: ExecutionArgs) => {
      options.onExecuteStart()
      try {
        return await execute(args)
      } finally {
        options.onExecuteEnd()
      }
    },
    subscribe: (args: ExecutionArgs) => subscribe(args),
    onError: (_ctx, _id, _payload, errors) => formatErrors(errors),
    onNext: (_ctx, _id, _payload, _args, result: ExecutionResult) => {
      if (!result.errors) return
      return { ...result, errors: formatErrors(result.errors) }
    },
  }
}

const isDocument = (value: DocumentNode | readonly GraphQLError[]): value is DocumentNode => !Array.isArray(value)

/** Parsed and validated documents by their text; the oldest goes first when full. */
class DocumentCache {
  private readonly entries = new Map<string, DocumentNode | readonly GraphQLError[]>()

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly capacity: number,
  ) {}

  get(query: string): DocumentNode | readonly GraphQLError[] {
    let entry = this.entries.get(query)
    if (entry) return entry
    try {
      const document = parse(query)
      const errors = validate(this.schema, document)
      entry = errors.length > 0 ? errors : document
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error
      entry = [error]
    }
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(query, entry)
    return entry
  }
}
