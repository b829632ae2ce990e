import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ChatDocument, ChatEventsDocument, CreatePostDocument, SendMessageDocument, StartChatDocument, ViewerDocument } from './generated/graphql.js'
import { testEnv } from './support/app.js'
import { collect, mustRequest, signUp, wsClient, type TestUser } from './support/client.js'
import * as documents from './support/hostile/documents.js'
import { pollHealthz, type HealthzPoller, type HealthzReport, type HealthzSample } from './support/hostile/healthz-poller.js'
import { answerWithoutBody, GET_FITS, inParallel, postJson, send, type HttpAnswer, type HttpWay } from './support/hostile/http.js'
import { cpuMs, machineBusyMs, rssBytes } from './support/hostile/proc.js'
import { spawnInspectableServer, type InspectableServer } from './support/hostile/server.js'
import { RawSocket, type SocketAnswer } from './support/hostile/socket.js'
import { freePort, within } from './support/process.js'

/**
 * Issue 12, item 1: one limit set on every path (lean HTTP, Yoga, socket), from one
 * implementation. Each attack a hostile user found is sent over HTTP (the lean path, Yoga's path
 * through an Origin, GET where it fits, a multipart request) and over the socket. Every refusal
 * must say BAD_USER_INPUT (PAYLOAD_TOO_LARGE for size), cost under 10 ms of server CPU, and leave
 * the server's memory bounded and its /healthz fast throughout.
 *
 * The server is its own OS process (src/main.ts, as `npm run dev` runs it), so that its RSS and
 * CPU are read from /proc apart from the test runner's; its inspector (on loopback) is used only
 * to run a full garbage collection before memory is read. /healthz is polled from a worker
 * thread throughout. Limits are the defaults: 64 KiB, 1,000 tokens, depth 15, 15 aliases, 20
 * directives, cost 5,000, a 32 MiB document cache.
 */

const MAX_BYTES = 64 * 1024
/** How many requests are in flight at once: the runner and the server share 2 cores. */
const CONCURRENCY = 4
const REFUSALS = 1_000
/** The document cache's budget (the default, set explicitly): what refused documents may keep. */
const DOCUMENT_CACHE_BYTES = 32 * 2 ** 20
const MB = 2 ** 20
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`

/** What a refusal says: its code and message, per error. */
interface Refusal {
  hasData: boolean
  errors: Array<{ code: unknown; message: string }>
}

const fromHttp = (answer: HttpAnswer): Refusal => ({
  hasData: answer.json?.data !== undefined && answer.json.data !== null,
  errors: (answer.json?.errors ?? []).map((error) => ({ code: error.extensions?.code, message: error.message })),
})

const fromSocket = (answer: SocketAnswer): Refusal => ({
  hasData: answer.results.some((result) => result.data !== undefined && result.data !== null),
  errors: (answer.errors ?? answer.results.flatMap((result) => result.errors ?? [])).map((error) => ({ code: error.extensions?.code, message: error.message })),
})

/** A refusal with BAD_USER_INPUT and a first error saying `message`. */
const refusedAs = (message: RegExp) => ({
  hasData: false,
  errors: expect.arrayContaining([{ code: 'BAD_USER_INPUT', message: expect.stringMatching(message) as unknown }]) as unknown,
  firstCode: 'BAD_USER_INPUT',
})

const summary = (refusal: Refusal) => ({ hasData: refusal.hasData, errors: refusal.errors, firstCode: refusal.errors[0]?.code })

describe('hostile documents: one limit set on every path, refused cheaply, memory bounded', () => {
  let server: InspectableServer
  let base: string
  let pid: number
  let author: TestUser
  let commenter: TestUser
  let chatId: string
  let poller: HealthzPoller
  let rssBefore: number
  let heapBefore: number
  let healthz: Promise<HealthzReport> | undefined
  /** Stops the /healthz poller (once) and returns what it saw. */
  const stopPoller = () => (healthz ??= poller.stop())
  /** CPU of the machine, the server and this runner when the attacks began, to tell what else ran meanwhile. */
  let cpuAtStart: { machine: number; server: number; runner: number }
  /** Figures for the report at the end. */
  const figures: Record<string, string> = {}
  /** When each test began (Date.now()), to tell which attack a slow /healthz answer came during. */
  const phases: Array<{ name: string; at: number }> = []
  beforeEach((context) => void phases.push({ name: context.task.name, at: Date.now() }))
  const phaseAt = (time: number) => phases.findLast((phase) => phase.at <= time)?.name.slice(0, 60) ?? 'before the tests'

  beforeAll(async () => {
    const port = await freePort()
    server = spawnInspectableServer(testEnv({ PORT: String(port), LOG_LEVEL: 'warn', DOCUMENT_CACHE_BYTES: String(DOCUMENT_CACHE_BYTES) }))
    base = `http://127.0.0.1:${port}`
    pid = server.child.pid!
    await within(
      (async () => {
        for (;;) {
          if (server.child.exitCode !== null) throw new Error(`server exited\n${server.output()}`)
          const up = await fetch(`${base}/healthz`).then((response) => response.ok, () => false)
          if (up) return
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      })(),
      60_000,
      'server start',
    )
    // Tiny data: one post, one chat, one message (DynamoDB Local is slow to write).
    author = await signUp(base)
    commenter = await signUp(base)
    const { createPost } = await mustRequest(base, CreatePostDocument, { body: 'night light' }, author.token)
    chatId = (await mustRequest(base, StartChatDocument, { postId: createPost.id }, commenter.token)).startChat.id
    await mustRequest(base, SendMessageDocument, { chatId, clientMessageId: 'm1', body: 'me too' }, commenter.token)

    // Warm-up with normal requests on every path, so that RSS counts what the attacks keep,
    // not code loaded and compiled on first use.
    const viewer = 'query { viewer { id } }'
    const socket = await RawSocket.open(base, author.token)
    for (let round = 0; round < 50; round++) {
      await Promise.all([
        send(base, 'lean', author.token, viewer),
        send(base, 'yoga', author.token, viewer),
        send(base, 'get', author.token, viewer),
        send(base, 'multipart', author.token, viewer),
        socket.execute(viewer),
      ])
    }
    socket.close()
    rssBefore = await settledRss()
    heapBefore = await server.heapUsed()
    const runner = process.cpuUsage()
    cpuAtStart = { machine: machineBusyMs(), server: cpuMs(pid), runner: (runner.user + runner.system) / 1000 }
    poller = pollHealthz(base, pid, 25)
  }, 90_000)

  afterAll(async () => {
    if (!server) return
    if (poller) await stopPoller()
    if (Object.keys(figures).length > 0) console.info(`hostile documents, measured:\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`)
    server.child.kill('SIGTERM')
    await within(server.exited, 20_000, 'server exit')
  })

  /** The server's RSS once a full collection has run: what it keeps. */
  async function settledRss(): Promise<number> {
    await server.collectGarbage()
    await new Promise((resolve) => setTimeout(resolve, 500))
    await server.collectGarbage()
    await new Promise((resolve) => setTimeout(resolve, 500))
    return rssBytes(pid)
  }

  /** Each shape of attack, small enough to go every way, and what it must be refused for. */
  const shapes: Array<{ name: string; query: string; variables?: Record<string, unknown>; refusedFor: RegExp }> = [
    { name: '1,000 aliased chats { id } (19 KB)', query: documents.aliasedChats(1_000), refusedFor: /more tha[nt] 1000 tokens/ },
    { name: '100 aliased chats { id }', query: documents.aliasedChats(100), refusedFor: /Aliases limit of 15 exceeded/ },
    { name: '50 aliased __typename', query: documents.typenameAliasCount(50), refusedFor: /Aliases limit of 15 exceeded/ },
    { name: '5,000 unknown fields (about 35 KB)', query: documents.unknownFields(5_000, 40_000), refusedFor: /more tha[nt] 1000 tokens/ },
    // Past a few names the schema does not have, a document is refused before validation runs.
    { name: '900 unknown fields', query: documents.unknownFields(900, 0), refusedFor: /more than 5 names the schema does not define, such as "f0+"/ },
    { name: '3 unknown fields', query: documents.unknownFields(3, 0), refusedFor: /Cannot query field "f0+" on type "Query"/ },
    { name: '__type { ofType × 20 }', query: documents.ofTypeInline(20), refusedFor: /depth limit of 15 exceeded/ },
    { name: '__type through 20 fragments of one ofType each', query: documents.ofTypeFragments(20), refusedFor: /depth limit of 15 exceeded/ },
    {
      name: '30 fragments on Query spreading each other, then 16 ofType fragments',
      query: documents.queryFragmentChain(30, '__type(name: "Query") { ...O0 }', documents.ofTypeFragmentChain(16)),
      refusedFor: /depth limit of 15 exceeded/,
    },
    { name: '__schema { types { fields { type { fields … × 8', query: documents.schemaIntrospection(8), refusedFor: /depth limit of 15 exceeded|Maximum introspection depth exceeded/ },
    { name: 'chats(first: 100) { messages(last: 100) { photo { url } } }', query: documents.costlyPages, refusedFor: /costs 50510, over the limit of 5000/ },
    {
      name: 'the same with page sizes of 1 in variables',
      query: documents.costlyPagesByVariables,
      variables: { chats: 1, messages: 1 },
      refusedFor: /costs 50510, over the limit of 5000/,
    },
    { name: 'the same through fragments', query: documents.costlyPagesByFragments, refusedFor: /costs 50510, over the limit of 5000/ },
    { name: '25 directives on one field', query: documents.manyDirectives(25), refusedFor: /Directives limit of 20 exceeded/ },
  ]

  it('refuses every limit (tokens, aliases, depth through fragments and introspection, cost from page sizes, directives, unknown fields) with BAD_USER_INPUT and the same message on the lean path, Yoga, GET, multipart and the socket', async () => {
    const socket = await RawSocket.open(base, author.token)
    try {
      const actual: Record<string, unknown> = {}
      const expected: Record<string, unknown> = {}
      for (const shape of shapes) {
        const ways: HttpWay[] = ['lean', 'yoga', 'multipart']
        if (encodeURIComponent(shape.query).length < GET_FITS) ways.push('get')
        const messages = new Set<string>()
        for (const way of ways) {
          const refusal = fromHttp(await send(base, way, author.token, shape.query, shape.variables))
          actual[`${shape.name} | ${way}`] = summary(refusal)
          expected[`${shape.name} | ${way}`] = refusedAs(shape.refusedFor)
          messages.add(JSON.stringify(refusal.errors.map((error) => error.message)))
        }
        const refusal = fromSocket(await socket.execute(shape.query, shape.variables))
        actual[`${shape.name} | socket`] = summary(refusal)
        expected[`${shape.name} | socket`] = refusedAs(shape.refusedFor)
        messages.add(JSON.stringify(refusal.errors.map((error) => error.message)))
        // One implementation: every path says the same.
        actual[`${shape.name} | distinct answers`] = messages.size
        expected[`${shape.name} | distinct answers`] = 1
      }
      expect(actual).toEqual(expected)
    } finally {
      socket.close()
    }
  })

  it('accepts the same shapes within the limits, so the refusals above are the limits at work', async () => {
    const allowed = [
      documents.aliasedChats(15),
      documents.typenameAliasCount(15),
      documents.ofTypeInline(13),
      documents.ofTypeFragments(13),
      'query { chats(first: 5) { messages(last: 5) { photo { url } } } }',
      documents.manyDirectives(1),
    ]
    const socket = await RawSocket.open(base, author.token)
    try {
      for (const query of allowed) {
        for (const way of ['lean', 'yoga', 'get', 'multipart'] as const) {
          const answer = await send(base, way, author.token, query)
          expect({ query: query.slice(0, 60), way, errors: answer.json?.errors }).toEqual({ query: query.slice(0, 60), way, errors: undefined })
          expect(answer.json?.data).toBeTruthy()
        }
        const answer = await socket.execute(query)
        expect({ query: query.slice(0, 60), errors: answer.errors ?? answer.results[0]?.errors }).toEqual({ query: query.slice(0, 60), errors: undefined })
        expect(answer.results[0]?.data).toBeTruthy()
      }
    } finally {
      socket.close()
    }
  })

  it('refuses a 1.9 MB document by its declared size with 413 PAYLOAD_TOO_LARGE before reading any of it, on the lean path and Yoga', async () => {
    const body = JSON.stringify({ query: documents.typenameAliases(1_900_000) })
    expect(body.length).toBeGreaterThan(1_900_000)
    for (const headers of [{}, { origin: 'http://app.example' }] as Array<Record<string, string>>) {
      // Only the headers are sent: an answer that comes is one given without the body.
      const answer = await answerWithoutBody(base, Buffer.byteLength(body), { authorization: `Bearer ${author.token}`, ...headers })
      expect({ status: answer.status, code: answer.json?.errors?.[0]?.extensions?.code }).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
    }
  })

  it('closes a socket that sends a frame over 64 KiB (a 1.9 MB document) with 1009', async () => {
    const socket = await RawSocket.open(base, author.token)
    void socket.sendFrame(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: documents.typenameAliases(1_900_000) } }))
    expect((await within(socket.closed, 10_000, 'close after a large frame')).code).toBe(1009)
  })

  it('refuses a just-under-64-KiB document of __typename aliases by its tokens on the lean path, Yoga, multipart and the socket', async () => {
    // The largest document whose socket frame and JSON body still fit in 64 KiB.
    const query = documents.typenameAliases(MAX_BYTES - 200)
    expect(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }).length).toBeLessThanOrEqual(MAX_BYTES)
    expect(query.length).toBeGreaterThan(MAX_BYTES - 300)
    const answers: Record<string, unknown> = {}
    for (const way of ['lean', 'yoga', 'multipart'] as const) answers[way] = summary(fromHttp(await send(base, way, author.token, query)))
    const socket = await RawSocket.open(base, author.token)
    answers.socket = summary(fromSocket(await socket.execute(query)))
    socket.close()
    const tokens = refusedAs(/more tha[nt] 1000 tokens/)
    expect(answers).toEqual({ lean: tokens, yoga: tokens, multipart: tokens, socket: tokens })
  })

  it('refuses a document over 64 KiB in a multipart request with 413 PAYLOAD_TOO_LARGE, as in a JSON body', async () => {
    const answer = await send(base, 'multipart', author.token, documents.typenameAliases(1_900_000))
    expect({ status: answer.status, code: answer.json?.errors?.[0]?.extensions?.code }).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
  })

  it('refuses a batch (a JSON array of operations) on the lean path and Yoga without running any of it; the socket has no batch form', async () => {
    const batch = JSON.stringify([{ query: 'query { viewer { id } }' }, { query: 'query { viewer { id } }' }])
    for (const headers of [{}, { origin: 'http://app.example' }] as Array<Record<string, string>>) {
      const answer = await postJson(base, batch, { authorization: `Bearer ${author.token}`, ...headers })
      expect(Array.isArray(answer.json)).toBe(false)
      expect(answer.status).toBe(400)
      expect(answer.json?.data).toBeUndefined()
      expect(answer.json?.errors?.[0]?.message).toMatch(/batching is not supported/i)
      // A client's error, never an unexpected one.
      expect(['BAD_USER_INPUT', 'BAD_REQUEST']).toContain(answer.json?.errors?.[0]?.extensions?.code)
    }
    // graphql-transport-ws has one operation per subscribe; an array payload is not a message.
    const socket = await RawSocket.open(base, author.token)
    void socket.sendFrame(JSON.stringify({ id: '1', type: 'subscribe', payload: [{ query: 'query { viewer { id } }' }, { query: 'query { viewer { id } }' }] }))
    expect((await within(socket.closed, 10_000, 'close after an array payload')).code).toBe(4400)
  })

  /**
   * Sends `count` documents through `sendOne` (at most CONCURRENCY at once) and returns the
   * server's CPU per document, in ms, and every refusal's first code.
   */
  async function measure(count: number, sendOne: (i: number) => Promise<Refusal>): Promise<{ cpuPerRefusalMs: number; codes: Map<unknown, number>; withData: number }> {
    const codes = new Map<unknown, number>()
    let withData = 0
    const before = cpuMs(pid)
    await inParallel(count, CONCURRENCY, async (i) => {
      const refusal = await sendOne(i)
      const code = refusal.errors[0]?.code
      codes.set(code, (codes.get(code) ?? 0) + 1)
      if (refusal.hasData) withData++
    })
    return { cpuPerRefusalMs: (cpuMs(pid) - before) / count, codes, withData }
  }

  /** Distinct documents (1,000 of them), then one document sent 1,000 times, over `transport`. */
  async function distinctThenRepeated(label: string, build: (i: number) => string, sendOne: (query: string) => Promise<Refusal>, repeatedAtMost: number) {
    const distinctDocuments = Array.from({ length: REFUSALS }, (_, i) => build(i + 1))
    expect(new Set(distinctDocuments).size).toBe(REFUSALS)
    const distinct = await measure(REFUSALS, (i) => sendOne(distinctDocuments[i]!))
    const repeatedDocument = build(REFUSALS + 1)
    const repeated = await measure(REFUSALS, () => sendOne(repeatedDocument))
    figures[`${label}: server CPU per refusal, distinct`] = `${distinct.cpuPerRefusalMs.toFixed(3)} ms`
    figures[`${label}: server CPU per refusal, repeated`] = `${repeated.cpuPerRefusalMs.toFixed(3)} ms`
    expect({ distinct: Object.fromEntries(distinct.codes) as unknown, repeated: Object.fromEntries(repeated.codes) as unknown }).toEqual({
      distinct: { BAD_USER_INPUT: REFUSALS },
      repeated: { BAD_USER_INPUT: REFUSALS },
    })
    expect(distinct.withData + repeated.withData).toBe(0)
    expect(distinct.cpuPerRefusalMs).toBeLessThan(10)
    // Refused once: a repeat is answered from the cache, never parsed or validated again (and so
    // costs no more than a distinct one, give or take the measurement's resolution).
    expect(repeated.cpuPerRefusalMs).toBeLessThanOrEqual(distinct.cpuPerRefusalMs * repeatedAtMost + 0.05)
    return { distinct, repeated }
  }

  const http = (query: string) => send(base, 'lean', author.token, query).then(fromHttp)

  it('refuses 1,000 distinct invalid documents of about 35 KB (5,000 unknown fields) over HTTP in under 10 ms of server CPU each, and 1,000 repeats of one for less', { timeout: 120_000 }, async () => {
    const sample = documents.unknownFields(5_000, REFUSALS)
    expect(sample.length).toBeGreaterThan(30_000)
    expect(sample.length).toBeLessThan(40_000)
    // Parsing stops at the 1,001st token, so most of a refusal's cost is the request's: a cache hit saves the rest.
    await distinctThenRepeated('5,000 unknown fields (~35 KB), HTTP', (i) => documents.unknownFields(5_000, i), http, 1)
  })

  it('refuses 1,000 such distinct documents over the socket in under 10 ms of server CPU each, and 1,000 repeats of one for less', { timeout: 120_000 }, async () => {
    const socket = await RawSocket.open(base, author.token)
    try {
      await distinctThenRepeated('5,000 unknown fields (~35 KB), socket', (i) => documents.unknownFields(5_000, i + 10_000), (query) => socket.execute(query).then(fromSocket), 1)
    } finally {
      socket.close()
    }
  })

  it('refuses 1,000 distinct invalid documents within the token limit (900 unknown fields, refused before validation) over HTTP in under 10 ms of server CPU each, and 1,000 repeats of one for no more', { timeout: 120_000 }, async () => {
    // Parsed and validated in full, a distinct document costs several times a cache hit.
    await distinctThenRepeated('900 unknown fields, HTTP', (i) => documents.unknownFields(900, i + 20_000), http, 1)
  })

  it('refuses the same kind of 1,000 distinct documents over the socket in under 10 ms of server CPU each, and 1,000 repeats of one for no more', { timeout: 120_000 }, async () => {
    const socket = await RawSocket.open(base, author.token)
    try {
      await distinctThenRepeated('900 unknown fields, socket', (i) => documents.unknownFields(900, i + 30_000), (query) => socket.execute(query).then(fromSocket), 1)
    } finally {
      socket.close()
    }
  })

  it('answered every /healthz in under 50 ms throughout the attacks', async () => {
    const report = await stopPoller()
    const runner = process.cpuUsage()
    const machine = machineBusyMs() - cpuAtStart.machine
    const ours = cpuMs(pid) - cpuAtStart.server + (runner.user + runner.system) / 1000 - cpuAtStart.runner
    const sample = (s: HealthzSample) =>
      `${s.ms.toFixed(1)} ms at +${s.at} ms (server's loop thread ran ${s.serverRanMs.toFixed(1)} ms; ` +
      `waiting for a CPU: server's loop thread ${s.serverWaitedForCpuMs.toFixed(1)} ms, ` +
      `any server thread ${s.serverAnyThreadWaitedForCpuMs.toFixed(1)} ms, poller ${s.pollerWaitedForCpuMs.toFixed(1)} ms; ` +
      `${s.serverMajorFaults} major faults; own ${s.ownMs.toFixed(1)} ms; during "${phaseAt(s.sentAt)}…")`
    figures['/healthz'] = `${report.count} answers, max ${report.maxMs.toFixed(1)} ms, p99 ${report.p99Ms.toFixed(1)} ms; max of the server's own share ${report.maxOwnMs.toFixed(1)} ms; the poller's own worst loop delay ${report.pollerLoopDelayMaxMs.toFixed(1)} ms`
    figures['/healthz slowest'] = report.slowest.map(sample).join('; ')
    figures["/healthz slowest by the server's own share"] = report.slowestOwn.map(sample).join('; ')
    figures['machine CPU during the attacks'] = `${(machine / 1000).toFixed(1)} s busy, of which ${((machine - ours) / 1000).toFixed(1)} s by processes other than the server and this runner`
    expect(report.failures).toEqual([])
    // The attacks take tens of seconds: a poll every 25 ms gives hundreds of answers.
    expect(report.count).toBeGreaterThan(200)
    // The machine is shared (2 cores; other jobs may run), so what an answer waited for is split:
    // the server's own share is the CPU its event-loop thread used while the answer was pending
    // (refusals queued ahead of it, GC pauses), never more than the answer's time less the
    // longest wait for a CPU of a server thread or of the poller. That share must stay under
    // 50 ms. On an idle machine it is nearly the whole answer time; both are reported.
    expect(report.maxOwnMs, `slowest /healthz: ${figures["/healthz slowest by the server's own share"]}; ${figures['machine CPU during the attacks']}`).toBeLessThan(50)
  })

  it('kept the refused documents within the cache budget: heap growth under 32 MiB + 8 MiB and RSS growth under 50 MB', async () => {
    // Measured after the attacks, with the /healthz poller stopped (a forced collection pauses the server).
    await stopPoller()
    const rssRightAfter = rssBytes(pid)
    const rssGrowth = (await settledRss()) - rssBefore
    const heapGrowth = (await server.heapUsed()) - heapBefore
    figures['RSS before the attacks (after warm-up and a full GC)'] = mb(rssBefore)
    figures['RSS growth right after the attacks (before any forced GC)'] = mb(rssRightAfter - rssBefore)
    figures['RSS growth after a full GC'] = mb(rssGrowth)
    figures['V8 heap in use: growth after a full GC'] = mb(heapGrowth)
    // What the server keeps of thousands of refused documents: at most the cache's budget (an
    // estimate, so with some slack), never their ASTs.
    expect(heapGrowth).toBeLessThan(DOCUMENT_CACHE_BYTES + 8 * MB)
    expect(rssGrowth).toBeLessThan(50 * MB)
  })

  it('keeps nothing per distinct operationName sent with one cached document (500 names of 30 KB over HTTP, 500 over the socket)', { timeout: 120_000 }, async () => {
    // A valid document, checked and cached once; each request names an operation it does not have.
    const query = 'query Mine { viewer { id } }'
    const name = (i: number) => `N${i}_${'x'.repeat(30_000)}`
    const heapBeforeNames = await server.heapUsed()
    const codes = new Map<unknown, number>()
    const count = (refusal: Refusal) => {
      expect(refusal.hasData).toBe(false)
      codes.set(refusal.errors[0]?.code, (codes.get(refusal.errors[0]?.code) ?? 0) + 1)
    }
    const names = 500
    await inParallel(names, CONCURRENCY, async (i) => count(fromHttp(await send(base, 'lean', author.token, query, undefined, name(i)))))
    const socket = await RawSocket.open(base, author.token)
    try {
      await inParallel(names, CONCURRENCY, async (i) => count(fromSocket(await socket.execute(query, undefined, name(names + i)))))
    } finally {
      socket.close()
    }
    await server.collectGarbage()
    const growth = (await server.heapUsed()) - heapBeforeNames
    figures['distinct operationNames: answers'] = JSON.stringify(Object.fromEntries(codes))
    figures['distinct operationNames: V8 heap growth after a full GC'] = mb(growth)
    // Every one refused as the client's error.
    expect([...codes.keys()].filter((code) => code !== 'BAD_USER_INPUT' && code !== 'OPERATION_RESOLUTION_FAILURE')).toEqual([])
    // 1,000 names of 30 KB are 30 MB: none of it may stay (the cache is at its budget already).
    expect(growth).toBeLessThan(8 * MB)
  })

  it('logged no unexpected error through all the attacks', () => {
    const lines = server.output().split('\n')
    expect(lines.filter((line) => line.includes('unexpected error'))).toEqual([])
    expect(lines.filter((line) => line.includes('INTERNAL_SERVER_ERROR'))).toEqual([])
  })

  it('still answers a normal query and delivers a subscription (replay and live) after the attacks', async () => {
    const { chat } = await mustRequest(base, ChatDocument, { id: chatId }, author.token)
    expect(chat).toMatchObject({ id: chatId, lastSeq: 1 })
    expect((await mustRequest(base, ViewerDocument, {}, author.token)).viewer.id).toBe(author.id)
    const client = wsClient(base, author.token)
    try {
      const events = collect(client, ChatEventsDocument, { chatId, afterSeq: 0 })
      await events.until((items) => items.length >= 1)
      await mustRequest(base, SendMessageDocument, { chatId, clientMessageId: 'm2', body: 'still here' }, commenter.token)
      const items = await events.until((received) => received.some((item) => item.chatEvents.__typename === 'MessageEvent' && item.chatEvents.message.seq === 2))
      const messages = items.flatMap((item) => (item.chatEvents.__typename === 'MessageEvent' ? [{ seq: item.chatEvents.message.seq, body: item.chatEvents.message.body }] : []))
      expect(messages).toEqual([
        { seq: 1, body: 'me too' },
        { seq: 2, body: 'still here' },
      ])
      events.stop()
    } finally {
      await client.dispose()
    }
  })
})
