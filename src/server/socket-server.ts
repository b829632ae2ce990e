import type { ExecutionResult, GraphQLError } from 'graphql'
import { CloseCode, GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType, parseMessage, type SubscribePayload } from 'graphql-ws'
import { IdList } from './id-list.js'

/**
 * The server side of the graphql-ws protocol (`graphql-transport-ws`), transport-free like
 * graphql-ws's own `makeServer`, whose message parsing, close codes and protocol name it uses.
 * It differs in how an operation lives: graphql-ws runs each subscription inside the async
 * handler of the message that started it, so every open subscription holds that handler's frame
 * (its message, closures and iterator state: about 3.7 KB measured) for its whole life. Here a
 * subscription is a small object that pulls its next event when the previous one was written, and
 * what to run is decided by a {@link PreparedOperation} from the options, not by this module.
 */

/** What the core needs of one socket; an adapter (see ws-adapter.ts) provides it. */
export interface ProtocolSocket {
  /** The subprotocol the client and server agreed on; anything but graphql-transport-ws is closed with 4406. */
  readonly protocol: string
  /**
   * Writes one text frame. Returns a promise only when the caller should wait before producing
   * more (the client is not reading); a subscription pulls its next event once it settles.
   */
  send(data: string): void | Promise<void>
  close(code: number, reason: string): void
}

/** One socket's state as the options see it. */
export interface SocketContext<E> {
  /** Whatever the adapter attached to the socket (the `ws` socket, the upgrade request, …). */
  readonly extra: E
  /** The payload of `connection_init` (an object, or undefined), while onConnect runs. */
  readonly connectionParams: Readonly<Record<string, unknown>> | undefined
  /**
   * Operations whose work has not ended: subscriptions, and queries or mutations still running
   * (one the client completed early holds its place until its work is done).
   */
  readonly operationCount: number
}

/** An operation, parsed and checked, ready to run once; see {@link SocketServerOptions.prepare}. */
export type PreparedOperation = { kind: 'single'; run: () => Promise<ExecutionResult> | ExecutionResult } | PreparedSubscription

/**
 * A subscription ready to open. The running subscription keeps this object for its whole life and
 * calls `map` on it, so it may be a small class instance rather than closures over the preparing
 * scope: an idle subscription then costs its fields, not a closure and its context.
 */
export interface PreparedSubscription {
  kind: 'subscription'
  /** Opens the source stream, or answers errors instead (sent as `next`, then `complete`, as graphql-ws does). */
  open(): Promise<AsyncIterator<unknown> | ExecutionResult>
  /** Turns one source event into the result sent to the client. */
  map(event: unknown): Promise<ExecutionResult> | ExecutionResult
}

export interface SocketServerOptions<E> {
  /**
   * Milliseconds a socket may stay open without `connection_init`; it is then closed with 4408.
   * Default 3,000 (graphql-ws's).
   */
  connectionInitWaitTimeout?: number
  /**
   * Called once, on `connection_init`. Resolve true to acknowledge; false closes the socket with
   * 4403 Forbidden, which graphql-ws clients retry. Called with no operation running yet.
   */
  onConnect: (ctx: SocketContext<E>) => Promise<boolean> | boolean
  /**
   * Called for each `subscribe` of an acknowledged socket, before anything runs. Return what to
   * run, or GraphQL errors (a syntax or validation error, a limit), which are sent as the
   * operation's `error` message. Throwing closes the socket with 4500.
   */
  prepare: (ctx: SocketContext<E>, id: string, payload: SubscribePayload) => PreparedOperation | readonly GraphQLError[]
  /**
   * Turns errors into what the client sees, for `error` messages and the `errors` of results
   * (masking). Default: each error's `toJSON()`.
   */
  formatErrors?: (errors: readonly GraphQLError[]) => unknown[]
  /**
   * Wraps an error thrown by a subscription's source while it runs (it becomes the operation's
   * `error` message, through formatErrors). Required: only the caller knows its GraphQLError.
   */
  toGraphQLError: (error: unknown) => GraphQLError
  /** Called after a socket closed and its subscriptions were ended. Default: nothing. */
  onClose?: (ctx: SocketContext<E>, code: number, reason: string) => void
  /** Called for each `complete` the client sends (after the operation was stopped). Default: nothing. */
  onComplete?: (ctx: SocketContext<E>, id: string) => void
}

/** What the adapter calls for one socket: each frame it received, then its close. */
export interface SocketHandlers {
  /** Handles one text frame; rejects only on a fault of the server (the adapter then closes with 4500). */
  handle(data: string): Promise<void>
  /** The socket closed: its subscriptions are ended. */
  closed(code: number, reason: string): void
}

export interface SocketServer<E> {
  opened(socket: ProtocolSocket, extra: E): SocketHandlers
}

export function makeSocketServer<E>(options: SocketServerOptions<E>): SocketServer<E> {
  const formatErrors = options.formatErrors ?? ((errors) => errors.map((error) => error.toJSON()))
  const initWaitMs = options.connectionInitWaitTimeout ?? 3_000
  return {
    opened: (socket, extra) => new Connection(socket, extra, options, formatErrors, initWaitMs),
  }
}

class Connection<E> implements SocketContext<E>, SocketHandlers {
  private initReceived = false
  private initTimer: NodeJS.Timeout | undefined
  connectionParams: Readonly<Record<string, unknown>> | undefined
  private acknowledged = false
  private ended = false
  /** The operation of each id the client has not completed. */
  readonly operations = new IdList<Operation<E>>()
  /** Operations whose work has not ended (see operationCount). */
  private working = 0

  constructor(
    readonly socket: ProtocolSocket,
    readonly extra: E,
    readonly options: SocketServerOptions<E>,
    readonly formatErrors: (errors: readonly GraphQLError[]) => unknown[],
    initWaitMs: number,
  ) {
    if (socket.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      socket.close(CloseCode.SubprotocolNotAcceptable, 'Subprotocol not acceptable')
    } else if (initWaitMs > 0 && Number.isFinite(initWaitMs)) {
      this.initTimer = setTimeout(() => {
        if (!this.initReceived) socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout')
      }, initWaitMs)
    }
  }

  get operationCount(): number {
    return this.working
  }

  async handle(data: string): Promise<void> {
    let message: ReturnType<typeof parseMessage>
    try {
      message = parseMessage(data)
    } catch {
      return this.socket.close(CloseCode.BadRequest, 'Invalid message received')
    }
    switch (message.type) {
      case MessageType.ConnectionInit: {
        if (this.initReceived) return this.socket.close(CloseCode.TooManyInitialisationRequests, 'Too many initialisation requests')
        this.initReceived = true
        clearTimeout(this.initTimer)
        this.initTimer = undefined
        if (message.payload !== null && typeof message.payload === 'object') this.connectionParams = message.payload
        const accepted = await this.options.onConnect(this)
        // Read by onConnect only: not kept (with its token) for the socket's life.
        this.connectionParams = undefined
        if (!accepted) return this.socket.close(CloseCode.Forbidden, 'Forbidden')
        if (this.ended) return
        this.acknowledged = true
        return this.socket.send('{"type":"connection_ack"}')
      }
      case MessageType.Ping:
        return this.socket.send(pongFor(message.payload))
      case MessageType.Pong:
        return
      case MessageType.Subscribe:
        return this.subscribe(message.id, message.payload)
      case MessageType.Complete: {
        this.operations.remove(message.id)?.stop()
        this.options.onComplete?.(this, message.id)
        return
      }
      default:
        // Valid messages a server never receives (connection_ack, next, error).
        return this.socket.close(CloseCode.BadRequest, `Unexpected message of type ${message.type} received`)
    }
  }

  closed(code: number, reason: string): void {
    if (this.ended) return
    this.ended = true
    clearTimeout(this.initTimer)
    for (const operation of this.operations.takeAll()) operation.stop()
    this.options.onClose?.(this, code, reason)
  }

  /** True while `id` still names this operation (the client has not completed it, the socket is open). */
  isLive(id: string, operation: Operation<E>): boolean {
    return !this.ended && this.operations.get(id) === operation
  }

  /** The work of one operation ended (run, refused, or its subscription stopped). */
  workEnded(): void {
    this.working--
  }

  sendNext(id: string, result: ExecutionResult): void | Promise<void> {
    const payload = result.errors ? { ...result, errors: this.formatErrors(result.errors) } : result
    return this.socket.send(JSON.stringify({ id, type: MessageType.Next, payload }))
  }

  sendError(id: string, errors: readonly GraphQLError[]): void | Promise<void> {
    return this.socket.send(JSON.stringify({ id, type: MessageType.Error, payload: this.formatErrors(errors) }))
  }

  sendComplete(id: string): void | Promise<void> {
    return this.socket.send(JSON.stringify({ id, type: MessageType.Complete }))
  }

  private async subscribe(id: string, payload: SubscribePayload): Promise<void> {
    if (!this.acknowledged) return this.socket.close(CloseCode.Unauthorized, 'Unauthorized')
    if (this.operations.get(id)) return this.socket.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`)
    const operation = new Operation<E>(this, id)
    this.operations.add(operation)
    this.working++
    try {
      const source = await this.start(id, operation, payload)
      if (!source) return
      if (!this.isLive(id, operation)) {
        void source.source.return?.()?.catch(() => undefined)
        return
      }
      // The running subscription holds the work's place from here, until it stops.
      operation.run(source.source, source.prepared)
    } finally {
      if (!operation.isRunning) {
        this.workEnded()
        this.operations.remove(id, operation)
      }
    }
  }

  /**
   * Prepares and runs the operation; answers a single result (or errors) itself, and returns the
   * source of a subscription for the caller to pull.
   */
  private async start(id: string, operation: Operation<E>, payload: SubscribePayload): Promise<{ source: AsyncIterator<unknown>; prepared: PreparedSubscription } | undefined> {
    const prepared = this.options.prepare(this, id, payload)
    if (!('kind' in prepared)) {
      if (this.isLive(id, operation)) await this.sendError(id, prepared)
      return undefined
    }
    const result = prepared.kind === 'single' ? await prepared.run() : await prepared.open()
    if (prepared.kind === 'subscription' && isIterator(result)) return { source: result, prepared }
    if (this.isLive(id, operation)) {
      await this.sendNext(id, result as ExecutionResult)
      await this.sendComplete(id)
    }
    return undefined
  }
}

/**
 * A source that hands its next event to a consumer object, without a promise per event (Hush's
 * EventQueue). An idle subscription then holds one waiting consumer, where an async iterator
 * holds a pending promise with its reactions and resolving functions.
 */
export interface PullSource {
  pullInto(consumer: { take(value: unknown): void; end(): void; fail(error: unknown): void }): void
}

const isPullSource = (source: AsyncIterator<unknown>): source is AsyncIterator<unknown> & PullSource =>
  typeof (source as Partial<PullSource>).pullInto === 'function'

/**
 * What a `subscribe` took, from then until the client completes it or its work ends. Work holds
 * its operation object and checks that its id still names that very object before it sends
 * anything, so a completed id reused by the client is never answered by the old work.
 *
 * Once a subscription's source is open, the operation runs it: it pulls an event, maps it, writes
 * it, and only then pulls the next, so a client that stops reading makes its source buffer (and,
 * in Hush, cut it off) rather than this.
 */
class Operation<E> {
  /** The next operation of the same connection (see IdList). */
  next: Operation<E> | undefined
  /** Set when the subscription runs; until then its work is the connection's `subscribe`. */
  private source: AsyncIterator<unknown> | undefined
  private prepared: PreparedSubscription | undefined
  private stopped = false
  private finished = false
  /** True while a pull runs: an event handed over synchronously sets `again` instead of recursing. */
  private pulling = false
  private again = false

  constructor(
    private readonly connection: Connection<E>,
    readonly id: string,
  ) {}

  get isRunning(): boolean {
    return this.source !== undefined
  }

  /** Runs the subscription whose source was opened. */
  run(source: AsyncIterator<unknown>, prepared: PreparedSubscription): void {
    this.source = source
    this.prepared = prepared
    this.pull()
  }

  private pull(): void {
    if (this.pulling) {
      this.again = true
      return
    }
    const source = this.source!
    this.pulling = true
    try {
      do {
        this.again = false
        if (this.stopped) return
        if (isPullSource(source)) source.pullInto(this)
        else
          source.next().then(
            (step) => (step.done ? this.end() : this.take(step.value)),
            (error: unknown) => this.fail(error),
          )
      } while (this.again)
    } finally {
      this.pulling = false
    }
  }

  /**
   * Ended by the client's `complete` or the socket's close: the source is told, nothing more is
   * sent. Before it runs, its `subscribe` sees it is no longer live and ends the work itself.
   */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    if (!this.source) return
    void this.source.return?.()?.catch(() => undefined)
    this.finish()
  }

  take(event: unknown): void {
    if (this.stopped) return
    let mapped: Promise<ExecutionResult> | ExecutionResult
    try {
      mapped = this.prepared!.map(event)
    } catch (error) {
      return this.fail(error)
    }
    if (mapped instanceof Promise) {
      mapped.then(
        (result) => this.write(result),
        (error: unknown) => this.fail(error),
      )
    } else this.write(mapped)
  }

  end(): void {
    this.stopped = true
    this.finish()
    if (!this.isCurrent()) return
    this.connection.operations.remove(this.id)
    settle(this.connection.sendComplete(this.id))
  }

  fail(error: unknown): void {
    if (this.stopped) return
    this.stopped = true
    this.finish()
    if (!this.isCurrent()) return
    this.connection.operations.remove(this.id)
    settle(this.connection.sendError(this.id, [this.connection.options.toGraphQLError(error)]))
  }

  /** True while its id still names this operation. */
  private isCurrent(): boolean {
    return this.connection.operations.get(this.id) === this
  }

  /** Frees the operation's place, once. */
  private finish(): void {
    if (this.finished) return
    this.finished = true
    this.connection.workEnded()
  }

  private write(result: ExecutionResult): void {
    if (this.stopped) return
    const written = this.connection.sendNext(this.id, result)
    if (!written) return this.pull()
    written.then(
      () => this.pull(),
      (error: unknown) => this.fail(error),
    )
  }
}

/**
 * The pong for a ping, echoing its payload as the protocol allows; a payload that cannot be
 * written back (nested deeper than JSON.stringify's stack) gets a pong without one.
 */
function pongFor(payload: Record<string, unknown> | undefined | null): string {
  if (!payload) return '{"type":"pong"}'
  try {
    return JSON.stringify({ type: MessageType.Pong, payload })
  } catch {
    return '{"type":"pong"}'
  }
}

/** A last frame whose write failed needs no handling: the socket is closing with that failure. */
const settle = (written: void | Promise<void>): void => void written?.catch(() => undefined)

const isIterator = (value: AsyncIterator<unknown> | ExecutionResult): value is AsyncIterator<unknown> =>
  typeof (value as AsyncIterator<unknown>).next === 'function'
