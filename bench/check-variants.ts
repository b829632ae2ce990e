/**
 * `node --import tsx bench/check-variants.ts`
 *
 * Checks that the bench's alternative servers (bench/servers/) answer as Hush does: it starts Hush,
 * Hush on graphql-ws's `useServer` and Hush on Yoga + @envelop/graphql-jit on one DynamoDB Local,
 * sends each the same HTTP requests and socket frames (a query, a mutation, a live event, and the
 * errors: unauthenticated, not found, syntax, validation, a document past the limits, bad
 * variables), and prints every answer that differs from Hush's (request ids aside). Exit code 1
 * when one does. Not part of `npm run bench`: run it after changing src/server or bench/servers.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { pino } from 'pino'
import { WebSocket } from 'ws'
import { launchDynamoDbLocal } from '../src/infra/dynamodb/launcher.js'
import { buildForBench, killAllChildren, startServer, type ServerProc } from './lib/procs.js'
import { TARGET_INFO, type Target } from './lib/targets.js'

const TARGETS: Target[] = ['hush', 'hush-graphql-ws', 'hush-yoga-jit']

/**
 * Differences that come with the library alternative itself, not with how the bench built it
 * (docs/decisions/0002-lean-http-path.md): @envelop/graphql-jit runs its own graphql-jit (0.8.7),
 * whose resolver errors carry no locations, and whose variable errors (GraphQLJITError, without
 * `extensions`) reach Hush's error masker, which reads `extensions.code` and fails, so Yoga answers
 * "Unexpected error." (the lean path hands such requests to Yoga's graphql-js executor instead).
 */
const KNOWN_DIFFERENCES: Partial<Record<Target, Record<string, string>>> = {
  'hush-yoga-jit': {
    'http: unauthenticated': "graphql-jit 0.8.7's errors have no locations",
    'http: not found': "graphql-jit 0.8.7's errors have no locations",
    'http: bad variables': "graphql-jit's variable errors have no extensions; Hush's masker fails on them",
    'http: missing variables': "graphql-jit's variable errors have no extensions; Hush's masker fails on them",
  },
}

interface HttpAnswer {
  status: number
  contentType: string | null
  body: unknown
}

async function post(base: string, body: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const response = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // kept as text
  }
  return { status: response.status, contentType: response.headers.get('content-type'), body: parsed }
}

/** Frames a socket received (pings answered), until `until` says the exchange is over or 3 s passed. */
async function socketExchange(
  url: string,
  init: Record<string, unknown> | undefined,
  frames: unknown[],
  until: (received: unknown[]) => boolean,
  onAck?: () => Promise<void>,
): Promise<{ received: unknown[]; closed?: { code: number; reason: string } }> {
  const ws = new WebSocket(url, 'graphql-transport-ws')
  const received: unknown[] = []
  let closed: { code: number; reason: string } | undefined
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3_000)
    ws.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString()) as { type: string }
      if (frame.type === 'ping') return void ws.send('{"type":"pong"}')
      received.push(frame)
      if (frame.type === 'connection_ack') {
        void (async () => {
          for (const f of frames) ws.send(JSON.stringify(f))
          await onAck?.()
        })()
      }
      if (until(received)) {
        clearTimeout(timer)
        resolve()
      }
    })
    ws.on('close', (code, reason) => {
      closed = { code, reason: reason.toString() }
      clearTimeout(timer)
      resolve()
    })
  })
  ws.send(JSON.stringify(init === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload: init }))
  await done
  ws.close()
  return { received, closed }
}

const completes = (n: number) => (received: unknown[]) => received.filter((f) => ['complete', 'error'].includes((f as { type: string }).type)).length >= n

/** Drops what differs by design between two runs (request ids, timestamps). */
function normalise(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) => {
      if (key === 'x-request-id' || key === 'requestId') return '<id>'
      if (key === 'retryAfterMs') return '<ms>'
      return v
    }),
  )
}

async function main(): Promise<number> {
  buildForBench()
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-check-'))
  const dynamodb = await launchDynamoDbLocal({ dataDir, logger: pino({ level: 'warn' }) })
  const env = {
    LOG_LEVEL: 'warn',
    DATA_DIR: path.join(dataDir, 'hush'),
    DYNAMODB_ENDPOINT: dynamodb.endpoint,
    DYNAMODB_TABLE: `hush-check-${randomBytes(3).toString('hex')}`,
    JWT_SECRET: randomBytes(32).toString('base64url'),
    ID_SECRET: randomBytes(32).toString('base64url'),
    RATE_LIMIT_SIGNUP: '1000/s burst 1000',
    // graphql-ws words its close reasons for production only with NODE_ENV=production.
    NODE_ENV: 'production',
  }
  const servers = new Map<Target, ServerProc>()
  try {
    for (const target of TARGETS) {
      servers.set(target, await startServer({ name: target, script: TARGET_INFO[target].script, env: { ...env, ...TARGET_INFO[target].env } }))
    }
    const hush = servers.get('hush')!
    const gql = async (token: string | undefined, query: string, variables: Record<string, unknown> = {}) => {
      const answer = await post(hush.base, JSON.stringify({ query, variables }), token ? { authorization: `Bearer ${token}` } : {})
      const body = answer.body as { data?: unknown; errors?: unknown }
      if (body.errors) throw new Error(JSON.stringify(body.errors))
      return body.data
    }
    const signUp = async () => ((await gql(undefined, 'mutation { signUp { token } }')) as { signUp: { token: string } }).signUp.token
    const author = await signUp()
    const commenter = await signUp()
    const postId = ((await gql(author, 'mutation { createPost(body: "check") { id } }')) as { createPost: { id: string } }).createPost.id
    const chatId = ((await gql(commenter, 'mutation ($p: ID!) { startChat(postId: $p) { id } }', { p: postId })) as { startChat: { id: string } }).startChat.id
    const viewerQuery = '{ viewer { id } __typename }'
    const tooDeep = `query { ${'__schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } }'} }`
    const tooManyAliases = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: __typename`).join(' ')} }`
    const auth = { authorization: `Bearer ${commenter}` }

    const httpCases: Array<{ name: string; body: string; headers?: Record<string, string> }> = [
      { name: 'query', body: JSON.stringify({ query: viewerQuery }), headers: auth },
      { name: 'mutation setTyping', body: JSON.stringify({ query: 'mutation ($c: ID!) { setTyping(chatId: $c, typing: false) }', variables: { c: chatId } }), headers: auth },
      { name: 'unauthenticated', body: JSON.stringify({ query: 'mutation ($c: ID!) { setTyping(chatId: $c, typing: false) }', variables: { c: chatId } }) },
      { name: 'not found', body: JSON.stringify({ query: 'mutation { setTyping(chatId: "nope", typing: true) }' }), headers: auth },
      { name: 'syntax error', body: JSON.stringify({ query: '{ viewer { ' }), headers: auth },
      { name: 'validation error', body: JSON.stringify({ query: '{ nosuchfield }' }), headers: auth },
      { name: 'too deep', body: JSON.stringify({ query: tooDeep }), headers: auth },
      { name: 'too many aliases', body: JSON.stringify({ query: tooManyAliases }), headers: auth },
      { name: 'bad variables', body: JSON.stringify({ query: 'mutation ($c: ID!) { setTyping(chatId: $c, typing: true) }', variables: { c: 5.5 } }), headers: auth },
      { name: 'missing variables', body: JSON.stringify({ query: 'mutation ($c: ID!) { setTyping(chatId: $c, typing: true) }' }), headers: auth },
      { name: 'named operation', body: JSON.stringify({ query: 'query A { __typename } query B { viewer { id } }', operationName: 'B' }), headers: auth },
      { name: 'graphql-response+json', body: JSON.stringify({ query: '{ __typename }' }), headers: { ...auth, accept: 'application/graphql-response+json' } },
    ]
    const socketUrl = (s: ServerProc) => `ws://127.0.0.1:${s.port}/graphql`
    const socketCases: Array<{ name: string; init?: Record<string, unknown>; frames: unknown[]; until: (r: unknown[]) => boolean; typingFromPeer?: boolean }> = [
      { name: 'bad token', init: { authorization: 'Bearer nope' }, frames: [], until: () => false },
      { name: 'no payload', frames: [], until: () => false },
      {
        name: 'query and mutation',
        init: auth,
        frames: [
          { id: '1', type: 'subscribe', payload: { query: viewerQuery } },
          { id: '2', type: 'subscribe', payload: { query: 'mutation ($c: ID!) { setTyping(chatId: $c, typing: false) }', variables: { c: chatId } } },
        ],
        until: completes(2),
      },
      ...[
        { name: 'validation error', payload: { query: '{ nosuchfield }' } },
        { name: 'too deep', payload: { query: tooDeep } },
        { name: 'not found (mutation)', payload: { query: 'mutation { setTyping(chatId: "nope", typing: true) }' } },
        { name: 'not found (subscription)', payload: { query: 'subscription { chatEvents(chatId: "nope") { __typename } }' } },
        { name: 'bad variables', payload: { query: 'mutation ($c: ID!) { setTyping(chatId: $c, typing: true) }', variables: { c: 5.5 } } },
        { name: 'missing variables', payload: { query: 'mutation ($c: ID!) { setTyping(chatId: $c, typing: true) }' } },
      ].map(({ name, payload }) => ({ name, init: auth, frames: [{ id: '1', type: 'subscribe', payload }], until: completes(1) })),
      {
        name: 'live typing event',
        init: auth,
        frames: [{ id: 's', type: 'subscribe', payload: { query: 'subscription ($c: ID!) { chatEvents(chatId: $c) { __typename ... on TypingEvent { typing } } }', variables: { c: chatId } } }],
        until: (r) => r.some((f) => JSON.stringify(f).includes('"typing":true')),
        typingFromPeer: true,
      },
    ]

    const answers = new Map<Target, Record<string, unknown>>()
    for (const target of TARGETS) {
      const server = servers.get(target)!
      const got: Record<string, unknown> = {}
      for (const c of httpCases) {
        const a = await post(server.base, c.body, c.headers)
        got[`http: ${c.name}`] = normalise(a)
      }
      for (const c of socketCases) {
        const result = await socketExchange(socketUrl(server), c.init, c.frames, c.until, async () => {
          if (!c.typingFromPeer) return
          await new Promise((resolve) => setTimeout(resolve, 300))
          await post(server.base, JSON.stringify({ query: 'mutation ($c: ID!) { setTyping(chatId: $c, typing: true) }', variables: { c: chatId } }), {
            authorization: `Bearer ${author}`,
          })
        })
        // A live stream's presence events depend on timing; only its typing event is compared.
        if (c.typingFromPeer) result.received = result.received.filter((f) => JSON.stringify(f).includes('TypingEvent') || (f as { type: string }).type === 'connection_ack')
        // Operations run side by side: each one's frames in order, not their interleaving.
        const byId: Record<string, unknown[]> = {}
        for (const f of result.received as Array<{ id?: string }>) (byId[f.id ?? '-'] ??= []).push(f)
        got[`socket: ${c.name}`] = normalise({ frames: byId, closed: result.closed })
      }
      answers.set(target, got)
    }

    let differences = 0
    let known = 0
    const reference = answers.get('hush')!
    for (const target of TARGETS.slice(1)) {
      const got = answers.get(target)!
      for (const [name, expected] of Object.entries(reference)) {
        if (isDeepStrictEqual(expected, got[name])) continue
        const why = KNOWN_DIFFERENCES[target]?.[name]
        if (why) known++
        else differences++
        console.log(
          `\n${target} differs from Hush on ${name}${why ? ` (known: ${why})` : ''}:\n  Hush: ${JSON.stringify(expected)}\n  ${target}: ${JSON.stringify(got[name])}`,
        )
      }
    }
    console.log(`\n${Object.keys(reference).length} cases on ${TARGETS.length - 1} alternatives: ${differences} unexpected differences from Hush, ${known} known ones`)
    if (process.argv.includes('--verbose')) {
      console.log(JSON.stringify(reference, null, 2))
      for (const [target, server] of servers) console.log(`\n--- ${target} said:\n${server.output().slice(-6000)}`)
    }
    return differences === 0 ? 0 : 1
  } finally {
    await Promise.all([...servers.values()].map((s) => s.stop()))
    killAllChildren()
    await dynamodb.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

process.exitCode = await main()
