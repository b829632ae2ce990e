import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { CloseCode, handleProtocols } from 'graphql-ws'
import type { Logger } from 'pino'
import type { RawData, WebSocket, WebSocketServer } from 'ws'
import type { QueueBudget } from '../domain/event-queue.js'
import { makeSocketServer, type ProtocolSocket, type SocketHandlers, type SocketServerOptions } from './socket-server.js'

/** What the adapter hands to the socket server's options as `ctx.extra`. */
export interface Extra {
  readonly socket: WebSocket
  /** The upgrade request; cleared by Hush once the connection is authenticated. */
  request: IncomingMessage | undefined
  /** The socket's budget of unread events, for all its subscriptions together. */
  readonly budget: QueueBudget
}

export interface WsAdapterOptions {
  logger: Logger
  /** Called when a slow client is cut off (1013), for metrics. */
  onSlowConsumer?: () => void
  /**
   * Bytes one socket may leave unread, all of its subscriptions' queued events and the frames
   * waiting to be written together. Past it the socket is closed with 1013 (try again later:
   * clients reconnect and resume), and that is logged once, at warn.
   */
  maxQueuedBytes: number
  /**
   * A socket is pinged this often, and closed when it has not answered the previous ping by the
   * next one (graphql-ws's own `ws` adapter waits as long). Default 12 s.
   */
  keepAliveMs?: number
}

/** The sockets an adapter serves, and its end. */
export interface ServedSockets {
  /** Sockets open (connected and not yet closed). */
  readonly count: number
  /** The open sockets, as a copy: closing them while iterating is safe. */
  open(): WebSocket[]
  /** Stops the keep-alive timer. */
  stop(): void
}

/**
 * The graphql-ws protocol core (socket-server.ts) on a `ws` server: Hush's version of
 * `graphql-ws/use/ws`. It differs where a server with thousands of mostly idle sockets pays for it:
 * - one keep-alive timer for all sockets instead of an interval and a timeout per socket, pinging
 *   one slice of them per 100 ms tick rather than all at once;
 * - frames are written without waiting for each one's callback (unless the client stopped
 *   reading), and a socket is corked for the rest of the tick, so a mutation's `next` and
 *   `complete` (or a burst of events) leave in one write instead of one system call each;
 * - its listeners are shared by all sockets, so that an idle socket holds no closures;
 * - it keeps the sockets itself (for the keep-alive), so the `ws` server may be made with
 *   `clientTracking: false`, which spares each socket ws's own `close` closure and Set entry.
 */
export function serveGraphQLWs<E extends Extra>(
  wsServer: WebSocketServer,
  options: SocketServerOptions<E>,
  adapter: WsAdapterOptions,
): ServedSockets {
  const { logger } = adapter
  const keepAliveMs = adapter.keepAliveMs ?? 12_000
  const server = makeSocketServer(options)
  wsServer.options.handleProtocols = handleProtocols

  const sockets = new OpenSockets(keepAliveMs)

  // Listeners are shared by all sockets (ws calls them with the WebSocket as `this`), so that a
  // socket costs its handle object and no closures.
  function onMessage(this: WebSocket, data: RawData): void {
    const socket = handleOf(this)
    // binaryType is ws's default, 'nodebuffer' (never changed here): every message is one Buffer.
    socket.handlers.handle((data as Buffer).toString()).catch((error: unknown) => internalError(socket.ws, error, 'graphql-ws message failed'))
  }
  function onPong(this: WebSocket): void {
    handleOf(this).awaitingPong = false
  }
  // What `ws` reports here is the client's doing or the network's (a frame past the size limit,
  // a bad opcode or UTF-8, a reset connection), and `ws` closes the socket itself with the right
  // code: noted, without a stack, never as a fault of the server.
  function onError(this: WebSocket, error: Error & { code?: string }): void {
    logger.info({ code: error.code, reason: error.message }, 'WebSocket closed on a bad frame or connection')
  }
  function onClose(this: WebSocket, code: number, reason: Buffer): void {
    const socket = handleOf(this)
    sockets.leave(socket)
    socket.handlers.closed(code, String(reason))
  }
  const internalError = (ws: WebSocket, error: unknown, what: string) => {
    logger.error({ err: error }, what)
    ws.close(CloseCode.InternalServerError, 'Internal server error')
  }

  wsServer.on('connection', (ws: WebSocket, request: IncomingMessage) => {
    const socket = new WsSocket(ws, adapter.maxQueuedBytes, logger, adapter.onSlowConsumer)
    ;(ws as SocketWithHandle)[HANDLE] = socket
    sockets.join(socket)
    socket.handlers = server.opened(socket, { socket: ws, request, budget: socket } as Extra as E)
    ws.on('message', onMessage)
    ws.on('pong', onPong)
    ws.on('error', onError)
    ws.on('close', onClose)
  })

  return sockets
}

/**
 * The open sockets and their keep-alive. They are spread over slices, one pinged per tick, so that
 * thousands of pings (a system call each) never stall the event loop at once; each socket is
 * pinged once per keepAliveMs, and closed when it has not answered the previous ping by then.
 */
class OpenSockets implements ServedSockets {
  private readonly slices: Array<Set<WsSocket>>
  private readonly timer: NodeJS.Timeout
  private tick = 0
  private joined = 0
  private openCount = 0

  constructor(keepAliveMs: number) {
    this.slices = Array.from({ length: Math.max(1, Math.round(keepAliveMs / KEEP_ALIVE_TICK_MS)) }, () => new Set<WsSocket>())
    this.timer = setInterval(() => this.pingSlice(), keepAliveMs / this.slices.length)
    this.timer.unref()
  }

  get count(): number {
    return this.openCount
  }

  open(): WebSocket[] {
    return this.slices.flatMap((slice) => [...slice].map((socket) => socket.ws))
  }

  join(socket: WsSocket): void {
    socket.slice = this.slices[this.joined++ % this.slices.length]!
    socket.slice.add(socket)
    this.openCount++
  }

  leave(socket: WsSocket): void {
    if (socket.slice.delete(socket)) this.openCount--
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private pingSlice(): void {
    for (const socket of this.slices[this.tick++ % this.slices.length]!) {
      if (socket.awaitingPong) {
        socket.ws.terminate()
        continue
      }
      if (socket.ws.readyState !== socket.ws.OPEN) continue
      socket.awaitingPong = true
      socket.ws.ping()
    }
  }
}

const HANDLE = Symbol('hush.socket')
type SocketWithHandle = WebSocket & { [HANDLE]?: WsSocket }
const handleOf = (ws: WebSocket): WsSocket => (ws as SocketWithHandle)[HANDLE]!

/**
 * One `ws` socket as the protocol core sees it, with the adapter's own state for it. It is also
 * the socket's budget of unread bytes: what its subscriptions' queues hold plus what `ws` has yet
 * to write.
 */
class WsSocket implements ProtocolSocket, QueueBudget {
  handlers!: SocketHandlers
  /** Its keep-alive slice, set as it joins. */
  slice!: Set<WsSocket>
  awaitingPong = false
  /** Bytes of events waiting in the subscriptions' queues. */
  private queued = 0
  private cutOff = false

  constructor(
    readonly ws: WebSocket,
    private readonly maxQueuedBytes: number,
    private readonly logger: Logger,
    private readonly onSlowConsumer: (() => void) | undefined,
  ) {}

  reserve(bytes: number): boolean {
    if (this.queued + bytes + this.ws.bufferedAmount > this.maxQueuedBytes) {
      this.cutOffSlowClient()
      return false
    }
    this.queued += bytes
    return true
  }

  release(bytes: number): void {
    this.queued -= bytes
  }

  get protocol(): string {
    return this.ws.protocol
  }

  send(data: string): void | Promise<void> {
    const { ws } = this
    if (ws.readyState !== ws.OPEN) return
    corkForTick(ws)
    if (ws.bufferedAmount < BACKPRESSURE_BYTES) return ws.send(data)
    // A client that stopped reading: the subscription waits before it takes the next event, so
    // events pile up in its queue, against this socket's budget, which cuts the client off.
    if (this.queued + ws.bufferedAmount + data.length > this.maxQueuedBytes) return this.cutOffSlowClient()
    return new Promise<void>((resolve, reject) => ws.send(data, (error) => (error ? reject(error) : resolve())))
  }

  /**
   * Closes the socket of a client that fell behind its budget: 1013, logged once, without a stack.
   * Its subscriptions end at once, not when the client reads the close frame (it is not reading);
   * if it has not within ws's close timeout (30 s), ws drops the connection with what it holds.
   */
  private cutOffSlowClient(): void {
    if (this.cutOff) return
    this.cutOff = true
    this.logger.warn({ queuedBytes: this.queued, unsentBytes: this.ws.bufferedAmount }, 'slow WebSocket client cut off (1013)')
    this.onSlowConsumer?.()
    this.ws.close(1013, 'Subscriber too slow')
    this.handlers.closed(1013, 'Subscriber too slow')
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason)
  }
}

const KEEP_ALIVE_TICK_MS = 100

/** Unflushed bytes past which a send waits for its write to complete. */
const BACKPRESSURE_BYTES = 64 * 1024

const corked = new WeakSet<Socket>()

/** Holds a socket's writes until the end of this tick, so that they leave together. */
function corkForTick(socket: WebSocket): void {
  // ws keeps its TCP socket private; its own cork/uncork per frame nest inside this one.
  const tcp = (socket as unknown as { _socket?: Socket })._socket
  if (!tcp || corked.has(tcp) || tcp.destroyed) return
  corked.add(tcp)
  tcp.cork()
  process.nextTick(() => {
    corked.delete(tcp)
    tcp.uncork()
  })
}
