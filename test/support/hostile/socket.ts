import WebSocket from 'ws'

/** What the server answered one subscribe with: its `error` payload, or its `next` results. */
export interface SocketAnswer {
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>
  results: Array<{ data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>
}

/**
 * A raw graphql-transport-ws client: sends exactly the frames it is given, so a test controls
 * frame sizes and sees close codes, and answers each subscribe with what the server sent for it.
 */
export class RawSocket {
  private readonly pending = new Map<string, { answer: SocketAnswer; resolve: (answer: SocketAnswer) => void; reject: (error: Error) => void }>()
  private next = 0
  readonly closed: Promise<{ code: number; reason: string }>

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        for (const { reject } of this.pending.values()) reject(new Error(`socket closed with ${code}`))
        this.pending.clear()
        resolve({ code, reason: reason.toString() })
      }),
    )
    ws.on('message', (data) => {
      const message = JSON.parse((data as Buffer).toString()) as { id?: string; type: string; payload?: unknown }
      const entry = message.id === undefined ? undefined : this.pending.get(message.id)
      if (!entry) return
      if (message.type === 'next') entry.answer.results.push(message.payload as SocketAnswer['results'][number])
      if (message.type === 'error') entry.answer.errors = message.payload as SocketAnswer['errors']
      if (message.type === 'error' || message.type === 'complete') {
        this.pending.delete(message.id!)
        entry.resolve(entry.answer)
      }
    })
  }

  /** Opens a socket on `${baseUrl}/graphql` and authenticates with `token`. */
  static async open(baseUrl: string, token: string): Promise<RawSocket> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws')
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    const acked = new Promise<void>((resolve, reject) => {
      ws.once('message', (data) => ((JSON.parse((data as Buffer).toString()) as { type?: string }).type === 'connection_ack' ? resolve() : reject(new Error(`not acked: ${(data as Buffer).toString()}`))))
      ws.once('close', (code) => reject(new Error(`closed with ${code} before connection_ack`)))
    })
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }))
    await acked
    return new RawSocket(ws)
  }

  /** Sends one subscribe frame and resolves with the server's answer to it (an error, or results then complete). */
  execute(query: string, variables?: Record<string, unknown>, operationName?: string): Promise<SocketAnswer> {
    const id = String(++this.next)
    return this.sendFrame(JSON.stringify({ id, type: 'subscribe', payload: { query, variables, operationName } }), id)
  }

  /** Sends a frame as given; when it is a subscribe with this `id`, resolves with its answer. */
  sendFrame(frame: string, id?: string): Promise<SocketAnswer> {
    const answer = new Promise<SocketAnswer>((resolve, reject) => {
      if (id !== undefined) this.pending.set(id, { answer: { results: [] }, resolve, reject })
      else resolve({ results: [] })
    })
    this.ws.send(frame)
    return answer
  }

  close(): void {
    this.ws.close()
  }
}
