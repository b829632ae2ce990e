import { expect } from 'vitest'
import type { HttpAnswer, HttpCase, SentOperation } from './http.js'
import { SUBPROTOCOL, wireFrame, type SessionRecord, type SocketScript } from './socket.js'
import { deeplyNested, type Fixtures } from './values.js'

/**
 * Inputs the fuzz test found bugs with (or that it was written to reach), kept as fixed cases:
 * each runs through the same checks as the generated ones (a status under 500, known codes, no
 * "Unexpected error.", protocol closes only, no error line in the server log), plus what it says.
 */

export type Regression =
  | { kind: 'http'; name: string; build: (fixtures: Fixtures, tokens: string[]) => HttpCase & { sent?: SentOperation }; expect?: (answer: HttpAnswer) => void }
  | { kind: 'socket'; name: string; build: (fixtures: Fixtures, tokens: string[]) => SocketScript; expect?: (record: SessionRecord) => void }

const post = (query: string, variables: unknown, token: string | undefined, extra: Record<string, string> = {}): HttpCase & { sent: SentOperation } => ({
  method: 'POST',
  path: '/graphql',
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra },
  body: JSON.stringify(variables === undefined ? { query } : { query, variables }),
  sent: { document: query, operationName: undefined },
})

const subscribeScript = (query: string, variables?: unknown): SocketScript => ({
  protocols: [SUBPROTOCOL],
  authenticated: true,
  user: 0,
  together: false,
  frames: [{ kind: 'text', data: JSON.stringify({ type: 'subscribe', id: 's0', payload: variables === undefined ? { query } : { query, variables } }) }],
})

/** The operation `s0` was answered (an error, or a result), and the socket was not closed over it. */
const answeredOnOpenSocket = (record: SessionRecord) => {
  const answers = record.frames.map((f) => JSON.parse(f.text) as { id?: string; type: string }).filter((m) => m.id === 's0')
  expect(answers.map((m) => m.type)).toContainEqual(expect.stringMatching(/^(error|next)$/))
  expect(record.close).toBeUndefined()
}

const errorsOf = (answer: HttpAnswer) => (JSON.parse(answer.body) as { errors?: Array<{ message: string; extensions?: { code?: string } }> }).errors ?? []

const MISSING_VARIABLE = 'query ($id: ID!) { chat(id: $id) { id } }'
const SKIPPED_SUBSCRIPTION = 'subscription { notifications @skip(if: true) { __typename } }'
const INCLUDED_BY_VARIABLE = 'subscription ($on: Boolean!) { notifications @include(if: $on) { __typename } }'

export const REGRESSIONS: Regression[] = [
  {
    kind: 'http',
    name: 'HTTP lean path: a missing required variable is answered with a coded error (BAD_USER_INPUT), not an error without extensions.code',
    build: (_f, tokens) => post(MISSING_VARIABLE, {}, tokens[0]),
  },
  {
    kind: 'http',
    name: 'HTTP via Yoga (Origin): a missing required variable is answered with a coded error',
    build: (_f, tokens) => post(MISSING_VARIABLE, {}, tokens[0], { origin: 'http://localhost:3000' }),
  },
  {
    kind: 'http',
    name: 'HTTP: null for a non-null variable is answered with a coded error',
    build: (_f, tokens) => post('mutation ($c: ID!) { setTyping(chatId: $c, typing: true) }', { c: null }, tokens[0]),
  },
  {
    kind: 'http',
    name: 'HTTP GET: a variables parameter that is not JSON is a bad request, not "Unexpected error." (and no error log)',
    build: (_f, tokens) => ({
      method: 'GET',
      path: `/graphql?query=${encodeURIComponent(MISSING_VARIABLE)}&variables=${encodeURIComponent('{"id":00}')}`,
      headers: { authorization: `Bearer ${tokens[0]}` },
    }),
  },
  {
    kind: 'http',
    name: 'HTTP multipart: an operations field of null is a bad request, not "Unexpected error." (and no error log)',
    build: () => {
      const boundary = 'fuzzRegression'
      const body = [
        `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\nnull\r\n`,
        `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.file"]}\r\n`,
        `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.png"\r\nContent-Type: image/png\r\n\r\nx\r\n`,
        `--${boundary}--\r\n`,
      ].join('')
      return { method: 'POST', path: '/graphql', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'graphql-require-preflight': '1' }, body }
    },
  },
  {
    kind: 'http',
    name: 'HTTP multipart: a map path that is not a string is a bad request, not "Unexpected error." (and no error log)',
    build: (fixtures) => {
      const boundary = 'fuzzRegression'
      const operations = JSON.stringify({ query: 'mutation ($c: ID!, $f: File!) { uploadPhoto(chatId: $c, file: $f) { id } }', variables: { c: fixtures.chatIds[0], f: null } })
      const body = [
        `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n`,
        `--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":[1]}\r\n`,
        `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.png"\r\nContent-Type: image/png\r\n\r\nx\r\n`,
        `--${boundary}--\r\n`,
      ].join('')
      return { method: 'POST', path: '/graphql', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'graphql-require-preflight': '1' }, body }
    },
  },
  {
    kind: 'http',
    name: 'HTTP: a subscription whose only field is skipped (@skip(if: true)) gets a coded error, not "Unexpected error."',
    build: (_f, tokens) => post(SKIPPED_SUBSCRIPTION, undefined, tokens[0]),
  },
  {
    kind: 'http',
    name: 'HTTP lean path: @include(if: $variable) on a subscription field is answered under 500 (validation must not throw)',
    build: (_f, tokens) => post(INCLUDED_BY_VARIABLE, { on: true }, tokens[0]),
  },
  {
    kind: 'http',
    name: 'HTTP lean path: a validation error (an unknown field) reaches the client as such, not as OPERATION_RESOLUTION_FAILURE',
    build: (_f, tokens) => post('{ viewer { id nope } }', undefined, tokens[0]),
    expect: (answer) => {
      expect(errorsOf(answer)[0]?.message).toContain('Cannot query field "nope"')
      expect(errorsOf(answer)[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    },
  },
  {
    kind: 'http',
    name: 'HTTP via Yoga (Origin): a validation error reaches the client as such, not as OPERATION_RESOLUTION_FAILURE',
    build: (_f, tokens) => post('{ viewer { id nope } }', undefined, tokens[0], { origin: 'http://localhost:3000' }),
    expect: (answer) => {
      expect(errorsOf(answer)[0]?.message).toContain('Cannot query field "nope"')
      expect(errorsOf(answer)[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    },
  },
  {
    kind: 'socket',
    name: 'socket: a query whose required variable is missing gets a coded error and the socket stays open (not 4500)',
    build: () => subscribeScript(MISSING_VARIABLE, {}),
    expect: answeredOnOpenSocket,
  },
  {
    kind: 'socket',
    name: 'socket: a mutation with null for a non-null variable gets a coded error and the socket stays open',
    build: () => subscribeScript('mutation ($chatId: ID!, $typing: Boolean!) { setTyping(chatId: $chatId, typing: $typing) }', { chatId: null, typing: true }),
    expect: answeredOnOpenSocket,
  },
  {
    kind: 'socket',
    name: 'socket: a subscription whose only field is skipped (@skip(if: true)) gets a coded error and the socket stays open',
    build: () => subscribeScript(SKIPPED_SUBSCRIPTION),
    expect: answeredOnOpenSocket,
  },
  {
    kind: 'socket',
    name: 'socket: @include(if: $variable) on a subscription field is answered and the socket stays open',
    build: () => subscribeScript(INCLUDED_BY_VARIABLE, { on: true }),
    expect: answeredOnOpenSocket,
  },
  {
    kind: 'socket',
    name: 'socket: @include without its if argument (or with a list) on a subscription field gets a coded error and the socket stays open',
    build: () => subscribeScript('subscription { notifications @include(unless: true) { __typename } }'),
    expect: answeredOnOpenSocket,
  },
  {
    kind: 'socket',
    name: 'socket: a ping whose payload nests 5,000 objects deep (30 KB) is answered, before connection_init, without closing the socket (4500)',
    build: () => ({
      protocols: [SUBPROTOCOL],
      authenticated: false,
      user: 0,
      together: false,
      frames: [{ kind: 'text', data: `{"type":"ping","payload":${deeplyNested(5_000, 'object')}}` }],
    }),
    expect: (record) => {
      // Its pong, and the pong of the test's own ping after it.
      expect(record.frames.filter((f) => (JSON.parse(f.text) as { type: string }).type === 'pong')).toHaveLength(2)
      expect(record.close).toBeUndefined()
    },
  },
  {
    kind: 'socket',
    name: 'socket: operationName "" does not poison the document cache: the same document without operationName still runs (found by the session after the fuzz)',
    build: () => {
      const query = 'query CacheProbe { viewer { id } }'
      return {
        protocols: [SUBPROTOCOL],
        authenticated: true,
        user: 0,
        together: false,
        frames: [
          { kind: 'text', data: JSON.stringify({ type: 'subscribe', id: 's0', payload: { query, operationName: '' } }) },
          { kind: 'text', data: JSON.stringify({ type: 'subscribe', id: 's1', payload: { query } }) },
        ],
      }
    },
    expect: (record) => {
      const second = record.frames
        .map((f) => JSON.parse(f.text) as { id?: string; type: string; payload?: { data?: { viewer?: { id?: unknown } } } })
        .find((m) => m.id === 's1')
      expect(second?.type).toBe('next')
      expect(typeof second?.payload?.data?.viewer?.id).toBe('string')
    },
  },
  {
    kind: 'socket',
    name: 'socket: a frame over 64 KiB closes the socket with 1009 and logs no error',
    build: () => ({ ...subscribeScript(`{ viewer { id } } #${'x'.repeat(70_000)}`), authenticated: false }),
    expect: (record) => expect(record.close?.code).toBe(1009),
  },
  {
    kind: 'socket',
    name: 'socket: a frame with a reserved opcode closes the socket with 1002 and logs no error',
    build: () => ({ protocols: [SUBPROTOCOL], authenticated: false, user: 0, together: false, frames: [{ kind: 'wire', hex: wireFrame(Buffer.from('{"type":"ping"}'), 0x3).toString('hex') }] }),
    expect: (record) => expect(record.close?.code).toBe(1002),
  },
]
