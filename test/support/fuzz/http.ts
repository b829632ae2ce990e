import http from 'node:http'
import net from 'node:net'
import fc from 'fast-check'
import { getOperationAST, parse } from 'graphql'
import { documentArb, longString, operationNames, variableNames } from './documents.js'
import { preview, resultProblems } from './oracle.js'
import { variablesPlanArb, variablesText, type Fixtures, type VariablesPlan } from './values.js'
import type { WriteBudget } from './writes.js'

/** One HTTP request as the fuzz test sends it. */
export interface HttpCase {
  method: string
  /** Path and query string. */
  path: string
  headers: Record<string, string>
  body?: string | Buffer
  /** Send the body chunked, without a Content-Length. */
  chunked?: boolean
}

export interface HttpAnswer {
  status: number
  contentType: string
  body: string
  /** The answer was a stream the test stopped reading. */
  streamed: boolean
}

/** The tokens the fuzz test may present. */
export interface Credentials {
  tokens: string[]
}

const json = (value: unknown) => JSON.stringify(value)

export function describeHttp(c: HttpCase): string {
  const body = c.body === undefined ? undefined : Buffer.isBuffer(c.body) ? `<${c.body.length} bytes> ${preview(c.body.toString('latin1'), 600)}` : c.body
  return json({ method: c.method, path: c.path.length > 600 ? `${c.path.slice(0, 600)}…` : c.path, headers: c.headers, chunked: c.chunked || undefined, body })
}

/**
 * Whether the server can tell which operation of `document` to run: undefined when that depends
 * on how the server parses (a syntax error, a non-string operationName).
 */
export function operationResolves(document: string, operationName: unknown): boolean | undefined {
  if (operationName != null && typeof operationName !== 'string') return undefined
  try {
    return getOperationAST(parse(document), operationName ?? undefined) !== null
  } catch {
    return undefined
  }
}

/** The GraphQL request a case carries, when the test built it from a document. */
export interface SentOperation {
  document: string
  operationName: unknown
}

/** What an answer must be: a status under 500, JSON where it says so, known error codes. */
export function httpProblems(c: HttpCase, answer: HttpAnswer, sent?: SentOperation): string[] {
  const problems: string[] = []
  if (answer.status >= 500) problems.push(`status ${answer.status}`)
  // A HEAD answer has the headers of a GET answer and no body.
  if (c.method === 'HEAD') return problems
  const type = answer.contentType.split(';')[0]!.trim().toLowerCase()
  if (type === 'application/json' || type === 'application/graphql-response+json') {
    let parsed: unknown
    try {
      parsed = JSON.parse(answer.body)
    } catch {
      return [...problems, `a ${type} body that is not JSON`]
    }
    const isGraphQL = typeof parsed === 'object' && parsed !== null && ('errors' in parsed || 'data' in parsed)
    if (isGraphQL) problems.push(...resultProblems(parsed))
    else if (c.path.startsWith('/graphql') && answer.status === 200) problems.push(`a 200 JSON answer that is no GraphQL result: ${preview(parsed)}`)
    // Yoga's OPERATION_RESOLUTION_FAILURE is right only when no operation matches; otherwise the
    // real errors (a validation error, say) were lost on the way.
    const codes = isGraphQL ? ((parsed as { errors?: Array<{ extensions?: { code?: unknown } }> }).errors ?? []).map((e) => e?.extensions?.code) : []
    if (sent && codes.includes('OPERATION_RESOLUTION_FAILURE') && operationResolves(sent.document, sent.operationName) === true) {
      problems.push('OPERATION_RESOLUTION_FAILURE for a document whose operation resolves: its own errors were lost')
    }
  } else if (type === 'text/event-stream') {
    for (const block of answer.body.split(/\n\n/)) {
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .join('\n')
      if (data === '') continue
      try {
        problems.push(...resultProblems(JSON.parse(data)))
      } catch {
        problems.push(`an event-stream event that is not JSON: ${preview(data)}`)
      }
    }
  } else if (type === 'multipart/mixed') {
    for (const part of answer.body.split(/\r\n--[^\r\n]*/)) {
      const at = part.indexOf('\r\n\r\n')
      if (at < 0) continue
      const data = part.slice(at + 4).trim()
      if (data === '') continue
      try {
        problems.push(...resultProblems(JSON.parse(data)))
      } catch {
        // A part cut off by the end of reading.
      }
    }
  }
  return problems
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })

/** Kept-alive connections the server closed between two requests, for the report (HTTP allows it; the request is sent again). */
export const connectionStats = { retried: 0 }

/**
 * Sends a case; rejects on a client-side refusal (a header Node will not send) with `skipped`.
 * A request that fails on a reused keep-alive connection is sent once more on a fresh one: a
 * server may close an idle connection at any time, and clients retry.
 */
export async function sendHttp(baseUrl: string, c: HttpCase, timeoutMs = 10_000): Promise<HttpAnswer> {
  try {
    return await sendHttpOnce(baseUrl, c, timeoutMs, agent)
  } catch (error) {
    if (!(error as { reused?: boolean }).reused) throw error
    connectionStats.retried++
    return sendHttpOnce(baseUrl, c, timeoutMs, false)
  }
}

function sendHttpOnce(baseUrl: string, c: HttpCase, timeoutMs: number, via: http.Agent | false): Promise<HttpAnswer> {
  const url = new URL(baseUrl)
  return new Promise<HttpAnswer>((resolve, reject) => {
    const headers: Record<string, string> = { ...c.headers }
    if (c.body !== undefined && !c.chunked && !('content-length' in headers)) headers['content-length'] = String(Buffer.byteLength(c.body))
    // Node chunks a body by default only for POST, PUT and PATCH; for other methods it would send
    // the bytes unframed, which the server rightly reads as a broken next request.
    if (c.body !== undefined && c.chunked) headers['transfer-encoding'] = 'chunked'
    let req: http.ClientRequest
    try {
      req = http.request({ host: url.hostname, port: url.port, method: c.method, path: c.path, headers, agent: via, setHost: true })
    } catch (error) {
      return reject(Object.assign(new Error(`skipped: ${(error as Error).message}`), { skipped: true }))
    }
    let answered = false
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`no answer within ${timeoutMs} ms`))
    }, timeoutMs)
    // Whether the whole request reached the socket: a server may answer (and close) before it
    // read a body it does not want, and the client may then see the reset before the answer.
    let flushed = false
    req.on('finish', () => (flushed = true))
    req.on('error', (error) => {
      clearTimeout(timer)
      reject(Object.assign(error, { reused: req.reusedSocket && !answered, closedEarly: !flushed && !answered }))
    })
    req.on('response', (res) => {
      answered = true
      const contentType = String(res.headers['content-type'] ?? '')
      const streaming = /text\/event-stream|multipart\/mixed/i.test(contentType)
      const chunks: Buffer[] = []
      let size = 0
      const finish = (streamed: boolean) => {
        clearTimeout(timer)
        clearTimeout(streamTimer)
        resolve({ status: res.statusCode ?? 0, contentType, body: Buffer.concat(chunks).toString('utf8'), streamed })
      }
      // A stream (a subscription over SSE) may stay open: read what comes for a moment, then hang up.
      const streamTimer = streaming
        ? setTimeout(() => {
            res.destroy()
            finish(true)
          }, 150)
        : undefined
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size <= 4 * 1024 * 1024) chunks.push(chunk)
      })
      res.on('end', () => finish(false))
      res.on('error', () => finish(streaming))
    })
    try {
      if (c.body !== undefined) req.end(c.body)
      else req.end()
    } catch (error) {
      clearTimeout(timer)
      reject(Object.assign(new Error(`skipped: ${(error as Error).message}`), { skipped: true }))
    }
  })
}

/** Sends bytes on a fresh TCP connection and returns the status line of the first answer (or none). */
export function sendRawHttp(baseUrl: string, bytes: Buffer, timeoutMs = 3_000): Promise<{ statusLine: string | undefined; text: string; closed: boolean }> {
  const url = new URL(baseUrl)
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname)
    let text = ''
    let done = false
    const finish = (closed: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const statusLine = /^HTTP\/1\.[01] \d{3}[^\r\n]*/.exec(text)?.[0]
      resolve({ statusLine, text: text.slice(0, 2_000), closed })
    }
    const timer = setTimeout(() => finish(false), timeoutMs)
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      // One full answer is enough (keep-alive would hold the connection open).
      const head = text.indexOf('\r\n\r\n')
      if (head >= 0) {
        const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head))
        if (length && text.length - head - 4 >= Number(length[1])) finish(false)
        if (/\r\ntransfer-encoding: *chunked/i.test(text.slice(0, head)) && text.endsWith('0\r\n\r\n')) finish(false)
      }
    })
    socket.on('error', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('connect', () => socket.write(bytes))
  })
}

// ---------------------------------------------------------------------------------------------
// Generators

const ACCEPTS = [
  undefined,
  '',
  'application/json',
  'application/graphql-response+json',
  'application/graphql-response+json, application/json',
  'application/json;q=0.1, application/graphql-response+json;q=0.9',
  '*/*',
  'application/*',
  'text/event-stream',
  'multipart/mixed',
  'multipart/mixed; deferSpec=20220824',
  'text/html',
  'text/plain',
  'image/png',
  ';;;,,,',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/graphql-response+json; q=0, text/event-stream',
]

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/json;;;',
  'application/graphql-response+json',
  'application/graphql',
  'text/plain',
  'text/plain;charset=UTF-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'application/octet-stream',
  '',
  '*/*',
  undefined,
]

const ORIGINS = [undefined, undefined, 'http://localhost:3000', 'null', 'https://evil.example', 'x']

/** Authorization headers: a valid token of one of the users, none, or broken ones. */
function authorizationArb(credentials: Credentials): fc.Arbitrary<string | undefined> {
  const tokens = credentials.tokens
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...tokens).map((t) => `Bearer ${t}`) },
    { weight: 3, arbitrary: fc.constant(undefined) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc.constantFrom(
          'Bearer',
          'Bearer ',
          'Bearer garbage',
          'Basic dXNlcjpwYXNz',
          'bearer x.y.z',
          'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1XzEifQ.',
          'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1XzEiLCJleHAiOjF9.bad',
          `Bearer ${'a'.repeat(8_000)}`,
          'Bearer a.b.c.d.e',
          'Bearer ....',
          'Bearer %00',
          'Bearer \u00ff\u00fe',
        ),
        fc.tuple(fc.constantFrom(...tokens), fc.nat(), fc.constantFrom('A', '_', '-', '.', '=', ' ')).map(([t, i, c]) => `Bearer ${t.slice(0, i % t.length)}${c}${t.slice((i % t.length) + 1)}`),
        fc.constantFrom(...tokens).map((t) => `${t}`),
        fc.constantFrom(...tokens).map((t) => `Bearer ${t} Bearer ${t}`),
      ),
    },
  )
}

export interface GraphQLRequestPlan {
  document: string
  variables: VariablesPlan
  operationName: number
  /** 0-5 lean POST, 6-7 POST with an Origin, 8 GET, 9 POST with an odd Accept. */
  route: number
  accept: number
  origin: number
  authorization: string | undefined
  extensions: number
  requestId: number
}

export function graphqlRequestPlanArb(fixtures: Fixtures, credentials: Credentials): fc.Arbitrary<GraphQLRequestPlan> {
  return fc.record({
    document: documentArb,
    variables: variablesPlanArb(fixtures),
    operationName: fc.nat({ max: 9 }),
    route: fc.nat({ max: 9 }),
    accept: fc.nat({ max: ACCEPTS.length - 1 }),
    origin: fc.nat({ max: ORIGINS.length - 1 }),
    authorization: authorizationArb(credentials),
    extensions: fc.nat({ max: 9 }),
    requestId: fc.nat({ max: 9 }),
  })
}

const OPERATION_NAMES = [undefined, undefined, undefined, null, '', 'Nope', 5, ['A'], '__proto__']
/** `extensions` members, as JSON text. */
const EXTENSIONS = [undefined, undefined, undefined, undefined, 'null', '{}', '{"persistedQuery":{"version":1,"sha256Hash":"abc"}}', '"x"', '[1]', '{"__proto__":{"polluted":1}}']
const REQUEST_IDS = [undefined, undefined, undefined, undefined, 'fuzz-1', '', 'a'.repeat(2_000), '../../etc/passwd', '\u00e9', 'id, other']

/** A GraphQL request over HTTP, as a client (or a hostile one) sends it, with the operation it carries. */
export function graphqlRequestCase(plan: GraphQLRequestPlan, budget: WriteBudget): HttpCase & { sent: SentOperation } {
  const document = budget.guard(plan.document)
  const names = operationNames(document)
  const chosenName = plan.operationName < 3 && names.length > 0 ? names[plan.operationName % names.length] : OPERATION_NAMES[plan.operationName]
  const variables = variablesText(plan.variables, variableNames(document))
  const members = [`"query":${json(document)}`]
  if (variables !== undefined) members.push(`"variables":${variables}`)
  if (chosenName !== undefined) members.push(`"operationName":${json(chosenName)}`)
  const extensions = EXTENSIONS[plan.extensions]
  if (extensions !== undefined) members.push(`"extensions":${extensions}`)
  const headers: Record<string, string> = {}
  if (plan.authorization !== undefined) headers.authorization = plan.authorization
  const requestId = REQUEST_IDS[plan.requestId]
  if (requestId !== undefined) headers['x-request-id'] = requestId
  if (plan.route === 8) {
    const query = new URLSearchParams({ query: document })
    if (variables !== undefined) query.set('variables', variables)
    if (typeof chosenName === 'string') query.set('operationName', chosenName)
    const accept = ACCEPTS[plan.accept]
    if (accept !== undefined) headers.accept = accept
    return { method: 'GET', path: `/graphql?${query.toString()}`, headers, sent: { document, operationName: typeof chosenName === 'string' ? chosenName : undefined } }
  }
  headers['content-type'] = 'application/json'
  if (plan.route >= 6 && plan.route <= 7) headers.origin = ORIGINS[plan.origin] ?? 'http://localhost:3000'
  const accept = plan.route === 9 ? ACCEPTS[plan.accept] : plan.route % 2 === 0 ? 'application/graphql-response+json, application/json' : undefined
  if (accept !== undefined) headers.accept = accept
  return { method: 'POST', path: '/graphql', headers, body: `{${members.join(',')}}`, sent: { document, operationName: chosenName } }
}

/** JSON bodies that are not quite GraphQL requests. */
const ODD_BODIES = [
  '',
  ' ',
  '{',
  '{"query":',
  'null',
  'true',
  '0',
  '"query"',
  '[]',
  '[{"query":"{ __typename }"}]',
  '[{"query":"{ __typename }"},{"query":"{ viewer { id } }"}]',
  '{}',
  '{"query":null}',
  '{"query":1}',
  '{"query":["{ __typename }"]}',
  '{"query":{"kind":"Document","definitions":[]}}',
  '{"query":""}',
  '{"query":" "}',
  '{"query":"{ __typename }","variables":"{}"}',
  '{"query":"{ __typename }","variables":[]}',
  '{"query":"{ __typename }","variables":1}',
  '{"query":"{ __typename }","operationName":{}}',
  '{"query":"{ __typename }","extensions":"x"}',
  '{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"x"}}}',
  '{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}',
  '{"__proto__":{"query":"{ __typename }"}}',
  '{"query":"{ __typename }","__proto__":{"variables":{"x":1}}}',
  '{"constructor":{"prototype":{"query":"{ __typename }"}}}',
  '{"query":"{ __typename }","query":"{ viewer { id } }"}',
  '{"query":"{ __typename }",}',
  "{'query':'{ __typename }'}",
  '{"query":"{ __typename }"} trailing',
  '\ufeff{"query":"{ __typename }"}',
  '{"query":"{ __typename }\\u0000"}',
  '{"query":"\\ud800"}',
  '{"query":"{ __typename }","variables":{"a":NaN}}',
  '{"query":"{ __typename }","variables":{"a":Infinity}}',
  '{"query":"query($a: Int) { feed(first: $a) { edges { cursor } } }","variables":{"a":1e999}}',
  '{"query":"query($a: Int) { feed(first: $a) { edges { cursor } } }","variables":{"a":-0}}',
  '{"query":"mutation { signUp_ { token } }"}',
  '{"query":"subscription { notifications { __typename } }"}',
  '{"query":"{ __typename }","variables":' + '{"a":'.repeat(3_000) + '1' + '}'.repeat(3_000) + '}',
  '{"query":"{ __typename }","variables":{"a":' + '['.repeat(20_000) + ']'.repeat(20_000) + '}}',
  '{"query":' + json('{ ' + '__typename '.repeat(5_000) + '}') + '}',
  '{"query":' + json('{ viewer { id } } # ' + longString(70_000, 3)) + '}',
  '{"query":' + json('{ viewer { id } } # ' + longString(65_400, 5)) + '}',
]

/** Bytes that are not UTF-8 text. */
const BINARY_BODIES = [Buffer.from([0xff, 0xfe, 0x7b, 0x00]), Buffer.from([0xc3, 0x28]), Buffer.from('{"query":"{ \xed\xa0\x80 }"}', 'latin1'), Buffer.alloc(100, 0)]

const METHODS = ['POST', 'POST', 'POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND']
const PATHS = ['/graphql', '/graphql', '/graphql', '/graphql?', '/graphql/', '/GRAPHQL', '/graphql?query=', '/graphql#x', '/graphql;x', '/graphql%00', '//graphql', '/graphql?query=%zz', '/graphql?query={__typename}&query={viewer{id}}', '/photos/c_x/01ARZ3NDEKTSV4RRFFQ69G5FAV?v=1&e=99999999999&s=abc', '/photos/%zz/x', '/healthz?x', '/readyz']

export interface EnvelopePlan {
  method: number
  path: number
  contentType: number
  accept: number
  origin: number
  body: number
  binary: boolean
  chunked: boolean
  lengthHeader: number
  authorization: string | undefined
  requestMethodHeader: boolean
}

export function envelopePlanArb(credentials: Credentials): fc.Arbitrary<EnvelopePlan> {
  return fc.record({
    method: fc.nat({ max: METHODS.length - 1 }),
    path: fc.nat({ max: PATHS.length - 1 }),
    contentType: fc.nat({ max: CONTENT_TYPES.length - 1 }),
    accept: fc.nat({ max: ACCEPTS.length - 1 }),
    origin: fc.nat({ max: ORIGINS.length - 1 }),
    body: fc.nat({ max: ODD_BODIES.length - 1 }),
    binary: fc.boolean(),
    chunked: fc.boolean(),
    lengthHeader: fc.nat({ max: 9 }),
    authorization: authorizationArb(credentials),
    requestMethodHeader: fc.boolean(),
  })
}

/** A request with an odd method, path, body, content type or Accept header. */
export function envelopeCase(plan: EnvelopePlan): HttpCase {
  const method = METHODS[plan.method]!
  const headers: Record<string, string> = {}
  const contentType = CONTENT_TYPES[plan.contentType]
  if (contentType !== undefined) headers['content-type'] = contentType
  const accept = ACCEPTS[plan.accept]
  if (accept !== undefined) headers.accept = accept
  const origin = ORIGINS[plan.origin]
  if (origin !== undefined) headers.origin = origin
  if (plan.authorization !== undefined) headers.authorization = plan.authorization
  if (plan.requestMethodHeader) headers['access-control-request-method'] = 'POST'
  const hasBody = method !== 'GET' && method !== 'HEAD'
  const body = !hasBody ? undefined : plan.binary && plan.body % 4 === 0 ? BINARY_BODIES[plan.body % BINARY_BODIES.length] : ODD_BODIES[plan.body]
  // Content-Length values Node lets a client send that do not say the body's length plainly.
  if (body !== undefined && !plan.chunked && plan.lengthHeader === 9) headers['content-length'] = `0${Buffer.byteLength(body)}`
  return { method, path: PATHS[plan.path]!, headers, body, chunked: plan.chunked && body !== undefined }
}

// Multipart (GraphQL multipart request spec) bodies, mostly broken.

const UPLOAD_QUERY = 'mutation ($chatId: ID!, $file: File!, $viewOnce: Boolean) { uploadPhoto(chatId: $chatId, file: $file, viewOnce: $viewOnce) { id } }'

const OPERATIONS_FIELDS = (chatId: string) => [
  json({ query: UPLOAD_QUERY, variables: { chatId, file: null } }),
  json({ query: UPLOAD_QUERY, variables: { chatId: 'nope', file: null, viewOnce: 'yes' } }),
  json({ query: '{ viewer { id } }' }),
  json([{ query: UPLOAD_QUERY, variables: { chatId, file: null } }]),
  '{"query":',
  'null',
  '"x"',
  json({ query: 'mutation ($f: File!) { createPost(body: $f) { id } }', variables: { f: null } }),
  json({ query: 'mutation ($f: [File!]!) { uploadPhoto(chatId: "c", file: $f) { id } }', variables: { f: [null, null] } }),
  json({ query: UPLOAD_QUERY, variables: { chatId, file: { nested: null } } }),
  '',
]

const MAPS = [
  '{"0":["variables.file"]}',
  '{"0":["variables.file"],"1":["variables.file"]}',
  '{"0":["variables.__proto__.polluted"]}',
  '{"0":["__proto__.polluted"]}',
  '{"0":["constructor.prototype.polluted"]}',
  '{"0":["variables.chatId"]}',
  '{"0":["variables.file.deep.er"]}',
  '{"0":["query"]}',
  '{"1":["variables.file"]}',
  '{"0":"variables.file"}',
  '{"0":[]}',
  '{"0":[1]}',
  '[]',
  '{}',
  'null',
  '{"0":',
  '{"0":["0.variables.f.0","0.variables.f.1"]}',
]

const FILES: Array<{ name: string; type: string; bytes: Buffer }> = [
  { name: 'a.png', type: 'image/png', bytes: Buffer.from('89504e470d0a1a0a0000000d4948445200000001', 'hex') },
  { name: 'a.jpg', type: 'image/jpeg', bytes: Buffer.from('ffd8ffe000104a464946', 'hex') },
  { name: 'a.gif', type: 'image/gif', bytes: Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1') },
  { name: 'x.txt', type: 'text/plain', bytes: Buffer.from('hello') },
  { name: '', type: '', bytes: Buffer.alloc(0) },
  { name: '../../etc/passwd', type: 'image/png', bytes: Buffer.from('<svg onload=alert(1)>') },
  { name: 'big.bin', type: 'application/octet-stream', bytes: Buffer.alloc(70_000, 7) },
]

export interface MultipartPlan {
  operations: number
  map: number
  files: number[]
  extraFields: number
  boundaryHeader: number
  cut: number
  chunked: boolean
  authorization: string | undefined
  preflight: boolean
  order: number
}

export function multipartPlanArb(credentials: Credentials): fc.Arbitrary<MultipartPlan> {
  return fc.record({
    operations: fc.nat({ max: 10 }),
    map: fc.nat({ max: MAPS.length - 1 }),
    files: fc.array(fc.nat({ max: FILES.length - 1 }), { maxLength: 3 }),
    extraFields: fc.constantFrom(0, 0, 0, 1, 9),
    boundaryHeader: fc.nat({ max: 6 }),
    cut: fc.constantFrom(0, 0, 0, 1, 10, 100, 300),
    chunked: fc.boolean(),
    authorization: authorizationArb(credentials),
    preflight: fc.boolean(),
    order: fc.nat({ max: 2 }),
  })
}

export function multipartCase(plan: MultipartPlan, chatId: string): HttpCase {
  const boundary = 'fuzzBoundary7MA4YWxkTrZu0gW'
  const field = (name: string, value: string | Buffer, file?: { name: string; type: string }) =>
    Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file.name}"\r\nContent-Type: ${file.type}` : ''}\r\n\r\n`,
      ),
      Buffer.isBuffer(value) ? value : Buffer.from(value),
      Buffer.from('\r\n'),
    ])
  const operations = OPERATIONS_FIELDS(chatId)[plan.operations % 11]!
  const parts = [field('operations', operations), field('map', MAPS[plan.map]!)]
  if (plan.order === 1) parts.reverse()
  plan.files.forEach((index, i) => {
    const file = FILES[index]!
    parts.push(field(String(i), file.bytes, file))
  })
  for (let i = 0; i < plan.extraFields; i++) parts.push(field(`extra${i}`, i === 0 && plan.order === 2 ? 'x'.repeat(70_000) : 'x'))
  let body = Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)])
  if (plan.cut > 0) body = body.subarray(0, Math.max(0, body.length - plan.cut))
  const contentType = [
    `multipart/form-data; boundary=${boundary}`,
    `multipart/form-data; boundary=${boundary}`,
    `multipart/form-data; boundary="${boundary}"`,
    'multipart/form-data',
    'multipart/form-data; boundary=other',
    `multipart/form-data; boundary=${boundary}; boundary=x`,
    `multipart/mixed; boundary=${boundary}`,
  ][plan.boundaryHeader]!
  const headers: Record<string, string> = { 'content-type': contentType }
  if (plan.authorization !== undefined) headers.authorization = plan.authorization
  if (plan.preflight) headers['graphql-require-preflight'] = '1'
  return { method: 'POST', path: '/graphql', headers, body, chunked: plan.chunked }
}

/** Requests written byte by byte on a fresh connection: broken HTTP that no client library sends. */
export const RAW_REQUESTS: readonly string[] = [
  'GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{"query":"{ __typename }"}',
  'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 26\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{"query":"{ __typename }"}',
  'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 26\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1a\r\n{"query":"{ __typename }"}\r\n0\r\n\r\n',
  'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\nConnection: close\r\n\r\n{}',
  'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1e3\r\nConnection: close\r\n\r\n{}',
  'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999\r\nConnection: close\r\n\r\n{}',
  'POST /graphql HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{"query":"{ __typename }"}',
  'HELLO\r\n\r\n',
  'GET / HTTP/1.1\r\n\r\n',
  'GET /graphql HTTP/1.1\r\nHost: x\r\nBroken header\r\nConnection: close\r\n\r\n',
  `GET /graphql HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
  `GET /graphql?query=${'%7B'.repeat(6_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: 53\r\nConnection: close\r\n\r\n{"query":"subscription { notifications { __typename } }"}',
  'GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: bad\r\n\r\n',
  'GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  'GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-transport-ws, graphql-ws, \u00ff\r\n\r\n',
  'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{"query":"{ __typename }"}POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
  'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
  'DELETE /photos/x/y?sig=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
  'GET /photos/%ff%fe/..%2f..%2fsecrets.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
]
