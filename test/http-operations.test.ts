import { Writable } from 'node:stream'
import type { FormattedExecutionResult } from 'graphql'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp, type App } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { testEnv } from './support/app.js'
import { signUp } from './support/client.js'

interface Answer {
  status: number
  contentType: string | null
  requestId: string | null
  body: string
  engine: string | undefined
}

/**
 * The lean HTTP path (JSON POSTs run by graphql-jit) against Yoga, request for request: the same
 * request is sent without an Origin (the lean path's) and with one (which only Yoga serves), and
 * both answers must match in status, content type and body. The request log tells which engine
 * answered, so a case meant for the lean path cannot pass by falling through to Yoga.
 */
describe('HTTP: lean path and Yoga answer alike', () => {
  let app: App
  let url: string
  let token: string
  const logLines: Array<{ msg?: string; requestId?: string; engine?: string }> = []

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as (typeof logLines)[number])
        done()
      },
    })
    app = createApp(loadConfig(testEnv()), pino({ level: 'info' }, sink))
    url = (await app.start()).url
    token = (await signUp(url)).token
  })
  afterAll(() => app.stop())

  let sent = 0
  async function post(body: string, headers: Record<string, string> = {}): Promise<Answer> {
    const requestId = `http-ops-${++sent}`
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
      body,
    })
    const text = await response.text()
    // The log line is written as the answer goes out; give the stream a turn.
    await new Promise((resolve) => setImmediate(resolve))
    const engine = logLines.find((line) => line.msg === 'http request' && line.requestId === requestId)?.engine
    return { status: response.status, contentType: response.headers.get('content-type'), requestId: response.headers.get('x-request-id'), body: text, engine }
  }

  async function both(body: unknown, headers: Record<string, string> = {}): Promise<{ lean: Answer; yoga: Answer }> {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    const lean = await post(text, headers)
    const yoga = await post(text, { ...headers, origin: 'http://app.example' })
    expect(yoga.engine).toBe('yoga')
    expect({ status: lean.status, contentType: lean.contentType, body: lean.body }).toEqual({
      status: yoga.status,
      contentType: yoga.contentType,
      body: yoga.body,
    })
    expect(lean.requestId).toMatch(/^http-ops-/)
    return { lean, yoga }
  }
  const auth = () => ({ authorization: `Bearer ${token}` })
  /** The GraphQL answer in an HTTP answer's body. */
  const resultOf = (answer: Answer) => JSON.parse(answer.body) as FormattedExecutionResult

  it('runs a query on the lean path, with the answer Yoga gives', async () => {
    const { lean } = await both({ query: 'query { viewer { __typename } }' }, auth())
    expect(lean.engine).toBe('jit')
    expect(JSON.parse(lean.body)).toEqual({ data: { viewer: { __typename: 'Viewer' } } })
  })

  it('answers a domain error with its code and location, as Yoga does', async () => {
    const { lean } = await both({
      query: 'mutation Send($chatId: ID!) { sendMessage(chatId: $chatId, clientMessageId: "c1", body: "hi") { seq } }',
      variables: { chatId: 'no-such-chat' },
      operationName: 'Send',
    }, auth())
    expect(lean.engine).toBe('jit')
    const answer = resultOf(lean)
    expect(answer.data).toBeNull()
    expect(answer.errors?.[0]?.extensions).toEqual({ code: 'NOT_FOUND' })
    expect(answer.errors?.[0]?.locations).toEqual([{ line: 1, column: 31 }])
  })

  it('answers without a token as Yoga does (UNAUTHENTICATED)', async () => {
    const { lean } = await both({ query: 'query { viewer { __typename } }' })
    expect(lean.engine).toBe('jit')
    expect(resultOf(lean).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
  })

  it('picks the response type Yoga picks from Accept', async () => {
    const query = { query: 'query { viewer { __typename } }' }
    for (const [accept, type] of [
      ['application/graphql-response+json, application/json;q=0.9', 'application/graphql-response+json; charset=utf-8'],
      ['application/json, application/graphql-response+json', 'application/json; charset=utf-8'],
      ['*/*', 'application/json; charset=utf-8'],
    ] as const) {
      const { lean } = await both(query, { ...auth(), accept })
      expect(lean.engine).toBe('jit')
      expect(lean.contentType).toBe(type)
    }
    // Nothing it can answer with: Yoga's 406.
    const { lean } = await both(query, { ...auth(), accept: 'text/html' })
    expect(lean.status).toBe(406)
  })

  it('answers a refused document itself, as Yoga does: syntax, validation, limits, an operation it lacks, with either response type', async () => {
    const refused: unknown[] = [
      { query: 'query { viewer ' },
      { query: 'query { viewer { nope } }' },
      { query: `query { ${Array.from({ length: 20 }, (_, i) => `a${i}: viewer { id }`).join(' ')} }` },
      { query: 'query Q { viewer { id } }', operationName: 'Z' },
    ]
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      for (const body of refused) {
        const { lean } = await both(body, { ...auth(), accept })
        expect(lean.engine).toBe('jit')
        expect(resultOf(lean).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
      }
    }
  })

  it('leaves every other request error to Yoga: bad JSON, variables, batches, subscriptions', async () => {
    const cases: unknown[] = [
      '{"query":',
      { query: 'mutation S($b: String!) { sendMessage(chatId: "c", clientMessageId: "x", body: $b) { seq } }', variables: { b: { not: 'a string' } } },
      { query: 'mutation S($b: String!) { sendMessage(chatId: "c", clientMessageId: "x", body: $b) { seq } }' },
      [{ query: 'query { __typename }' }],
    ]
    for (const body of cases) {
      const { lean } = await both(body, auth())
      expect(lean.engine).toBe('yoga')
      expect(resultOf(lean).errors?.length).toBeGreaterThan(0)
    }
    // A subscription over HTTP is Yoga's too (without a token it ends at once).
    const { lean } = await both({ query: 'subscription { notifications { __typename } }' })
    expect(lean.engine).toBe('yoga')
    expect(resultOf(lean).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
  })
})
