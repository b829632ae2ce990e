/**
 * The load generator: its own process (forked by bench/run.ts with `node --import tsx`), driven
 * over IPC one job at a time. It speaks the real protocols: graphql-transport-ws (connection_init
 * with a Bearer token, subscribe, ping/pong) on `ws` sockets, GraphQL over HTTP POST for mutations
 * (as an Apollo/urql client with a split link does), or mutations over the socket when asked; and
 * bare JSON frames to the floor server. Latency is always measured in this one process, from the
 * moment a send is issued to the moment the recipient's socket delivers the event.
 */
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { WebSocket } from 'ws'
import { ddbAlone, type DdbJob } from './lib/ddb-alone.js'
import { ddbAloneConnect, type DdbConnectJob } from './lib/ddb-alone-connect.js'
import { handleStormJob, type StormJob } from './lib/storm-client.js'
import { round, sleep, summarize, type LatencySummary } from './lib/stats.js'
import type { Protocol } from './lib/targets.js'

export type { DdbResult } from './lib/ddb-alone.js'
export type Transport = 'http' | 'ws'

export interface ServerSpec {
  /** ws://host:port/graphql (or ws://host:port/ for the floor) */
  ws: string
  /** http://host:port/graphql; unused by the floor */
  http: string
}

export interface UserSpec {
  idx: number
  userId: string
  token: string
  chatId: string
  /** idx of the other user of the chat */
  peer: number
  /** index into the servers of the init job */
  server: number
}

export type Job =
  | { type: 'init'; protocol: Protocol; servers: ServerSpec[] }
  | { type: 'connect'; users: UserSpec[]; concurrency: number; localAddresses: string[]; settleMs: number }
  | { type: 'close'; keep: number }
  | {
      type: 'rate'
      kind: 'typing' | 'message'
      transport: Transport
      rate: number
      durationMs: number
      pairs: number
      graceMs: number
      /** Only pairs with one user on each of these servers (indexes of the init job); default: all. */
      servers?: [number, number]
      /** Mutations in flight at most; sends past it are skipped (and the step fails). */
      maxInflight?: number
      /** How long to wait after the step for every answer, so no backlog leaks into the next. */
      drainMs?: number
    }
  | { type: 'sendpath'; transport: Transport; concurrency: number; durationMs: number }
  | DdbJob
  | DdbConnectJob
  /** bench/storm.ts: reconnecting clients behind a load balancer (bench/lib/storm-client.ts) */
  | StormJob
  | { type: 'exit' }

export interface ConnectResult {
  requested: number
  connected: number
  failed: number
  firstError?: string
  /** from the first socket opened to the last subscription sent */
  connectMs: number
  connectRate: number
  /**
   * From the first socket opened until every connection's subscriptions were live: for Hush, until
   * every chat saw a PresenceEvent (both users subscribed); for the floor and the peer, which
   * confirm nothing, connectMs.
   */
  liveMs: number
  liveRate: number
  /** socket open → connection_ack (graphql-ws) or → open (floor) */
  handshake: LatencySummary
  settleMs: number
  chatsSettled: number
  chatsTotal: number
  subscriptionErrors: number
  total: number
  loadgenCpuMs: number
}

export interface RateResult {
  kind: 'typing' | 'message'
  transport: Transport
  target: number
  durationMs: number
  pairs: number
  sent: number
  /** sends not issued because too many requests were already in flight */
  skipped: number
  delivered: number
  errors: number
  firstError?: string
  /** events delivered to the recipient per second of the window */
  achieved: number
  latency: LatencySummary
  /** largest number of mutations in flight at once */
  maxInflight: number
  /** typing=false sends after the window, for users left typing (events too, not measured) */
  cleanupSent: number
  /** time from the end of the window until every mutation was answered */
  drainMs: number
  drained: boolean
  loadgenCpuMs: number
  /** the load generator's own longest event-loop delay during the step (its stalls inflate latency too) */
  loadgenLoopMaxMs: number
}

/** CPU per completed write, by process, filled in by the orchestrator (µs). */
export interface CpuPerWrite {
  /** the Hush server (0 when DynamoDB Local is driven directly) */
  server: number
  dynamodbLocal: number
  loadgen: number
}

export interface SendPathResult {
  concurrency: number
  durationMs: number
  completed: number
  errors: number
  firstError?: string
  /** sendMessage → recipient's MessageEvent, per second */
  throughput: number
  /** sendMessage issued → recipient's MessageEvent */
  latency: LatencySummary
  /** sendMessage issued → its HTTP (or socket) answer */
  response: LatencySummary
  loadgenCpuMs: number
  cpuPerWrite?: CpuPerWrite
}


// ---------------------------------------------------------------------------------------------

const HUSH = {
  notifications: 'subscription { notifications { __typename } }',
  chatEvents:
    'subscription ($chatId: ID!) { chatEvents(chatId: $chatId) { __typename ... on TypingEvent { typing } ... on MessageEvent { message { seq body fromMe } } } }',
  setTyping: 'mutation ($chatId: ID!, $typing: Boolean!) { setTyping(chatId: $chatId, typing: $typing) }',
  sendMessage:
    'mutation ($chatId: ID!, $cid: ID!, $body: String) { sendMessage(chatId: $chatId, clientMessageId: $cid, body: $body) { seq } }',
}
const PEER = {
  chat: 'subscription ($chatId: ID!) { chat(chatId: $chatId) { body } }',
  send: 'mutation ($chatId: ID!, $body: String!) { send(chatId: $chatId, body: $body) }',
}

/** What a message body carries: the step, the sender, the send time and a unique number. */
const stamp = (step: number, sender: number, n: number) => `${step}|${sender}|${performance.now().toFixed(3)}|${n}`

let protocol: Protocol = 'hush'
let servers: ServerSpec[] = []
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
const runTag = randomUUID().slice(0, 8)

class Conn {
  ws!: WebSocket
  typing = false
  /** typing events this user should receive, oldest first */
  pendingTyping: Array<{ v: boolean; t: number }> = []
  presenceSeen = false
  /** when the first PresenceEvent arrived (performance.now()) */
  presenceAt = 0
  closed = false
  /** this user's typing mutations, one after another as a client sends them */
  chain: Promise<void> = Promise.resolve()
  constructor(readonly user: UserSpec) {}
}

const conns = new Map<number, Conn>()
const serverOf = (conn: Conn) => servers[conn.user.server]!

// Measurement state of the running step.
let step = 0
let measuring = false
let samples: number[] = []
let delivered = 0
let stray = 0
let subscriptionErrors = 0
const waiters = new Map<number, (at: number) => void>()

const debug = process.env.BENCH_DEBUG === '1'
function record(latency: number, conn?: Conn): void {
  if (debug && latency > 500) console.error(`[loadgen] slow event ${latency.toFixed(0)} ms at user ${conn?.user.idx} step ${step} now ${performance.now().toFixed(0)}`)
  samples.push(latency)
  delivered++
}

function onStamped(conn: Conn, body: string): void {
  const [stepText, senderText, sentText, nText] = body.split('|')
  if (Number(senderText) === conn.user.idx) return // the sender's own copy (peer echoes to both sides)
  const now = performance.now()
  const waiter = waiters.get(Number(nText))
  if (waiter) {
    waiters.delete(Number(nText))
    waiter(now)
    return
  }
  if (!measuring || Number(stepText) !== step) {
    stray++
    return
  }
  record(now - Number(sentText), conn)
}

function onTyping(conn: Conn, value: boolean): void {
  if (!measuring) {
    stray++
    return
  }
  const now = performance.now()
  while (conn.pendingTyping.length > 0) {
    const expected = conn.pendingTyping.shift()!
    if (expected.v === value) return record(now - expected.t, conn)
  }
  stray++
}

// Mutations sent over the socket (graphql-ws "subscribe" of a mutation): id → settle.
const socketOps = new Map<string, (error?: string) => void>()
let socketOpSeq = 0

/** What the load generator reads of a graphql-ws frame's payload (an "error" frame's is only logged). */
interface FramePayload {
  errors?: unknown
  data?: {
    /** The peer server's `chat` subscription. */
    chat?: { body: string }
    /** Hush's `chatEvents` subscription. */
    chatEvents?:
      | { __typename: 'TypingEvent'; typing: boolean }
      | { __typename: 'MessageEvent'; message: { fromMe: boolean; body: string } }
      | { __typename: 'PresenceEvent' | 'ChatClosedEvent' }
  } | null
}

function onGraphqlFrame(conn: Conn, raw: string): void {
  const frame = JSON.parse(raw) as { type: string; id?: string; payload?: FramePayload }
  switch (frame.type) {
    case 'next': {
      const id = frame.id!
      if (id.charCodeAt(0) === 109 /* m */) {
        if (frame.payload?.errors) socketOps.get(id)?.(JSON.stringify(frame.payload.errors).slice(0, 300))
        return
      }
      const data = frame.payload?.data
      if (!data) {
        subscriptionErrors++
        return
      }
      if (protocol === 'peer') return onStamped(conn, data.chat!.body)
      if (id === '2') {
        const event = data.chatEvents!
        switch (event.__typename) {
          case 'TypingEvent':
            return onTyping(conn, event.typing)
          case 'MessageEvent':
            if (!event.message.fromMe) onStamped(conn, event.message.body)
            return
          case 'PresenceEvent':
            if (!conn.presenceSeen) conn.presenceAt = performance.now()
            conn.presenceSeen = true
            return
          case 'ChatClosedEvent':
            subscriptionErrors++
            return
        }
      }
      return
    }
    case 'complete':
      if (frame.id?.startsWith('m')) socketOps.get(frame.id)?.()
      return
    case 'error':
      if (frame.id?.startsWith('m')) socketOps.get(frame.id)?.(JSON.stringify(frame.payload).slice(0, 300))
      else subscriptionErrors++
      return
    case 'ping':
      conn.ws.send('{"type":"pong"}')
      return
  }
}

function open(user: UserSpec, localAddress: string | undefined): Promise<{ conn: Conn; handshakeMs: number }> {
  const conn = new Conn(user)
  const server = servers[user.server]!
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const options = { localAddress, perMessageDeflate: false, handshakeTimeout: 15_000 }
    const ws = protocol === 'floor' ? new WebSocket(server.ws, options) : new WebSocket(server.ws, 'graphql-transport-ws', options)
    conn.ws = ws
    let settled = false
    const timer = setTimeout(() => fail(new Error('no connection_ack within 20 s')), 20_000)
    const fail = (error: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      ws.terminate()
      reject(error)
    }
    ws.on('error', fail)
    ws.on('close', (code, reason) => {
      conn.closed = true
      fail(new Error(`closed ${code} ${reason.toString()}`))
    })
    ws.on('open', () => {
      if (protocol === 'floor') {
        ws.send(JSON.stringify({ t: 'join', c: `user:${user.idx}` }))
        ws.send(JSON.stringify({ t: 'join', c: user.chatId }))
        settled = true
        clearTimeout(timer)
        resolve({ conn, handshakeMs: performance.now() - started })
        return
      }
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${user.token}` } }))
    })
    ws.on('message', (data) => {
      // ws's default binaryType ('nodebuffer'): each message arrives as one Buffer
      const raw = (data as Buffer).toString()
      if (protocol === 'floor') {
        const frame = JSON.parse(raw) as { b: string }
        return onStamped(conn, frame.b)
      }
      if (!settled) {
        if (raw.includes('"connection_ack"')) {
          settled = true
          clearTimeout(timer)
          const handshakeMs = performance.now() - started
          if (protocol === 'hush') {
            ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: HUSH.notifications } }))
            ws.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: HUSH.chatEvents, variables: { chatId: user.chatId } } }))
          } else {
            ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: PEER.chat, variables: { chatId: `user:${user.idx}` } } }))
            ws.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: PEER.chat, variables: { chatId: user.chatId } } }))
          }
          resolve({ conn, handshakeMs })
        }
        return
      }
      onGraphqlFrame(conn, raw)
    })
  })
}

async function connect(job: Extract<Job, { type: 'connect' }>): Promise<ConnectResult> {
  const cpu = process.cpuUsage()
  const handshakes: number[] = []
  let failed = 0
  let firstError: string | undefined
  let next = 0
  const started = performance.now()
  const worker = async () => {
    while (next < job.users.length) {
      const user = job.users[next++]!
      const localAddress = job.localAddresses.length ? job.localAddresses[user.idx % job.localAddresses.length] : undefined
      try {
        const { conn, handshakeMs } = await open(user, localAddress)
        conns.set(user.idx, conn)
        handshakes.push(handshakeMs)
      } catch (error) {
        failed++
        firstError ??= (error as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(job.concurrency, job.users.length) }, worker))
  const connectMs = performance.now() - started

  // Settle: for Hush, every new chat has seen a PresenceEvent (proof both subscriptions are live).
  const settleStart = performance.now()
  const newChats = new Map<string, Conn[]>()
  for (const user of job.users) {
    const conn = conns.get(user.idx)
    if (conn) newChats.set(user.chatId, [...(newChats.get(user.chatId) ?? []), conn])
  }
  const settledChats = () => [...newChats.values()].filter((cs) => cs.some((c) => c.presenceSeen)).length
  let liveMs = connectMs
  if (protocol === 'hush') {
    const deadline = performance.now() + Math.max(job.settleMs, 30_000)
    while (settledChats() < newChats.size && performance.now() < deadline) await sleep(20)
    // Each chat went live when its first PresenceEvent arrived; the last of them ends the connect.
    let last = 0
    for (const cs of newChats.values()) {
      const seen = cs.filter((c) => c.presenceSeen).map((c) => c.presenceAt)
      if (seen.length) last = Math.max(last, Math.min(...seen))
    }
    liveMs = settledChats() === newChats.size ? Math.max(connectMs, last - started) : NaN
  }
  await sleep(job.settleMs)
  const used = process.cpuUsage(cpu)
  return {
    requested: job.users.length,
    connected: handshakes.length,
    failed,
    firstError,
    connectMs: round(connectMs),
    connectRate: round((handshakes.length / connectMs) * 1000, 0),
    liveMs: round(liveMs),
    liveRate: round((handshakes.length / liveMs) * 1000, 0),
    handshake: summarize(handshakes),
    settleMs: round(performance.now() - settleStart),
    chatsSettled: protocol === 'hush' ? settledChats() : newChats.size,
    chatsTotal: newChats.size,
    subscriptionErrors,
    total: conns.size,
    loadgenCpuMs: round((used.user + used.system) / 1000),
  }
}

async function closeAbove(keep: number): Promise<{ total: number }> {
  const closing: Promise<void>[] = []
  for (const [idx, conn] of conns) {
    if (idx < keep) continue
    conns.delete(idx)
    if (conn.closed) continue
    closing.push(new Promise<void>((resolve) => conn.ws.once('close', () => resolve())))
    conn.ws.close(1000)
  }
  await Promise.race([Promise.all(closing), sleep(15_000)])
  for (const [idx, conn] of conns) if (conn.closed) conns.delete(idx)
  return { total: conns.size }
}

// --- sending ---------------------------------------------------------------------------------

let inflight = 0
let maxInflight = 0
let errors = 0
let firstError: string | undefined

function noteError(message: string): void {
  errors++
  firstError ??= message
}

function httpPost(url: string, token: string | undefined, query: string, variables: Record<string, unknown>, retried = false): Promise<void> {
  const body = JSON.stringify({ query, variables })
  const { hostname, port, pathname } = new URL(url)
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
    if (token) headers.authorization = `Bearer ${token}`
    let answered = false
    const req = http.request({ hostname, port, path: pathname, method: 'POST', agent, headers }, (res) => {
      answered = true
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => {
        if (res.statusCode !== 200 || text.includes('"errors"')) noteError(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`)
        resolve()
      })
      res.on('error', (error) => {
        noteError(error.message)
        resolve()
      })
    })
    req.on('error', (error: NodeJS.ErrnoException) => {
      // A keep-alive socket the server closed as we reused it: the request never arrived, and both
      // mutations are safe to repeat (setTyping is idempotent, sendMessage has its clientMessageId).
      if (!answered && !retried && error.code === 'ECONNRESET') {
        void httpPost(url, token, query, variables, true).then(resolve)
        return
      }
      noteError(error.message)
      resolve()
    })
    req.end(body)
  })
}

function socketMutation(conn: Conn, query: string, variables: Record<string, unknown>): Promise<void> {
  const id = `m${++socketOpSeq}`
  return new Promise((resolve) => {
    socketOps.set(id, (error) => {
      socketOps.delete(id)
      if (error) noteError(error)
      resolve()
    })
    conn.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }))
  })
}

/**
 * Issues one event from `sender` to its chat; resolves when the mutation was answered. A user's
 * typing mutations go one after another (a client toggles typing in order; overlapping requests
 * could reach the server reordered and desync its typing state): the latency clock starts when
 * the event is due, so time spent waiting behind the previous request still counts.
 */
function sendEvent(sender: Conn, receiver: Conn, kind: 'typing' | 'message', transport: Transport, n: number): Promise<void> {
  const user = sender.user
  if (protocol === 'floor') {
    sender.ws.send(JSON.stringify({ t: 'ev', c: user.chatId, b: stamp(step, user.idx, n) }))
    return Promise.resolve()
  }
  const issue = (query: string, variables: Record<string, unknown>) =>
    transport === 'ws' ? socketMutation(sender, query, variables) : httpPost(serverOf(sender).http, user.token, query, variables)
  inflight++
  if (inflight > maxInflight) maxInflight = inflight
  let done: Promise<void>
  if (protocol === 'peer') {
    done = issue(PEER.send, { chatId: user.chatId, body: stamp(step, user.idx, n) })
  } else if (kind === 'typing') {
    sender.typing = !sender.typing
    if (measuring) receiver.pendingTyping.push({ v: sender.typing, t: performance.now() })
    const variables = { chatId: user.chatId, typing: sender.typing }
    done = sender.chain = sender.chain.then(() => issue(HUSH.setTyping, variables))
  } else {
    done = issue(HUSH.sendMessage, { chatId: user.chatId, cid: `${runTag}-${n}`, body: stamp(step, user.idx, n) })
  }
  return done.finally(() => inflight--)
}

function pairsOf(servers?: [number, number]): Array<[Conn, Conn]> {
  const pairs: Array<[Conn, Conn]> = []
  for (const conn of [...conns.values()].sort((x, y) => x.user.idx - y.user.idx)) {
    if (conn.user.idx > conn.user.peer) continue
    const other = conns.get(conn.user.peer)
    if (!other || conn.closed || other.closed) continue
    if (servers) {
      const [x, y] = servers
      const match = (conn.user.server === x && other.user.server === y) || (conn.user.server === y && other.user.server === x)
      if (!match) continue
    }
    pairs.push([conn, other])
  }
  return pairs
}

let sendCounter = 0

/** Hush's typing throttle (500 ms between a chat side's shown changes) plus its sweep (250 ms), and a margin. */
const TYPING_CHANGE_GAP_MS = 800

async function rate(job: Extract<Job, { type: 'rate' }>): Promise<RateResult> {
  const pairs = pairsOf(job.servers).slice(0, job.pairs)
  if (pairs.length === 0) throw new Error('no connected pairs')
  step++
  samples = []
  delivered = 0
  errors = 0
  firstError = undefined
  maxInflight = 0
  for (const [a, b] of pairs) {
    a.pendingTyping = []
    b.pendingTyping = []
  }
  const cpu = process.cpuUsage()
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  measuring = true
  let sent = 0
  let skipped = 0
  let e = 0
  const cap = job.maxInflight ?? 500
  const started = performance.now()
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - started
      const due = Math.min(Math.floor((elapsed * job.rate) / 1000), Math.floor((job.durationMs * job.rate) / 1000))
      while (e < due) {
        const pair = pairs[e % pairs.length]!
        const forward = Math.floor(e / pairs.length) % 2 === 0
        const [sender, receiver] = forward ? pair : [pair[1], pair[0]]
        e++
        if (inflight >= cap) {
          skipped++
          continue
        }
        sent++
        void sendEvent(sender, receiver, job.kind, job.transport, ++sendCounter)
      }
      if (elapsed >= job.durationMs) return resolve()
      setTimeout(tick, 1)
    }
    tick()
  })
  const windowEnd = performance.now()
  // Grace: wait for stragglers (or the first moment everything is accounted for).
  const graceEnd = performance.now() + job.graceMs
  while (performance.now() < graceEnd && (delivered + errors < sent || inflight > 0)) await sleep(20)
  measuring = false
  loop.disable()
  const used = process.cpuUsage(cpu)
  const lost = Math.max(0, sent - delivered)
  const result: RateResult = {
    kind: job.kind,
    transport: job.transport,
    target: job.rate,
    durationMs: job.durationMs,
    pairs: pairs.length,
    sent,
    skipped,
    delivered,
    errors,
    firstError,
    achieved: round((delivered / job.durationMs) * 1000, 0),
    latency: summarize(samples, lost),
    maxInflight,
    cleanupSent: 0,
    drainMs: 0,
    drained: true,
    loadgenCpuMs: round((used.user + used.system) / 1000),
    loadgenLoopMaxMs: round(loop.max / 1e6, 1),
  }
  // Leave nobody typing (so no 6 s auto-stop lands in the next step), then let the queues drain.
  let typingSettlesAt = 0
  if (protocol === 'hush' && job.kind === 'typing') {
    const stops: Promise<void>[] = []
    for (const pair of pairs) for (const conn of pair) if (conn.typing) stops.push(sendEvent(conn, conn, 'typing', job.transport, ++sendCounter))
    result.cleanupSent = stops.length
    await Promise.race([Promise.all(stops), sleep(10_000)])
    // Hush shows a chat side's typing changes at most once per 500 ms (and holds back an earlier one
    // until its 250 ms sweep): a user's first change in the next step must not come sooner after
    // this typing=false, or that step would measure the throttle (a quarter of a second of delay
    // for its first events), not the server.
    typingSettlesAt = performance.now() + TYPING_CHANGE_GAP_MS
  }
  const quietDeadline = performance.now() + (job.drainMs ?? 60_000)
  while (inflight > 0 && performance.now() < quietDeadline) await sleep(20)
  result.drainMs = round(performance.now() - windowEnd, 0)
  result.drained = inflight === 0
  // …and until events stop arriving (a backlog inside the server is delivered after its answers).
  const settleDeadline = performance.now() + 10_000
  for (let seen = -1; performance.now() < settleDeadline; ) {
    const now = stray + delivered
    if (now === seen) break
    seen = now
    await sleep(150)
  }
  const rest = typingSettlesAt - performance.now()
  if (rest > 0) await sleep(rest)
  samples = []
  return result
}

async function sendPath(job: Extract<Job, { type: 'sendpath' }>): Promise<SendPathResult> {
  const pairs = pairsOf().slice(0, job.concurrency)
  if (pairs.length < job.concurrency) throw new Error(`need ${job.concurrency} pairs, have ${pairs.length}`)
  step++
  errors = 0
  firstError = undefined
  const latencies: number[] = []
  const responses: number[] = []
  const cpu = process.cpuUsage()
  const deadline = performance.now() + job.durationMs
  const started = performance.now()
  const worker = async ([sender]: [Conn, Conn]) => {
    while (performance.now() < deadline) {
      const n = ++sendCounter
      const sentAt = performance.now()
      const arrived = new Promise<number>((resolve) => waiters.set(n, resolve))
      const errorsBefore = errors
      inflight++
      const answered = (
        job.transport === 'ws'
          ? socketMutation(sender, HUSH.sendMessage, { chatId: sender.user.chatId, cid: `${runTag}-${n}`, body: stamp(step, sender.user.idx, n) })
          : httpPost(serverOf(sender).http, sender.user.token, HUSH.sendMessage, {
              chatId: sender.user.chatId,
              cid: `${runTag}-${n}`,
              body: stamp(step, sender.user.idx, n),
            })
      ).then(() => responses.push(performance.now() - sentAt))
      await answered
      inflight--
      if (errors > errorsBefore) {
        waiters.delete(n)
        continue
      }
      const at = await Promise.race([arrived, sleep(10_000).then(() => -1)])
      if (at < 0) {
        waiters.delete(n)
        noteError('no MessageEvent at the recipient within 10 s')
        continue
      }
      latencies.push(at - sentAt)
    }
  }
  await Promise.all(pairs.map(worker))
  const elapsed = performance.now() - started
  const used = process.cpuUsage(cpu)
  return {
    concurrency: job.concurrency,
    durationMs: round(elapsed),
    completed: latencies.length,
    errors,
    firstError,
    throughput: round((latencies.length / elapsed) * 1000, 0),
    latency: summarize(latencies),
    response: summarize(responses),
    loadgenCpuMs: round((used.user + used.system) / 1000),
  }
}

async function handle(job: Job): Promise<unknown> {
  switch (job.type) {
    case 'init':
      protocol = job.protocol
      servers = job.servers
      return { ok: true }
    case 'connect':
      return connect(job)
    case 'close':
      return closeAbove(job.keep)
    case 'rate':
      return rate(job)
    case 'sendpath':
      return sendPath(job)
    case 'ddb':
      return ddbAlone(job)
    case 'ddb-connect':
      return ddbAloneConnect(job)
    case 'storm-init':
    case 'storm-connect':
    case 'storm-arm':
    case 'storm-traffic':
    case 'storm-traffic-stop':
    case 'storm-wait':
    case 'storm-report':
    case 'storm-close':
      return handleStormJob(job)
    case 'exit':
      await closeAbove(0)
      setImmediate(() => process.exit(0))
      return { ok: true }
  }
}

if (!process.send) {
  console.error('bench/loadgen.ts is started by bench/run.ts (it needs an IPC channel)')
  process.exit(2)
}
process.on('message', (message: unknown) => {
  const { id, job } = message as { id: number; job: Job }
  handle(job).then(
    (result) => process.send!({ id, result }),
    (error: Error) => process.send!({ id, error: `${error.message}\n${error.stack ?? ''}` }),
  )
})
process.on('disconnect', () => process.exit(0))
