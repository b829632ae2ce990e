import { randomUUID } from 'node:crypto'
import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import { print, type ExecutionResult } from 'graphql'
import { createClient, type Client } from 'graphql-ws'
import WebSocket from 'ws'
import {
  ChatEventsDocument,
  CreatePostDocument,
  SendMessageDocument,
  SetTypingDocument,
  SignUpDocument,
  StartChatDocument,
  type ChatEventsSubscription,
} from '../generated/graphql.js'
import { sleep, waitFor } from './system.js'

/** The close codes graphql-ws's client does not retry (1000 is a normal end). */
export const FATAL_CLOSE_CODES = [1000, 4500, 4005, 4400, 4004, 4401, 4406, 4409, 4429]

export interface Answer<T> {
  data: T | undefined
  errors: unknown[] | undefined
  /** The host HAProxy sent the request to (its X-Served-By header). */
  host: string | undefined
  ms: number
}

/** One POST /graphql through HAProxy, bounded by a timeout: a request to a host being cut hangs. */
export async function call<T, V extends Record<string, unknown>>(url: string, document: TypedDocumentNode<T, V>, variables?: V, token?: string, timeoutMs = 5_000): Promise<Answer<T>> {
  const started = performance.now()
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: print(document), variables }),
    signal: AbortSignal.timeout(timeoutMs),
  })
  const body = (await response.json()) as ExecutionResult<T>
  return { data: body.data ?? undefined, errors: body.errors as unknown[] | undefined, host: response.headers.get('x-served-by') ?? undefined, ms: performance.now() - started }
}

export async function mustCall<T, V extends Record<string, unknown>>(url: string, document: TypedDocumentNode<T, V>, variables?: V, token?: string): Promise<T> {
  const answer = await call(url, document, variables, token, 15_000)
  if (answer.errors || !answer.data) throw new Error(`GraphQL errors from ${answer.host}: ${JSON.stringify(answer.errors)}`)
  return answer.data
}

export interface User {
  token: string
}

export const signUpUser = async (url: string): Promise<User> => ({ token: (await mustCall(url, SignUpDocument)).signUp.token })

/** Two users and the chat between them, made through HAProxy. */
export async function makePair(url: string): Promise<{ a: User; b: User; chatId: string }> {
  const [a, b] = [await signUpUser(url), await signUpUser(url)]
  const post = (await mustCall(url, CreatePostDocument, { body: 'hosts' }, a.token)).createPost
  const chat = (await mustCall(url, StartChatDocument, { postId: post.id }, b.token)).startChat
  return { a, b, chatId: chat.id }
}

type ChatEvent = ChatEventsSubscription['chatEvents']

/**
 * One user's device: a real graphql-ws client through HAProxy, subscribed to its chat's events.
 * When its socket closes it reconnects (through HAProxy again) and resumes with `afterSeq` = the
 * last seq it holds, as an app does; graphql-ws's own retry would resubscribe with the first
 * variables and replay everything. It keeps every seq it received, duplicates included, so the
 * suite can check "exactly once, in order".
 */
export class Device {
  /** The host of the current socket (HAProxy's X-Served-By on the upgrade answer). */
  host: string | undefined
  client: Client | undefined
  readonly seen: number[] = []
  readonly bodies = new Map<number, string>()
  readonly closes: Array<{ code: number | undefined; host: string | undefined; at: number }> = []
  /** When each socket was acknowledged, and by which host. */
  readonly connections: Array<{ host: string | undefined; at: number }> = []
  readonly events: Array<{ event: ChatEvent; at: number }> = []
  private stopped = false

  constructor(
    readonly url: string,
    readonly user: User,
    readonly chatId: string,
    /** False: a phone that is gone with its host; it does not come back. */
    readonly reconnects = true,
  ) {}

  get lastSeq(): number {
    return this.seen.at(-1) ?? 0
  }

  /** Connects and waits for the socket's acknowledgement. */
  async start(): Promise<this> {
    const count = this.connections.length
    this.open()
    await waitFor(`a device's socket to be acknowledged`, 15_000, () => (this.connections.length > count ? true : undefined))
    return this
  }

  /** Closes the socket and opens another (through HAProxy, so maybe on another host). */
  async restart(): Promise<this> {
    const old = this.client
    this.client = undefined
    await old?.dispose()
    return this.start()
  }

  stop(): Promise<void> {
    this.stopped = true
    return Promise.resolve(this.client?.dispose())
  }

  /** setTyping over the device's socket; a socket between hosts just misses one. */
  type(typing: boolean): void {
    const client = this.client
    if (!client) return
    client.subscribe({ query: print(SetTypingDocument), variables: { chatId: this.chatId, typing } }, { next: () => {}, error: () => {}, complete: () => {} })
  }

  private open(): void {
    // The upgrade answer carries X-Served-By: the host HAProxy chose for this socket.
    const servedBy = (host: string) => (this.host = host)
    class TracedWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols)
        this.once('upgrade', (response) => servedBy(String(response.headers['x-served-by'] ?? '')))
      }
    }
    const client = createClient({
      url: `${this.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: TracedWebSocket,
      connectionParams: { authorization: `Bearer ${this.user.token}` },
      retryAttempts: 0,
      lazy: false,
      // The subscription's error handler records the close and reconnects; graphql-ws would also
      // print every lost socket of a non-lazy client to the console.
      onNonLazyError: () => {},
      on: { connected: () => this.connections.push({ host: this.host, at: Date.now() }) },
    })
    this.client = client
    client.subscribe<ChatEventsSubscription>(
      { query: print(ChatEventsDocument), variables: { chatId: this.chatId, afterSeq: this.lastSeq } },
      {
        next: ({ data }) => data && this.receive(data.chatEvents),
        error: (error) => this.lost(client, (error as { code?: number }).code),
        complete: () => this.lost(client, undefined),
      },
    )
  }

  private receive(event: ChatEvent): void {
    this.events.push({ event, at: Date.now() })
    if (event.__typename !== 'MessageEvent') return
    this.seen.push(event.message.seq)
    this.bodies.set(event.message.seq, event.message.body ?? '')
  }

  private lost(client: Client, code: number | undefined): void {
    if (client !== this.client) return
    this.closes.push({ code, host: this.host, at: Date.now() })
    this.client = undefined
    void client.dispose()
    if (this.stopped || !this.reconnects) return
    setTimeout(() => this.stopped || this.open(), 250 + Math.random() * 500).unref()
  }
}

export interface Ack {
  chatId: string
  seq: number
  body: string
}

/** One attempt of a send: which host answered, how long it took, whether it was an answer. */
export interface Attempt {
  host: string | undefined
  ms: number
  ok: boolean
  at: number
}

/**
 * A user that sends a message every `periodMs` (typing first, over its socket), each retried with
 * the same clientMessageId until acknowledged: a retry never stores a message twice, so every
 * send ends acknowledged, with the seq of its one stored copy.
 */
export class Sender {
  readonly acks: Ack[] = []
  readonly attempts: Attempt[] = []
  private running = true
  private readonly loop: Promise<void>

  constructor(
    readonly url: string,
    readonly device: Device,
    /** Unset: no steady sends, only those asked for. */
    periodMs?: number,
  ) {
    this.loop = periodMs === undefined ? Promise.resolve() : this.run(periodMs)
  }

  async stop(): Promise<void> {
    this.running = false
    await this.loop
  }

  private async run(periodMs: number): Promise<void> {
    await sleep(Math.random() * periodMs)
    for (let n = 1; this.running; n++) {
      this.device.type(true)
      await sleep(periodMs / 2)
      await this.send(`${this.device.user.token.slice(-8)} #${n}`)
      await sleep(periodMs / 2)
    }
  }

  /** Sends until acknowledged (the suite's end stops it between attempts). */
  async send(body: string): Promise<Ack | undefined> {
    const variables = { chatId: this.device.chatId, clientMessageId: randomUUID(), body }
    for (let attempt = 0; ; attempt++) {
      const at = Date.now()
      const answer = await call(this.url, SendMessageDocument, variables, this.device.user.token).catch(() => undefined)
      const message = answer?.errors ? undefined : answer?.data?.sendMessage
      this.attempts.push({ host: answer?.host, ms: answer?.ms ?? Date.now() - at, ok: message !== undefined, at })
      if (message) {
        const ack = { chatId: variables.chatId, seq: message.seq, body }
        this.acks.push(ack)
        return ack
      }
      if (!this.running && attempt > 20) return undefined
      await sleep(200)
    }
  }
}

/**
 * Every acknowledged message of each chat reached each of its live devices exactly once and in
 * order: a device's received seqs are exactly 1, 2, 3, … (no gap, no repeat), up to at least the
 * last acknowledged one, each with the body that was acknowledged for it.
 */
export async function expectEveryAckOnceInOrder(devices: Device[], senders: Sender[], ms = 30_000): Promise<void> {
  const acks = senders.flatMap((sender) => sender.acks)
  for (const device of devices.filter((d) => d.reconnects)) {
    const mine = acks.filter((ack) => ack.chatId === device.chatId)
    const last = Math.max(0, ...mine.map((ack) => ack.seq))
    await waitFor(`a device to receive seq ${last} (it has ${device.lastSeq}; host ${device.host})`, ms, () => (device.lastSeq >= last ? true : undefined))
    const expected = Array.from({ length: device.seen.length }, (_, i) => i + 1)
    if (JSON.stringify(device.seen) !== JSON.stringify(expected)) throw new Error(`received out of order or twice: ${JSON.stringify(device.seen)}`)
    for (const ack of mine) {
      if (device.bodies.get(ack.seq) !== ack.body) throw new Error(`seq ${ack.seq} arrived as ${JSON.stringify(device.bodies.get(ack.seq))}, acknowledged as ${JSON.stringify(ack.body)}`)
    }
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
}
