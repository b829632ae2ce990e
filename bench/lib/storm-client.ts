/**
 * The storm's clients, run inside a load generator process (bench/loadgen.ts hands it the `storm-*`
 * jobs). Each client does what a real app does with its graphql-transport-ws socket: connection_init
 * with its token, `notifications` + `chatEvents(chatId, afterSeq)`, and on close it reconnects with
 * full-jitter exponential backoff (a random wait in [0, 1 s] first, then [0, 2 s], [0, 4 s] … up to
 * 16 s), re-authenticates and resubscribes `chatEvents` from the last seq it holds, dropping
 * duplicates by seq.
 *
 * Liveness proof: every chat holds at least one message, and a client subscribes `chatEvents` with
 * afterSeq = (last seq it holds) − 1. Hush replays stored messages with seq > afterSeq only once
 * the subscription opened (channel subscribed, chat read and authorised, presence joined), so the
 * replay of the message the client already holds proves the subscription is live; the client then
 * drops that copy as the duplicate it is. "Caught up": live, and holding (contiguously) every
 * message of the chat that was acknowledged to its sender when the client sent this subscribe;
 * later messages arrive live and are checked by the final count.
 *
 * Traffic: on some chats the two users send messages over HTTP (through the load balancer) at a
 * steady rate, each with a clientMessageId, retried with the same id until answered. Both users of a
 * chat live in the same process, so acknowledged and received seqs are compared here.
 */
import http from 'node:http'
import { WebSocket } from 'ws'

export interface StormUser {
  idx: number
  token: string
  chatId: string
  /** index into the frontends (load balancer nodes) */
  frontend: number
  localAddress: string
  /** the last seq of the chat this user holds (≥ 1: every chat has a message) */
  held: number
  /** this user's chat carries the steady message load */
  traffic: boolean
}

export interface StormFrontend {
  ws: string
  http: string
}

export type StormJob =
  | { type: 'storm-init'; frontends: StormFrontend[]; users: StormUser[] }
  | { type: 'storm-connect'; concurrency: number; timeoutMs: number }
  /** Starts watching for the storm: from now on, each client's next close starts its reconnect clock. */
  | { type: 'storm-arm' }
  | { type: 'storm-traffic'; rate: number }
  | { type: 'storm-traffic-stop'; graceMs: number }
  | { type: 'storm-wait'; timeoutMs: number }
  | { type: 'storm-report' }
  | { type: 'storm-close' }

export interface StormConnectResult {
  users: number
  live: number
  failed: number
  ms: number
  firstError?: string
}

/** Wall-clock times (ms since the epoch, sub-ms) per client of this process, NaN when it did not happen. */
export interface StormClientTimes {
  closedAt: number
  /** connection_ack on the new socket (the subscribes are sent at once) */
  ackAt: number
  /** the replayed message arrived: the new chatEvents subscription is live */
  liveAt: number
  caughtUpAt: number
  /** the first newMessage notification on the new socket (traffic clients whose peer sent one) */
  notifiedAt: number
  attempts: number
}

export interface StormReport {
  users: number
  trafficUsers: number
  /** clients whose socket closed after the arm */
  closed: number
  times: StormClientTimes[]
  traffic: {
    sent: number
    acked: number
    /** sends that were tried again (same clientMessageId) after an error or no answer */
    retries: number
    /** sends given up on (unacknowledged); the message may still have been stored */
    abandoned: number
    firstError?: string
    /** acknowledged messages a user of the chat never received (each user counts) */
    lost: number
    /** a seq delivered twice within one subscription, or again beyond the asked-for replay */
    duplicated: number
    /** a seq that arrived out of order within a subscription (a gap) */
    reordered: number
    /** messages received by the users of traffic chats (both sides) */
    received: number
    /** acknowledged send → recipient socket, ms (messages acknowledged and received) */
    latencies: number[]
  }
  subscriptionErrors: number
  firstSubscriptionError?: string
  /** after the arm: socket closes by code (1006: cut), connection errors by message */
  closeCodes: Record<string, number>
  connectErrors: Record<string, number>
  /** chats' last seq as the clients hold it now (for the next run) */
  held: Array<[string, number]>
}

const CHAT_EVENTS =
  'subscription ($chatId: ID!, $afterSeq: Int) { chatEvents(chatId: $chatId, afterSeq: $afterSeq) { __typename ... on MessageEvent { message { seq body } } } }'
const NOTIFICATIONS = 'subscription { notifications { __typename } }'
const SEND =
  'mutation ($chatId: ID!, $cid: ID!, $body: String) { sendMessage(chatId: $chatId, clientMessageId: $cid, body: $body) { seq } }'

const now = () => performance.timeOrigin + performance.now()
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const ACK_TIMEOUT_MS = 15_000
const BACKOFF_CAP_MS = 16_000

let frontends: StormFrontend[] = []
const clients: Client[] = []
const chats = new Map<string, ChatLedger>()
let armed = false
let subscriptionErrors = 0
let firstSubscriptionError: string | undefined
let connectError: string | undefined
/** After the arm: sockets closed by code, and connection errors by message (e.g. HAProxy's 503). */
const closeCodes: Record<string, number> = {}
const connectErrors: Record<string, number> = {}

/** What the senders of one traffic chat got acknowledged. */
class ChatLedger {
  /** acknowledged seq → when, and which user sent it */
  readonly acked = new Map<number, { at: number; sender: number }>()
  maxAcked = 0
  users: Client[] = []
}

interface FramePayload {
  data?: { chatEvents?: { __typename: string; message?: { seq: number; body: string } }; notifications?: { __typename: string } } | null
  errors?: unknown
}

class Client {
  ws: WebSocket | undefined
  /** generation of the socket; frames of an older socket are ignored */
  gen = 0
  attempts = 0
  held: number
  /** seqs received (traffic chats), for the final count */
  readonly received = new Map<number, number>()
  /** per subscription: the next seq expected, and the seq whose replay proves it live */
  expected = 0
  probeSeq = 0
  live = false
  subId = 0
  ackedAtSubscribe = 0
  times: StormClientTimes = { closedAt: NaN, ackAt: NaN, liveAt: NaN, caughtUpAt: NaN, notifiedAt: NaN, attempts: 0 }
  stormClosed = false
  duplicated = 0
  reordered = 0
  onLive: (() => void) | undefined
  constructor(readonly user: StormUser) {
    this.held = user.held
  }

  get ledger(): ChatLedger | undefined {
    return chats.get(this.user.chatId)
  }

  connect(): void {
    const gen = ++this.gen
    const frontend = frontends[this.user.frontend]!
    const ws = new WebSocket(frontend.ws, 'graphql-transport-ws', { localAddress: this.user.localAddress, perMessageDeflate: false, handshakeTimeout: ACK_TIMEOUT_MS })
    this.ws = ws
    this.live = false
    let acked = false
    const timer = setTimeout(() => {
      if (!acked) ws.terminate()
    }, ACK_TIMEOUT_MS)
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${this.user.token}` } })))
    ws.on('error', (error) => {
      connectError ??= error.message
      if (armed) connectErrors[error.message.slice(0, 60)] = (connectErrors[error.message.slice(0, 60)] ?? 0) + 1
    })
    ws.on('close', (code) => {
      clearTimeout(timer)
      if (armed) closeCodes[code] = (closeCodes[code] ?? 0) + 1
      if (gen !== this.gen) return
      this.ws = undefined
      this.live = false
      if (armed && !this.stormClosed) {
        this.stormClosed = true
        this.times.closedAt = now()
        this.attempts = 0
      }
      if (stopping) return
      this.reconnectLater()
    })
    ws.on('message', (data) => {
      if (gen !== this.gen) return
      const frame = JSON.parse((data as Buffer).toString()) as { type: string; id?: string; payload?: FramePayload }
      switch (frame.type) {
        case 'connection_ack':
          acked = true
          clearTimeout(timer)
          if (this.stormClosed && Number.isNaN(this.times.ackAt)) this.times.ackAt = now()
          ws.send(JSON.stringify({ id: 'n', type: 'subscribe', payload: { query: NOTIFICATIONS } }))
          this.subscribeChat()
          return
        case 'next':
          return this.onNext(frame.id!, frame.payload)
        case 'error':
          this.onSubscriptionError(frame.id!, JSON.stringify(frame.payload).slice(0, 300))
          return
        case 'complete':
          if (frame.id?.startsWith('c')) this.onSubscriptionError(frame.id, 'chatEvents completed by the server')
          return
        case 'ping':
          ws.send('{"type":"pong"}')
          return
      }
    })
  }

  private reconnectLater(): void {
    const wait = Math.random() * Math.min(BACKOFF_CAP_MS, 1000 * 2 ** this.attempts)
    this.attempts++
    if (this.stormClosed) this.times.attempts = this.attempts
    setTimeout(() => this.connect(), wait)
  }

  subscribeChat(): void {
    const ws = this.ws
    if (!ws || ws.readyState !== WebSocket.OPEN) return
    const afterSeq = this.held - 1
    this.expected = afterSeq + 1
    this.probeSeq = this.held
    this.live = false
    this.ackedAtSubscribe = this.ledger?.maxAcked ?? 0
    ws.send(JSON.stringify({ id: `c${++this.subId}`, type: 'subscribe', payload: { query: CHAT_EVENTS, variables: { chatId: this.user.chatId, afterSeq } } }))
  }

  private onSubscriptionError(id: string, message: string): void {
    subscriptionErrors++
    firstSubscriptionError ??= message
    const gen = this.gen
    // Retry after a jittered wait, on the same socket if it still stands.
    const wait = 200 + Math.random() * 1000
    if (id === 'n') setTimeout(() => gen === this.gen && this.ws?.send(JSON.stringify({ id: 'n', type: 'subscribe', payload: { query: NOTIFICATIONS } })), wait)
    else if (id === `c${this.subId}`) setTimeout(() => gen === this.gen && this.subscribeChat(), wait)
  }

  private onNext(id: string, payload: FramePayload | undefined): void {
    if (id === 'n') {
      if (payload?.data?.notifications && this.stormClosed && Number.isNaN(this.times.notifiedAt) && !Number.isNaN(this.times.ackAt)) this.times.notifiedAt = now()
      return
    }
    if (id !== `c${this.subId}`) return
    const event = payload?.data?.chatEvents
    if (!event) {
      this.onSubscriptionError(id, JSON.stringify(payload?.errors ?? payload).slice(0, 300))
      return
    }
    if (event.__typename !== 'MessageEvent' || !event.message) return
    const seq = event.message.seq
    const at = now()
    if (seq < this.expected) this.duplicated++
    else if (seq > this.expected) this.reordered++
    this.expected = Math.max(this.expected, seq + 1)
    if (seq === this.probeSeq && !this.live) {
      this.live = true
      if (this.stormClosed && Number.isNaN(this.times.liveAt)) this.times.liveAt = at
      this.onLive?.()
      this.onLive = undefined
    }
    if (seq > this.held && this.ledger) {
      // Dropped as a duplicate by seq otherwise; counted above when the server repeated itself.
      this.received.set(seq, at)
    }
    if (seq === this.held + 1) {
      this.held = seq
      while (this.received.has(this.held + 1)) this.held++
    } else if (seq > this.held + 1 && !this.ledger) {
      this.held = seq
    }
    if (this.live && this.stormClosed && Number.isNaN(this.times.caughtUpAt) && this.held >= this.ackedAtSubscribe) this.times.caughtUpAt = at
  }
}

let stopping = false

// --- traffic ------------------------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
const traffic = { sent: 0, acked: 0, retries: 0, abandoned: 0, firstError: undefined as string | undefined, inflight: 0, running: false }
let sendCounter = 0
const runTag = Math.random().toString(36).slice(2, 8)

function post(client: Client, body: string): Promise<number> {
  const url = new URL(frontends[client.user.frontend]!.http)
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        localAddress: client.user.localAddress,
        timeout: 10_000,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${client.user.token}` },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          try {
            const parsed = JSON.parse(text) as { data?: { sendMessage?: { seq: number } }; errors?: unknown }
            const seq = parsed.data?.sendMessage?.seq
            if (res.statusCode === 200 && typeof seq === 'number') return resolve(seq)
          } catch {
            // not JSON: a load balancer's error page
          }
          reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`))
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')))
    req.on('error', reject)
    req.end(body)
  })
}

/** One message, retried with the same clientMessageId until acknowledged (or 60 s passed). */
async function sendOne(sender: Client): Promise<void> {
  const n = ++sendCounter
  const body = JSON.stringify({ query: SEND, variables: { chatId: sender.user.chatId, cid: `${runTag}-${sender.user.idx}-${n}`, body: `storm ${n}` } })
  traffic.sent++
  traffic.inflight++
  const deadline = now() + 60_000
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const seq = await post(sender, body)
        const ledger = sender.ledger!
        if (!ledger.acked.has(seq)) ledger.acked.set(seq, { at: now(), sender: sender.user.idx })
        ledger.maxAcked = Math.max(ledger.maxAcked, seq)
        traffic.acked++
        return
      } catch (error) {
        traffic.firstError ??= (error as Error).message
        if (now() > deadline) {
          traffic.abandoned++
          return
        }
        traffic.retries++
        await sleep(Math.random() * Math.min(4_000, 250 * 2 ** attempt))
      }
    }
  } finally {
    traffic.inflight--
  }
}

async function runTraffic(rate: number): Promise<void> {
  const senders = clients.filter((c) => c.user.traffic)
  if (senders.length === 0 || rate <= 0) return
  traffic.running = true
  const started = now()
  let issued = 0
  while (traffic.running) {
    const due = Math.floor(((now() - started) * rate) / 1000)
    while (issued < due) {
      // Round robin over the chats' users: each chat's two users take turns.
      const sender = senders[issued % senders.length]!
      issued++
      void sendOne(sender)
    }
    await sleep(5)
  }
}

// --- jobs ---------------------------------------------------------------------------------------

async function connectAll(job: Extract<StormJob, { type: 'storm-connect' }>): Promise<StormConnectResult> {
  const started = now()
  let next = 0
  let failed = 0
  const worker = async () => {
    while (next < clients.length) {
      const client = clients[next++]!
      const live = new Promise<boolean>((resolve) => {
        client.onLive = () => resolve(true)
        setTimeout(() => resolve(false), job.timeoutMs)
      })
      client.connect()
      if (!(await live)) failed++
    }
  }
  await Promise.all(Array.from({ length: Math.min(job.concurrency, clients.length) }, worker))
  return { users: clients.length, live: clients.filter((c) => c.live).length, failed, ms: now() - started, firstError: connectError ?? firstSubscriptionError }
}

async function waitAll(timeoutMs: number): Promise<{ pending: number }> {
  const deadline = now() + timeoutMs
  // A client still waiting for its close counts too: the kill reaches the sockets a little later.
  const pending = () => clients.filter((c) => !c.stormClosed || Number.isNaN(c.times.caughtUpAt)).length
  while (pending() > 0 && now() < deadline) await sleep(100)
  return { pending: pending() }
}

function report(): StormReport {
  let lost = 0
  let received = 0
  const latencies: number[] = []
  for (const ledger of chats.values()) {
    for (const user of ledger.users) {
      for (const [seq, ack] of ledger.acked) {
        const at = user.received.get(seq)
        if (at === undefined) lost++
        // the recipient's copy: acknowledgement to the sender → the recipient's socket
        else if (ack.sender !== user.user.idx) latencies.push(at - ack.at)
      }
      received += user.received.size
    }
  }
  return {
    users: clients.length,
    trafficUsers: clients.filter((c) => c.user.traffic).length,
    closed: clients.filter((c) => c.stormClosed).length,
    times: clients.map((c) => c.times),
    traffic: {
      sent: traffic.sent,
      acked: traffic.acked,
      retries: traffic.retries,
      abandoned: traffic.abandoned,
      firstError: traffic.firstError,
      lost,
      duplicated: clients.reduce((sum, c) => sum + c.duplicated, 0),
      reordered: clients.reduce((sum, c) => sum + c.reordered, 0),
      received,
      latencies,
    },
    subscriptionErrors,
    firstSubscriptionError,
    closeCodes,
    connectErrors,
    held: [...new Map(clients.map((c) => [c.user.chatId, c.held] as [string, number])).entries()],
  }
}

export async function handleStormJob(job: StormJob): Promise<unknown> {
  switch (job.type) {
    case 'storm-init':
      frontends = job.frontends
      for (const user of job.users) {
        if (user.held < 1) throw new Error(`chat ${user.chatId} has no message: the liveness proof needs one`)
        const client = new Client(user)
        clients.push(client)
        if (user.traffic) {
          let ledger = chats.get(user.chatId)
          if (!ledger) chats.set(user.chatId, (ledger = new ChatLedger()))
          ledger.users.push(client)
        }
      }
      return { users: clients.length }
    case 'storm-connect':
      return connectAll(job)
    case 'storm-arm':
      armed = true
      return { ok: true }
    case 'storm-traffic':
      void runTraffic(job.rate)
      return { ok: true }
    case 'storm-traffic-stop': {
      traffic.running = false
      const deadline = now() + job.graceMs
      while (traffic.inflight > 0 && now() < deadline) await sleep(50)
      // Until every traffic client is live again and holds every acknowledged message of its chat
      // (a client may still be reconnecting: what it misses meanwhile is not lost, only late).
      const unsettled = () => [...chats.values()].flatMap((l) => l.users.filter((c) => !c.live || c.held < l.maxAcked)).length
      while (unsettled() > 0 && now() < deadline) await sleep(100)
      await sleep(500)
      return { inflight: traffic.inflight, unsettled: unsettled() }
    }
    case 'storm-wait':
      return waitAll(job.timeoutMs)
    case 'storm-report':
      return report()
    case 'storm-close':
      stopping = true
      for (const client of clients) client.ws?.terminate()
      agent.destroy()
      return { ok: true }
  }
}
