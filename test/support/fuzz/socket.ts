import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import fc from 'fast-check'
import { validateMessage } from 'graphql-ws'
import WebSocket from 'ws'
import { documentArb, longString, operationNames, variableNames } from './documents.js'
import { errorProblems, preview, PROTOCOL_CLOSE_CODES, resultProblems } from './oracle.js'
import { deeplyNested, variablesPlanArb, variablesText, type Fixtures, type VariablesPlan } from './values.js'
import type { WriteBudget } from './writes.js'

/**
 * graphql-transport-ws sessions for the fuzz test: a raw `ws` client writes every frame itself
 * (text, binary, or broken WebSocket framing straight onto the TCP socket) and records everything
 * the server does.
 */

export const SUBPROTOCOL = 'graphql-transport-ws'

/** One frame the test sends. */
export type OutFrame =
  | { kind: 'text'; data: string }
  /** A binary frame: its bytes, as hex. */
  | { kind: 'binary'; hex: string }
  /** Bytes written onto the TCP socket as they are: broken WebSocket framing. */
  | { kind: 'wire'; hex: string }

export interface SocketScript {
  protocols: string[]
  /** Send a good connection_init and wait for its ack before the frames. */
  authenticated: boolean
  user: number
  frames: OutFrame[]
  /** Send the frames in one TCP write, so the server reads them together. */
  together: boolean
}

export interface SessionRecord {
  frames: Array<{ text: string; binary: boolean }>
  /** The close the server started, if any (before the test hung up). */
  close: { code: number; reason: string } | undefined
  /** A problem with the session itself (no ack, no pong, a failed handshake). */
  failures: string[]
}

const json = (value: unknown) => JSON.stringify(value)

export function describeScript(script: SocketScript): string {
  return json({
    protocols: script.protocols,
    authenticated: script.authenticated,
    user: script.user,
    together: script.together || undefined,
    frames: script.frames.map((f) => (f.kind === 'text' ? f.data : f.kind === 'binary' ? { binary: Buffer.from(f.hex, 'hex').toString('utf8') } : { wire: f.hex })),
  })
}

/** A masked client frame with any opcode and flags (RFC 6455 section 5.2). */
export function wireFrame(payload: Buffer, opcode = 0x1, { fin = true, rsv = 0, masked = true } = {}): Buffer {
  const length = payload.length
  const first = (fin ? 0x80 : 0) | (rsv << 4) | opcode
  let header: Buffer
  if (length < 126) header = Buffer.from([first, (masked ? 0x80 : 0) | length])
  else if (length < 65_536) {
    header = Buffer.alloc(4)
    header[0] = first
    header[1] = (masked ? 0x80 : 0) | 126
    header.writeUInt16BE(length, 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = first
    header[1] = (masked ? 0x80 : 0) | 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  if (!masked) return Buffer.concat([header, payload])
  const mask = randomBytes(4)
  const body = Buffer.alloc(length)
  for (let i = 0; i < length; i++) body[i] = payload[i]! ^ mask[i % 4]!
  return Buffer.concat([header, mask, body])
}

/** Close codes a session may end with: the protocol's, and the WebSocket layer's own when the script broke its framing. */
export function allowedCloseCodes(script: SocketScript): ReadonlySet<number> {
  if (!script.frames.some((f) => f.kind === 'wire')) return PROTOCOL_CLOSE_CODES
  // 1002 protocol error, 1007 invalid UTF-8, 1009 too big: `ws` answers broken framing with these;
  // 1005 (no code) echoes a close frame the script sent without one.
  return new Set([...PROTOCOL_CLOSE_CODES, 1002, 1005, 1007, 1009])
}

/** Everything wrong with a session: frames that are not protocol messages, errors without codes, odd closes. */
export function sessionProblems(script: SocketScript, record: SessionRecord): string[] {
  const problems = [...record.failures]
  for (const frame of record.frames) {
    if (frame.binary) problems.push(`a binary frame from the server: ${preview(frame.text)}`)
    let message: { type?: unknown; payload?: unknown }
    try {
      message = JSON.parse(frame.text) as { type?: unknown; payload?: unknown }
    } catch {
      problems.push(`a frame that is not JSON: ${preview(frame.text)}`)
      continue
    }
    try {
      validateMessage(message)
    } catch (error) {
      problems.push(`a frame that is not a graphql-transport-ws message (${(error as Error).message.replace(/"[^"]*"/g, '"…"')})`)
      continue
    }
    if (message.type === 'next') problems.push(...resultProblems(message.payload))
    if (message.type === 'error') for (const error of message.payload as unknown[]) problems.push(...errorProblems(error))
  }
  if (record.close && !allowedCloseCodes(script).has(record.close.code)) {
    problems.push(`closed by the server with ${record.close.code} (${record.close.reason.replace(/\d+/g, 'N').slice(0, 80)})`)
  }
  return problems
}

/** Runs a script on a fresh socket and records what the server did. */
export async function runSession(baseUrl: string, script: SocketScript, tokens: string[]): Promise<SessionRecord> {
  const record: SessionRecord = { frames: [], close: undefined, failures: [] }
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/graphql`, script.protocols, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 })
  let hungUp = false
  let wake = () => {}
  ws.on('message', (data: Buffer, isBinary) => {
    record.frames.push({ text: data.toString(), binary: isBinary })
    wake()
  })
  const closed = new Promise<void>((resolve) =>
    ws.once('close', (code, reason) => {
      if (!hungUp) record.close = { code, reason: String(reason) }
      wake()
      resolve()
    }),
  )
  ws.on('error', () => undefined)
  const opened = await new Promise<string | undefined>((resolve) => {
    ws.once('open', () => resolve(undefined))
    ws.once('unexpected-response', (_req, res) => resolve(`handshake answered ${res.statusCode}`))
    ws.once('error', (error) => resolve(`handshake failed: ${error.message}`))
  })
  if (opened !== undefined) {
    // A refused handshake is an answer; only a server error is a problem. (`ws` itself refuses a
    // server that picks no subprotocol of those offered: the server may.)
    if (/answered 5\d\d|failed/.test(opened) && !/subprotocol/.test(opened)) record.failures.push(opened.replace(/\d{4,}/g, 'N'))
    return record
  }
  /** Waits until `condition` holds, the socket closes, or `ms` pass; true when the condition held. */
  const until = (condition: () => boolean, ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), ms)
      const done = (value: boolean) => {
        clearTimeout(timer)
        wake = () => {}
        resolve(value)
      }
      wake = () => {
        if (condition()) done(true)
        else if (ws.readyState !== WebSocket.OPEN) done(false)
      }
      wake()
    })
  try {
    if (script.authenticated) {
      ws.send(json({ type: 'connection_init', payload: { authorization: `Bearer ${tokens[script.user % tokens.length]}` } }))
      const acked = await until(() => record.frames.some((f) => f.text.includes('"connection_ack"')), 5_000)
      if (!acked && ws.readyState === WebSocket.OPEN) record.failures.push('no connection_ack within 5 s for a valid token')
    }
    const tcp = (ws as unknown as { _socket: Socket })._socket
    if (script.together && ws.readyState === WebSocket.OPEN) {
      tcp.write(Buffer.concat(script.frames.map((f) => (f.kind === 'text' ? wireFrame(Buffer.from(f.data)) : f.kind === 'binary' ? wireFrame(Buffer.from(f.hex, 'hex'), 0x2) : Buffer.from(f.hex, 'hex')))))
    } else {
      for (const frame of script.frames) {
        if (ws.readyState !== WebSocket.OPEN) break
        if (frame.kind === 'text') ws.send(frame.data)
        else if (frame.kind === 'binary') ws.send(Buffer.from(frame.hex, 'hex'), { binary: true })
        else tcp.write(Buffer.from(frame.hex, 'hex'))
      }
    }
    // A protocol ping after the frames: its pong proves the server read and handled them all.
    if (ws.readyState === WebSocket.OPEN && !script.frames.some((f) => f.kind === 'wire')) {
      const marker = randomBytes(6).toString('hex')
      ws.send(json({ type: 'ping', payload: { marker } }))
      const ponged = await until(() => record.frames.some((f) => f.text.includes(marker)), 5_000)
      if (!ponged && ws.readyState === WebSocket.OPEN) record.failures.push('no pong within 5 s: the server stopped reading the socket')
    }
    // Then answers still on their way (a query that reads the store): until the socket is quiet.
    for (let seen = -1, started = Date.now(); seen !== record.frames.length && Date.now() - started < 1_000; ) {
      seen = record.frames.length
      await until(() => record.frames.length !== seen, 20)
    }
    if (script.frames.some((f) => f.kind === 'wire')) await until(() => false, 50)
  } finally {
    hungUp = true
    if (record.close === undefined) {
      ws.terminate()
    }
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000))])
  }
  return record
}

// ---------------------------------------------------------------------------------------------
// Generators

const MESSAGE_TYPES = ['connection_init', 'ping', 'pong', 'subscribe', 'subscribe', 'subscribe', 'complete', 'complete', 'next', 'error', 'connection_ack', 'start', 'stop', 'connection_terminate', 'ka', 'SUBSCRIBE', '', 'subscribe ']
const IDS: unknown[] = ['1', '1', '2', '3', 'a', '', ' ', 'x'.repeat(1_000), '😀', '\u0000', '__proto__', 'constructor', 'hasOwnProperty', 1, -1, 1.5, null, true, {}, [], ['1']]

/** Parts of a message, each present or not, each with a right or wrong type. */
export interface MessagePlan {
  type: number
  typeShape: number
  id: number
  hasId: boolean
  payload: number
  document: string
  variables: VariablesPlan
  operationName: number
  token: number
  rawText: number
  large: number
}

export function messagePlanArb(fixtures: Fixtures): fc.Arbitrary<MessagePlan> {
  return fc.record({
    type: fc.nat({ max: MESSAGE_TYPES.length - 1 }),
    typeShape: fc.nat({ max: 19 }),
    id: fc.nat({ max: IDS.length - 1 }),
    hasId: fc.boolean(),
    payload: fc.nat({ max: 29 }),
    document: documentArb,
    variables: variablesPlanArb(fixtures),
    operationName: fc.nat({ max: 9 }),
    token: fc.nat({ max: 9 }),
    rawText: fc.nat({ max: 39 }),
    large: fc.nat({ max: 29 }),
  })
}

const RAW_TEXTS = [
  '',
  ' ',
  '{',
  'null',
  '[]',
  '[{"type":"ping"}]',
  '"ping"',
  '42',
  '{"type":"ping"} {"type":"ping"}',
  '{"type":"ping",}',
  '{"type":"ping","type":"pong"}',
  '{"type":"subscribe","id":"1","payload":{"query":"{ viewer { id } }"},"extra":1}',
  '{"__proto__":{"type":"ping"}}',
  '{"type":"subscribe","id":"1","payload":{"__proto__":{"query":"{ viewer { id } }"}}}',
  '{"type":"subscribe","__proto__":{"id":"1"},"payload":{"query":"{ viewer { id } }"}}',
  '{"type":"connection_init","payload":{"__proto__":{"authorization":"Bearer x"}}}',
  '\ufeff{"type":"ping"}',
  '{"type":"ping","payload":' + deeplyNested(5_000, 'object') + '}',
  '{"type":"ping","payload":{"a":' + deeplyNested(20_000, 'array') + '}}',
  '{"type":"pong","payload":{}}',
  '{"type":"ping","payload":null}',
  '{"type":"ping","payload":[]}',
  '{"type":"ping","payload":"x"}',
  '{"type":"subscribe","id":"1","payload":null}',
  '{"type":"subscribe","id":"1","payload":{"query":"{ viewer { id } }","variables":[]}}',
  '{"type":"subscribe","id":"1","payload":{"query":"{ viewer { id } }","extensions":"x"}}',
  '{"type":"subscribe","id":"1","payload":{"query":"{ viewer { id } }","operationName":1}}',
  '{"type":"subscribe","id":"1","payload":{"query":1}}',
  '{"type":"complete"}',
  '{"type":"complete","id":null}',
  '{"type":"next","id":"1","payload":{"data":{}}}',
  '{"type":"error","id":"1","payload":[{"message":"x"}]}',
  '{"type":"connection_ack"}',
  '{"type":"connection_init","payload":"Bearer x"}',
  '{"type":"connection_init","payload":[]}',
  '{"type":"connection_init","payload":null}',
  '{"type":"\\u0000"}',
  '\u0000',
  '{"type":"ping","payload":{"marker":"\\ud800"}}',
  '{"id":"1","type":"subscribe","payload":{"query":"subscription { notifications { __typename } }","variables":{"__proto__":{"x":1}}}}',
]

/** Frames past the 64 KiB frame limit, and just under it. */
function largeText(plan: MessagePlan): string | undefined {
  const sizes = [65_400, 65_536, 65_537, 70_000, 200_000]
  const size = sizes[plan.large % sizes.length]!
  if (plan.large >= 5) return undefined
  const filler = longString(size, plan.token)
  return json({ type: 'subscribe', id: 'big', payload: { query: `{ viewer { id } } #${filler}`.slice(0, size - 60) } })
}

/** The JSON text of one message, most of them near the protocol, many of them off it. */
export function messageText(plan: MessagePlan, fixtures: Fixtures, tokens: string[], budget: WriteBudget): string {
  const large = largeText(plan)
  if (large !== undefined) return large
  if (plan.rawText < RAW_TEXTS.length && plan.typeShape === 19) return RAW_TEXTS[plan.rawText]!
  const type = MESSAGE_TYPES[plan.type]!
  const typeText = plan.typeShape === 17 ? json([type]) : plan.typeShape === 18 ? '1' : json(type)
  const members = [`"type":${typeText}`]
  if (plan.hasId || type === 'subscribe' || type === 'complete') {
    // Mostly well-formed ids (duplicates among them), sometimes ids of odd shapes.
    const id = plan.id < 5 || plan.typeShape < 12 ? IDS[plan.id % 5] : IDS[plan.id]
    members.push(`"id":${json(id)}`)
  }
  let payload: string | undefined
  if (type === 'subscribe' || type === 'SUBSCRIBE' || type === 'start') {
    const document = budget.guard(plan.document)
    const names = operationNames(document)
    const operationName = plan.operationName < 2 && names.length > 0 ? names[0] : [undefined, undefined, undefined, null, '', 'Nope', 1, ['x'], {}, '__proto__'][plan.operationName]
    const variables = variablesText(plan.variables, variableNames(document))
    const parts = [plan.payload === 28 ? '"query":null' : plan.payload === 29 ? `"query":${json([document])}` : `"query":${json(document)}`]
    if (variables !== undefined) parts.push(`"variables":${variables}`)
    if (operationName !== undefined) parts.push(`"operationName":${json(operationName)}`)
    if (plan.payload === 27) parts.push('"extensions":{"persistedQuery":{"version":1,"sha256Hash":"x"}}')
    if (plan.payload === 26) parts.push('"extensions":[1]')
    payload = plan.payload === 25 ? undefined : `{${parts.join(',')}}`
  } else if (type === 'connection_init') {
    const token = tokens[plan.token % tokens.length]!
    payload = [
      json({ authorization: `Bearer ${token}` }),
      json({ Authorization: `Bearer ${token}` }),
      json({ authorization: token }),
      json({ authorization: 'Bearer garbage' }),
      json({ authorization: 1 }),
      json({ authorization: [`Bearer ${token}`] }),
      '{}',
      undefined,
      'null',
      json(`Bearer ${token}`),
    ][plan.token]
  } else if (type === 'ping' || type === 'pong') {
    payload = [undefined, undefined, '{}', '{"x":1}', 'null', '"x"', '1', '[]', json({ big: 'y'.repeat(30_000) }), deeplyNested(1_000, 'object')][plan.payload % 10]
  } else if (plan.payload % 3 === 0) {
    payload = ['{}', 'null', '[]', '"x"', json({ data: null }), json([{ message: 'x' }])][plan.payload % 6]
  }
  if (payload !== undefined) members.push(`"payload":${payload}`)
  return `{${members.join(',')}}`
}

/** Broken WebSocket framing `ws` itself must refuse. */
const WIRE_FRAMES: readonly Buffer[] = [
  wireFrame(Buffer.from('{"type":"ping"}'), 0x1, { masked: false }),
  wireFrame(Buffer.from('{"type":"ping"}'), 0x3),
  wireFrame(Buffer.from('{"type":"ping"}'), 0x1, { rsv: 1 }),
  wireFrame(Buffer.from([0xc3, 0x28, 0xed, 0xa0, 0x80]), 0x1),
  wireFrame(Buffer.from('{"type":'), 0x1, { fin: false }),
  wireFrame(Buffer.from('x'.repeat(200)), 0x9),
  wireFrame(Buffer.from('{"type":"ping"}'), 0x0),
  Buffer.from([0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe7]),
  Buffer.from([0x88, 0x80, 0, 0, 0, 0]),
  Buffer.from('GET / HTTP/1.1\r\n\r\n'),
]

export interface ScriptPlan {
  protocols: number
  authenticated: boolean
  user: number
  together: boolean
  frames: Array<{ shape: number; message: MessagePlan; bytes: number[] }>
}

export function scriptPlanArb(fixtures: Fixtures): fc.Arbitrary<ScriptPlan> {
  return fc.record({
    protocols: fc.nat({ max: 19 }),
    authenticated: fc.boolean(),
    user: fc.nat({ max: 1 }),
    together: fc.nat({ max: 5 }).map((n) => n === 0),
    frames: fc.array(
      fc.record({ shape: fc.nat({ max: 39 }), message: messagePlanArb(fixtures), bytes: fc.array(fc.nat({ max: 255 }), { maxLength: 40 }) }),
      { minLength: 1, maxLength: 10 },
    ),
  })
}

const PROTOCOL_OFFERS: string[][] = [[SUBPROTOCOL, 'graphql-ws'], ['graphql-ws'], [], ['x'], ['GRAPHQL-TRANSPORT-WS']]

export function socketScript(plan: ScriptPlan, fixtures: Fixtures, tokens: string[], budget: WriteBudget): SocketScript {
  const frames: OutFrame[] = plan.frames.map(({ shape, message, bytes }) => {
    if (shape === 0) return { kind: 'wire', hex: WIRE_FRAMES[message.rawText % WIRE_FRAMES.length]!.toString('hex') }
    if (shape === 1) return { kind: 'binary', hex: Buffer.from(bytes).toString('hex') }
    const text = messageText(message, fixtures, tokens, budget)
    return shape < 4 ? { kind: 'binary', hex: Buffer.from(text).toString('hex') } : { kind: 'text', data: text }
  })
  return {
    protocols: plan.protocols < PROTOCOL_OFFERS.length ? PROTOCOL_OFFERS[plan.protocols]! : [SUBPROTOCOL],
    authenticated: plan.authenticated,
    user: plan.user,
    frames,
    together: plan.together,
  }
}
