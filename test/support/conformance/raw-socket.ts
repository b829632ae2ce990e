import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { validateMessage } from 'graphql-ws'
import WebSocket from 'ws'

/**
 * A raw `graphql-transport-ws` client over `ws`: the test writes every frame itself and sees every
 * frame and WebSocket event the server produces, in order. Nothing here knows which server it
 * talks to.
 */

export const SUBPROTOCOL = 'graphql-transport-ws'

/** One text frame from the server: its JSON, or the text when it is not JSON. */
export interface Frame {
  type?: string
  id?: string
  payload?: unknown
  /** Set when the frame was not JSON. */
  unparsable?: string
  /** When it arrived (Date.now()). */
  at: number
}

export interface CloseInfo {
  code: number
  reason: string
  at: number
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * A masked client-to-server text frame, built by hand (RFC 6455 section 5.2), so that several
 * frames can go out in a single TCP write and reach the server in one read.
 */
export function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8')
  const length = payload.length
  let header: Buffer
  if (length < 126) {
    header = Buffer.from([0x81, 0x80 | length])
  } else if (length < 65_536) {
    header = Buffer.alloc(4)
    header[0] = 0x81
    header[1] = 0x80 | 126
    header.writeUInt16BE(length, 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = 0x81
    header[1] = 0x80 | 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  const mask = randomBytes(4)
  const masked = Buffer.alloc(length)
  for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ mask[i % 4]!
  return Buffer.concat([header, mask, masked])
}

export interface OpenOptions {
  /** Subprotocols offered in the handshake; [] offers none. Default: graphql-transport-ws. */
  protocols?: string[]
  /** Answer WebSocket-level pings (ws's default). */
  autoPong?: boolean
}

export class RawSocket {
  readonly frames: Frame[] = []
  /** WebSocket-level pings received from the server (not protocol `ping` messages). */
  pings = 0
  closeInfo: CloseInfo | undefined
  readonly closed: Promise<CloseInfo>
  private readonly waiters = new Set<() => void>()

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.closeInfo = { code, reason: String(reason), at: Date.now() }
        this.wake()
        resolve(this.closeInfo)
      })
    })
    ws.on('message', (data, isBinary) => {
      // ws's default binaryType ('nodebuffer'): each message, text or binary, arrives as one Buffer
      const text = (data as Buffer).toString()
      let frame: Frame
      try {
        const parsed = JSON.parse(text) as Record<string, unknown>
        frame = { ...(parsed as object), at: Date.now() }
        if (isBinary) frame.unparsable = `binary frame: ${text}`
      } catch {
        frame = { unparsable: text, at: Date.now() }
      }
      this.frames.push(frame)
      this.wake()
    })
    ws.on('ping', () => {
      this.pings++
      this.wake()
    })
    ws.on('error', () => {
      // Reported through `close` (1006) or the failed open.
    })
  }

  /** Opens a socket; rejects when the handshake fails. */
  static open(url: string, options: OpenOptions = {}): Promise<RawSocket> {
    const protocols = options.protocols ?? [SUBPROTOCOL]
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false, autoPong: options.autoPong ?? true })
    const socket = new RawSocket(ws)
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error)
      ws.once('error', onError)
      ws.once('unexpected-response', (_request, response) => reject(new Error(`handshake answered ${response.statusCode}`)))
      ws.once('open', () => {
        ws.off('error', onError)
        resolve(socket)
      })
    })
  }

  get protocol(): string {
    return this.ws.protocol
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  /** Sends one message (an object is JSON-encoded, a string goes as is) through ws. */
  send(message: object | string): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** Sends several messages as hand-built frames in one TCP write: the server reads them together. */
  sendTogether(...messages: Array<object | string>): void {
    const frames = messages.map((m) => maskedTextFrame(typeof m === 'string' ? m : JSON.stringify(m)))
    this.tcp.write(Buffer.concat(frames))
  }

  /** The TCP socket under the WebSocket. */
  get tcp(): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket
  }

  /** Stops reading from the TCP socket: the server's writes pile up in the kernel, then in the server. */
  pauseReading(): void {
    this.tcp.pause()
  }

  resumeReading(): void {
    this.tcp.resume()
  }

  /** Frames for one operation id. */
  framesFor(id: string): Frame[] {
    return this.frames.filter((frame) => frame.id === id)
  }

  /** Resolves with the first frame from index `from` on that matches; rejects on close or timeout. */
  async waitFor(predicate: (frame: Frame) => boolean, ms = 5_000, from = 0): Promise<Frame> {
    const found = await this.until(() => this.frames.slice(from).find(predicate), ms, true)
    return found
  }

  /** Resolves once `condition` returns something truthy; rejects on timeout (or close, if asked). */
  until<T>(condition: () => T | undefined | false, ms = 5_000, failOnClose = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = condition()
        if (value) {
          done()
          resolve(value)
        } else if (failOnClose && this.closeInfo) {
          done()
          reject(new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) first; frames: ${this.describe()}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out after ${ms} ms; frames: ${this.describe()}; close: ${JSON.stringify(this.closeInfo)}`))
      }, ms)
      const done = () => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
      check()
    })
  }

  /** Resolves with the close, or rejects when the socket is still open after `ms`. */
  async waitClose(ms = 5_000): Promise<CloseInfo> {
    return this.until(() => this.closeInfo, ms)
  }

  /** connection_init with this payload, then the connection_ack. */
  async init(payload?: Record<string, unknown>, ms = 5_000): Promise<Frame> {
    const from = this.frames.length
    this.send(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload })
    return this.waitFor((frame) => frame.type === 'connection_ack', ms, from)
  }

  /**
   * A protocol ping answered by its pong: every message sent before it has been read and handled
   * by the time the pong arrives.
   */
  async roundTrip(ms = 5_000): Promise<Frame> {
    const from = this.frames.length
    const marker = randomBytes(6).toString('hex')
    this.send({ type: 'ping', payload: { marker } })
    return this.waitFor((frame) => frame.type === 'pong' && (frame.payload as { marker?: string } | undefined)?.marker === marker, ms, from)
  }

  /** Waits for the frame that ends operation `id` (complete or error). */
  async ended(id: string, ms = 5_000): Promise<Frame> {
    return this.waitFor((frame) => frame.id === id && (frame.type === 'complete' || frame.type === 'error'), ms)
  }

  /** Every frame that does not validate as a graphql-transport-ws message. */
  invalidFrames(): string[] {
    const invalid: string[] = []
    for (const { at: _at, ...frame } of this.frames) {
      if (frame.unparsable !== undefined) {
        invalid.push(frame.unparsable)
        continue
      }
      try {
        validateMessage(frame)
      } catch (error) {
        invalid.push(`${(error as Error).message}: ${JSON.stringify(frame).slice(0, 200)}`)
      }
    }
    return invalid
  }

  describe(): string {
    return JSON.stringify(this.frames.map(({ at: _at, ...frame }) => frame)).slice(0, 2_000)
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate()
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter()
  }
}
