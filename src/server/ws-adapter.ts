import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { CloseCode, handleProtocols } from 'graphql-ws'
import type { Logger } from 'pino'
import type { WebSocket, WebSocketServer } from 'ws'
import { makeSocketServer, type SocketServerOptions } from './socket-server.js'

/** What the adapter hands to the socket server's options as `ctx.extra`. */
export interface Extra {
  readonly socket: WebSocket
  /** The upgrade request; cleared by Hush once the connection is authenticated. */
  request: IncomingMessage | undefined
}

export interface WsAdapterOptions {
  logger: Logger
  /**
   * A socket is pinged this often, and closed when it has not answered the previous ping by the
   * next one (graphql-ws's own `ws` adapter waits as long). Default 12 s.
   */
  keepAliveMs?: number
}

/**
 * The graphql-ws protocol core (socket-server.ts) on a `ws` server: Hush's version of
 * `graphql-ws/use/ws`. It differs where a server with thousands of mostly idle sockets pays for it:
 * - one keep-alive timer for all sockets instead of an interval and a timeout per socket, pinging
 *   one slice of them per 100 ms tick rather than all at once;
 * - frames are written without waiting for each one's callback (unless the client stopped
 *   reading), and a socket is corked for the rest of the tick, so a mutation's `next` and
 *   `complete` (or a burst of events) leave in one write instead of one system call each;
 * Returns a function that stops the keep-alive timer.
 */
export function serveGraphQLWs<E extends Extra>(
  wsServer: WebSocketServer,
  options: SocketServerOptions<E>,
  adapter: WsAdapterOptions,
): () => void {
  const { logger } = adapter
  const keepAliveMs = adapter.keepAliveMs ?? 12_000
  const server = makeSocketServer(options)
  const awaitingPong = new Set<WebSocket>()
  wsServer.options.handleProtocols = handleProtocols

  // Sockets are spread over slices, one pinged per tick, so that thousands of pings (a system call
  // each) never stall the event loop at once; each socket is pinged once per keepAliveMs.
  const slices = Array.from({ length: Math.max(1, Math.round(keepAliveMs / KEEP_ALIVE_TICK_MS)) }, () => new Set<WebSocket>())
  let tick = 0
  let joined = 0
  const keepAlive = setInterval(() => {
    for (const socket of slices[tick++ % slices.length]!) {
      if (awaitingPong.has(socket)) {
        socket.terminate()
        continue
      }
      if (socket.readyState !== socket.OPEN) continue
      awaitingPong.add(socket)
      socket.ping()
    }
  }, keepAliveMs / slices.length)
  keepAlive.unref()
  function answered(this: WebSocket) {
    awaitingPong.delete(this)
  }

  const internalError = (socket: WebSocket, error: unknown, what: string) => {
    logger.error({ err: error }, what)
    socket.close(CloseCode.InternalServerError, 'Internal server error')
  }

  wsServer.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    socket.once('error', (error) => internalError(socket, error, 'WebSocket error'))
    socket.on('pong', answered)
    const slice = slices[joined++ % slices.length]!
    slice.add(socket)
    const { handle, closed } = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          if (socket.readyState !== socket.OPEN) return
          corkForTick(socket)
          if (socket.bufferedAmount < BACKPRESSURE_BYTES) return socket.send(data)
          // A client that stopped reading: the subscription waits before it takes the next event,
          // so events pile up in its bounded queue, which cuts the client off.
          return new Promise<void>((resolve, reject) => socket.send(data, (error) => (error ? reject(error) : resolve())))
        },
        close: (code, reason) => socket.close(code, reason),
      },
      { socket, request } as Extra as E,
    )
    socket.on('message', (data) => {
      handle(String(data)).catch((error: unknown) => internalError(socket, error, 'graphql-ws message failed'))
    })
    socket.once('close', (code, reason) => {
      awaitingPong.delete(socket)
      slice.delete(socket)
      closed(code, String(reason))
    })
  })

  return () => clearInterval(keepAlive)
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
