import { print } from 'graphql'
import { createClient } from 'graphql-ws'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import WebSocket from 'ws'
import { delay, RawSocket, type Frame, type OpenOptions } from './support/conformance/raw-socket.js'
import { startHushTarget, startReferenceTarget, type Operation, type Target } from './support/conformance/targets.js'

/**
 * Conformance of the server side of the graphql-ws protocol (`graphql-transport-ws`), written from
 * graphql-ws's PROTOCOL.md (node_modules/graphql-ws/PROTOCOL.md), with raw `ws` clients that write
 * every frame themselves.
 *
 * Every case runs against two servers: graphql-ws's own `useServer` on a tiny schema (the
 * reference, which shows that the suite encodes the protocol and not one implementation of it),
 * and a real Hush server. The few cases that test Hush's own rules beyond the protocol say so in
 * their names and run against Hush only.
 */

const targets: Array<{ name: string; start: () => Promise<Target> }> = [
  { name: 'graphql-ws reference', start: startReferenceTarget },
  { name: 'Hush', start: startHushTarget },
]

interface Started {
  target: Target
  /** Opened as soon as the server is up, for the keep-alive case (Hush pings every 12 s). */
  keepAlive: { answering: RawSocket; silent: RawSocket; openedAt: number }
}

/** Both servers start at once, and their keep-alive sockets start ageing before any case runs. */
const started = new Map<string, Promise<Started>>()
beforeAll(() => {
  for (const { name, start } of targets) {
    started.set(
      name,
      (async () => {
        const target = await start()
        const answering = await RawSocket.open(target.url, { autoPong: true })
        const silent = await RawSocket.open(target.url, { autoPong: false })
        const openedAt = Date.now()
        await Promise.all([answering.init(target.goodInit), silent.init(target.goodInit)])
        return { target, keepAlive: { answering, silent, openedAt } }
      })(),
    )
  }
  // Let a failed start fail the block that awaits it, not this hook.
  for (const promise of started.values()) promise.catch(() => undefined)
})
afterAll(async () => {
  await Promise.all(
    [...started.values()].map(async (promise) => {
      const { target, keepAlive } = await promise.catch(() => ({ target: undefined, keepAlive: undefined }))
      keepAlive?.answering.close()
      keepAlive?.silent.close()
      await target?.stop()
    }),
  )
})

/** How long to watch for frames that must not come. */
const QUIET_MS = 150

const nexts = (frames: Frame[]) => frames.filter((frame) => frame.type === 'next')
const typesOf = (frames: Frame[]) => frames.map((frame) => frame.type)

describe.each(targets)('graphql-transport-ws server: $name', ({ name, start }) => {
  let target: Target
  /** Sockets opened by the running test: checked and closed after it. */
  let sockets: RawSocket[] = []
  let keepAlive: Started['keepAlive']

  const open = async (options?: OpenOptions) => {
    const socket = await RawSocket.open(target.url, options)
    sockets.push(socket)
    return socket
  }
  /** A socket past connection_init and connection_ack. */
  const connected = async () => {
    const socket = await open()
    await socket.init(target.goodInit)
    return socket
  }
  const subscribeMessage = (id: string, operation: Operation, extensions?: Record<string, unknown>) => ({
    id,
    type: 'subscribe',
    payload: { query: operation.query, variables: operation.variables, operationName: operation.operationName, extensions },
  })
  const subscribe = (socket: RawSocket, id: string, operation: Operation, extensions?: Record<string, unknown>) =>
    socket.send(subscribeMessage(id, operation, extensions))

  beforeAll(async () => {
    ;({ target, keepAlive } = await started.get(name)!)
  })
  afterEach(() => {
    const current = sockets
    sockets = []
    // Whatever else a case checks, every frame the server sent must be a valid protocol message.
    for (const socket of current) expect(socket.invalidFrames()).toEqual([])
    for (const socket of current) socket.close()
  })

  describe('connection_init and connection_ack', () => {
    it('acknowledges connection_init carrying a valid token with connection_ack, and keeps the socket past the init timeout', async () => {
      const socket = await open()
      const ack = await socket.init(target.goodInit)
      expect(ack.id).toBeUndefined()
      // payload is optional; when present it is an object.
      if (ack.payload !== undefined && ack.payload !== null) expect(typeof ack.payload).toBe('object')
      await delay(target.initTimeoutMs + 200)
      expect(socket.isOpen).toBe(true)
      await socket.roundTrip()
    })

    it('closes with 4403 Forbidden when connection_init carries no valid token (Hush rule; the reference onConnect refuses the same)', async () => {
      for (const { label, payload } of target.badInits) {
        const socket = await open()
        socket.send(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload })
        const close = await socket.waitClose()
        expect({ label, code: close.code }).toEqual({ label, code: 4403 })
        expect(typesOf(socket.frames), label).not.toContain('connection_ack')
      }
    })

    it('closes with 4408 when connection_init does not arrive within the init timeout, and ping/pong before it does not count', async () => {
      const silent = await open()
      const chatty = await open()
      const openedAt = Date.now()
      // Pings and unsolicited pongs before connection_init are answered or ignored, but no init.
      const chatter = setInterval(() => {
        if (!chatty.isOpen) return
        chatty.send({ type: 'ping' })
        chatty.send({ type: 'pong' })
      }, 50)
      try {
        const [silentClose, chattyClose] = await Promise.all([silent.waitClose(target.initTimeoutMs + 3_000), chatty.waitClose(target.initTimeoutMs + 3_000)])
        for (const close of [silentClose, chattyClose]) {
          expect(close.code).toBe(4408)
          expect(close.at - openedAt).toBeGreaterThanOrEqual(target.initTimeoutMs - 50)
        }
        expect(typesOf(chatty.frames)).toContain('pong')
        expect(typesOf(chatty.frames)).not.toContain('connection_ack')
        expect(silent.frames).toEqual([])
      } finally {
        clearInterval(chatter)
      }
    })

    it('closes with 4429 on a second connection_init after the ack', async () => {
      const socket = await connected()
      socket.send({ type: 'connection_init', payload: target.goodInit })
      expect((await socket.waitClose()).code).toBe(4429)
    })

    it('closes with 4429 on a second connection_init read together with the first', async () => {
      const socket = await open()
      socket.sendTogether({ type: 'connection_init', payload: target.goodInit }, { type: 'connection_init', payload: target.goodInit })
      expect((await socket.waitClose()).code).toBe(4429)
    })

    it('closes with 4406 Subprotocol not acceptable when the client offers no subprotocol', async () => {
      const socket = await open({ protocols: [] })
      expect((await socket.waitClose()).code).toBe(4406)
      expect(socket.frames).toEqual([])
    })

    it('never runs a socket on an unsupported subprotocol: the handshake fails or the socket closes with 4406', async () => {
      const socket = await open({ protocols: ['graphql-ws'] }).catch(() => undefined)
      let outcome = 'handshake failed'
      if (socket) {
        expect(socket.protocol).not.toBe('graphql-ws')
        socket.send({ type: 'connection_init', payload: target.goodInit })
        outcome = `closed ${(await socket.waitClose()).code}`
        expect(typesOf(socket.frames)).not.toContain('connection_ack')
      }
      expect(['handshake failed', 'closed 4406']).toContain(outcome)
    })
  })

  describe('messages before connection_init', () => {
    it('answers ping with pong and ignores pong before connection_init, then still acknowledges connection_init', async () => {
      const socket = await open()
      socket.send({ type: 'pong', payload: { unsolicited: true } })
      socket.send({ type: 'ping', payload: { early: 1 } })
      const pong = await socket.waitFor((frame) => frame.type === 'pong')
      expect(pong.payload).toEqual({ early: 1 })
      await socket.init(target.goodInit)
      expect(typesOf(socket.frames)).toEqual(['pong', 'connection_ack'])
    })

    it('closes with 4401 Unauthorized on subscribe before connection_init', async () => {
      const socket = await open()
      subscribe(socket, '1', target.query)
      expect((await socket.waitClose()).code).toBe(4401)
      expect(nexts(socket.frames)).toEqual([])
    })

    it('closes with 4401 Unauthorized on subscribe read before the connection is acknowledged', async () => {
      const socket = await open()
      socket.sendTogether(
        { type: 'connection_init', payload: target.goodInit },
        subscribeMessage('1', target.query),
      )
      expect((await socket.waitClose()).code).toBe(4401)
      expect(nexts(socket.frames)).toEqual([])
    })

    it('closes with 4400 on an invalid message before connection_init', async () => {
      const socket = await open()
      socket.send('{"type":')
      expect((await socket.waitClose()).code).toBe(4400)
    })

    it('ignores complete for an unknown id before connection_init', async () => {
      const socket = await open()
      socket.send({ id: 'nothing-yet', type: 'complete' })
      await socket.init(target.goodInit)
      expect(socket.isOpen).toBe(true)
    })
  })

  describe('ping and pong', () => {
    it('answers ping with pong, echoing a payload, and without a payload when the ping had none', async () => {
      const socket = await connected()
      socket.send({ type: 'ping', payload: { n: 1, nested: { ok: true } } })
      const echoed = await socket.waitFor((frame) => frame.type === 'pong')
      expect(echoed.payload).toEqual({ n: 1, nested: { ok: true } })
      const from = socket.frames.length
      socket.send({ type: 'ping' })
      const bare = await socket.waitFor((frame) => frame.type === 'pong', 5_000, from)
      expect(bare.payload ?? null).toBeNull()
      expect(bare.id).toBeUndefined()
    })

    it('ignores an unsolicited pong (a unidirectional heartbeat) and keeps the socket', async () => {
      const socket = await connected()
      socket.send({ type: 'pong' })
      socket.send({ type: 'pong', payload: { beat: 1 } })
      await socket.roundTrip()
      expect(typesOf(socket.frames)).toEqual(['connection_ack', 'pong'])
      expect(socket.isOpen).toBe(true)
    })
  })

  describe('single-result operations', () => {
    it('answers a query with exactly one next carrying its data, then complete', async () => {
      const socket = await connected()
      subscribe(socket, 'q1', target.query)
      expect((await socket.ended('q1')).type).toBe('complete')
      await socket.roundTrip()
      const frames = socket.framesFor('q1')
      expect(typesOf(frames)).toEqual(['next', 'complete'])
      target.query.check?.(frames[0]!.payload as { data?: unknown })
    })

    it('answers a mutation with exactly one next carrying its data, then complete', async () => {
      const socket = await connected()
      // extensions are part of the subscribe payload: a server accepts them.
      subscribe(socket, 'm1', target.mutation, { client: { name: 'conformance' } })
      expect((await socket.ended('m1')).type).toBe('complete')
      await socket.roundTrip()
      const frames = socket.framesFor('m1')
      expect(typesOf(frames)).toEqual(['next', 'complete'])
      target.mutation.check?.(frames[0]!.payload as { data?: unknown })
    })

    it('answers a validation error with one error message whose payload is an array of errors, and no next or complete', async () => {
      const socket = await connected()
      subscribe(socket, 'v1', target.invalidQuery)
      const error = await socket.ended('v1')
      expect(error.type).toBe('error')
      expect(Array.isArray(error.payload)).toBe(true)
      const errors = error.payload as Array<{ message?: unknown }>
      expect(errors.length).toBeGreaterThan(0)
      for (const e of errors) expect(typeof e.message).toBe('string')
      expect(JSON.stringify(errors)).toContain('nope')
      await delay(QUIET_MS)
      await socket.roundTrip()
      expect(typesOf(socket.framesFor('v1'))).toEqual(['error'])
      // The error ended the operation: its id is free again.
      subscribe(socket, 'v1', target.query)
      await socket.until(() => socket.framesFor('v1').length === 3)
      expect(typesOf(socket.framesFor('v1'))).toEqual(['error', 'next', 'complete'])
    })

    it('answers an execution error in a single-result operation with next carrying errors, then complete (not error)', async () => {
      const socket = await connected()
      subscribe(socket, 'x1', target.failingOperation)
      expect((await socket.ended('x1')).type).toBe('complete')
      const frames = socket.framesFor('x1')
      expect(typesOf(frames)).toEqual(['next', 'complete'])
      const payload = frames[0]!.payload as { data?: unknown; errors?: Array<{ message?: unknown; path?: unknown }> }
      expect(Array.isArray(payload.errors)).toBe(true)
      expect(payload.errors!.length).toBeGreaterThan(0)
      expect(typeof payload.errors![0]!.message).toBe('string')
      expect(payload.errors![0]!.path).toBeDefined()
      expect(payload).toHaveProperty('data')
    })

    it('sends nothing for a single-result operation that the client completed before it resolved', async () => {
      const socket = await connected()
      socket.sendTogether(
        subscribeMessage('s1', target.slowQuery),
        { id: 's1', type: 'complete' },
      )
      await delay(300)
      await socket.roundTrip()
      expect(socket.framesFor('s1')).toEqual([])
      expect(socket.isOpen).toBe(true)
    })

    it('runs the operation that operationName names in a document of several', async () => {
      const socket = await connected()
      subscribe(socket, 'named', target.namedOperation)
      expect((await socket.ended('named')).type).toBe('complete')
      const frames = socket.framesFor('named')
      expect(typesOf(frames)).toEqual(['next', 'complete'])
      target.namedOperation.check?.(frames[0]!.payload as { data?: unknown })
    })

    it('echoes any non-empty string id exactly, keeping concurrent operations apart', async () => {
      const socket = await connected()
      const ids = ['0', 'ид-🙂', 'x'.repeat(200), ' spaced id ', '{"id":1}']
      for (const id of ids) subscribe(socket, id, target.query)
      await socket.until(() => ids.every((id) => socket.framesFor(id).some((frame) => frame.type === 'complete')))
      for (const id of ids) {
        expect(typesOf(socket.framesFor(id))).toEqual(['next', 'complete'])
        target.query.check?.(socket.framesFor(id)[0]!.payload as { data?: unknown })
      }
    })

    it('frees the id of a single-result operation completed by the client: a subscribe read right after it runs once, alone', async () => {
      const socket = await connected()
      socket.sendTogether(subscribeMessage('again', target.slowQuery), { id: 'again', type: 'complete' }, subscribeMessage('again', target.query))
      await socket.waitFor((frame) => frame.id === 'again' && frame.type === 'complete')
      await delay(300)
      await socket.roundTrip()
      expect(socket.isOpen).toBe(true)
      const frames = socket.framesFor('again')
      expect(typesOf(frames)).toEqual(['next', 'complete'])
      target.query.check?.(frames[0]!.payload as { data?: unknown })
    })

    it('lets the client reuse an id once its operation has completed', async () => {
      const socket = await connected()
      for (const operation of [target.query, target.query, target.mutation]) {
        const from = socket.frames.length
        subscribe(socket, 'same', operation)
        const end = await socket.waitFor((frame) => frame.id === 'same' && (frame.type === 'complete' || frame.type === 'error'), 5_000, from)
        expect(end.type).toBe('complete')
        expect(typesOf(socket.frames.slice(from).filter((frame) => frame.id === 'same'))).toEqual(['next', 'complete'])
      }
      expect(socket.isOpen).toBe(true)
    })
  })

  describe('streaming operations (subscriptions)', () => {
    it('streams events as next messages to every subscription on the socket, interleaved by id', async () => {
      const stream = await target.stream()
      const socket = await connected()
      subscribe(socket, 'a', stream.subscribe)
      subscribe(socket, 'b', stream.subscribe)
      await stream.ready(2)
      for (const n of [1, 2, 3]) await stream.push(n)
      for (const id of ['a', 'b']) {
        await socket.until(() => [1, 2, 3].every((n) => nexts(socket.framesFor(id)).some((f) => stream.isEvent(f.payload, n))))
        const events = nexts(socket.framesFor(id)).filter((f) => [1, 2, 3].some((n) => stream.isEvent(f.payload, n)))
        expect(events.map((f) => [1, 2, 3].find((n) => stream.isEvent(f.payload, n)))).toEqual([1, 2, 3])
      }
      expect(socket.framesFor('a').every((frame) => frame.type === 'next')).toBe(true)
    })

    it("stops a subscription on the client's complete: no next for its id afterwards, while another subscription on the socket goes on", async () => {
      const stream = await target.stream()
      const socket = await connected()
      subscribe(socket, 'stopped', stream.subscribe)
      subscribe(socket, 'watcher', stream.subscribe)
      await stream.ready(2)
      await stream.push(1)
      await socket.until(() => ['stopped', 'watcher'].every((id) => nexts(socket.framesFor(id)).some((f) => stream.isEvent(f.payload, 1))))
      socket.send({ id: 'stopped', type: 'complete' })
      // After the pong, the server has handled the complete.
      await socket.roundTrip()
      const seenBefore = socket.framesFor('stopped').length
      await stream.push(2)
      await stream.push(3)
      await socket.until(() => nexts(socket.framesFor('watcher')).some((f) => stream.isEvent(f.payload, 3)))
      await delay(QUIET_MS)
      expect(socket.framesFor('stopped').length).toBe(seenBefore)
      expect(socket.framesFor('stopped').some((f) => stream.isEvent(f.payload, 2) || stream.isEvent(f.payload, 3))).toBe(false)
      // The server does not answer the client's complete with a complete of its own.
      expect(typesOf(socket.framesFor('stopped'))).not.toContain('complete')
      expect(socket.isOpen).toBe(true)
    })

    it('sends complete once the source ends (in Hush: a ChatClosedEvent ends chatEvents), and nothing for the id after it', async () => {
      const stream = await target.stream({ ending: true })
      const socket = await connected()
      subscribe(socket, 'ends', stream.subscribe)
      await stream.ready(1)
      await stream.push(1)
      await socket.until(() => nexts(socket.framesFor('ends')).some((f) => stream.isEvent(f.payload, 1)))
      await stream.end()
      const end = await socket.ended('ends')
      expect(end.type).toBe('complete')
      await delay(QUIET_MS)
      await socket.roundTrip()
      const frames = socket.framesFor('ends')
      expect(frames.at(-1)?.type).toBe('complete')
      expect(typesOf(frames.slice(0, -1)).every((type) => type === 'next')).toBe(true)
      stream.checkEnd(nexts(frames).map((frame) => frame.payload))
      // The completed id is free again.
      const from = socket.frames.length
      subscribe(socket, 'ends', target.query)
      await socket.waitFor((frame) => frame.id === 'ends' && frame.type === 'complete', 5_000, from)
      expect(socket.isOpen).toBe(true)
    })

    it("frees a subscription's id on the client's complete: the id can be subscribed again", async () => {
      const stream = await target.stream()
      const socket = await connected()
      subscribe(socket, 'reused', stream.subscribe)
      await stream.ready(1)
      await stream.push(1)
      await socket.until(() => nexts(socket.framesFor('reused')).some((f) => stream.isEvent(f.payload, 1)))
      socket.send({ id: 'reused', type: 'complete' })
      await socket.roundTrip()
      const from = socket.frames.length
      subscribe(socket, 'reused', target.query)
      await socket.waitFor((frame) => frame.id === 'reused' && frame.type !== 'next', 5_000, from)
      await delay(QUIET_MS)
      await socket.roundTrip()
      expect(socket.isOpen).toBe(true)
      const after = socket.frames.slice(from).filter((frame) => frame.id === 'reused')
      expect(typesOf(after)).toEqual(['next', 'complete'])
      target.query.check?.(after[0]!.payload as { data?: unknown })
    })

    it('ends a subscription that cannot start with one error, or one next carrying errors then complete, and frees its id', async () => {
      const socket = await connected()
      subscribe(socket, 'refused', target.refusedSubscription)
      const end = await socket.ended('refused')
      await delay(QUIET_MS)
      await socket.roundTrip()
      const frames = socket.framesFor('refused')
      if (end.type === 'error') {
        expect(typesOf(frames)).toEqual(['error'])
        expect((end.payload as unknown[]).length).toBeGreaterThan(0)
      } else {
        expect(typesOf(frames)).toEqual(['next', 'complete'])
        const payload = frames[0]!.payload as { errors?: unknown[] }
        expect(payload.errors?.length).toBeGreaterThan(0)
      }
      subscribe(socket, 'refused', target.query)
      await socket.until(() => socket.framesFor('refused').length === frames.length + 2)
      expect(typesOf(socket.framesFor('refused').slice(frames.length))).toEqual(['next', 'complete'])
    })

    it('ignores complete for an unknown id and a repeated complete for an operation that already completed', async () => {
      const socket = await connected()
      socket.send({ id: 'never-subscribed', type: 'complete' })
      subscribe(socket, 'done', target.query)
      await socket.ended('done')
      socket.send({ id: 'done', type: 'complete' })
      socket.send({ id: 'done', type: 'complete' })
      await socket.roundTrip()
      expect(socket.isOpen).toBe(true)
      expect(socket.framesFor('never-subscribed')).toEqual([])
      subscribe(socket, 'after', target.query)
      expect((await socket.ended('after')).type).toBe('complete')
    })

    it('closes with 4409 when a subscribe reuses the id of an active subscription', async () => {
      const stream = await target.stream()
      const socket = await connected()
      subscribe(socket, 'dup', stream.subscribe)
      await stream.ready(1)
      await stream.push(1)
      await socket.until(() => nexts(socket.framesFor('dup')).some((f) => stream.isEvent(f.payload, 1)))
      subscribe(socket, 'dup', target.query)
      const close = await socket.waitClose()
      expect(close.code).toBe(4409)
      expect(close.reason).toContain('dup')
    })

    it('closes with 4409 when a subscribe reuses the id of a single-result operation still running', async () => {
      const socket = await connected()
      socket.sendTogether(subscribeMessage('busy', target.slowQuery), subscribeMessage('busy', target.slowQuery))
      expect((await socket.waitClose()).code).toBe(4409)
    })
  })

  describe('invalid messages', () => {
    const invalid: Array<[string, string]> = [
      ['a frame that is not JSON', 'not json'],
      ['JSON that is not an object', '[1,2]'],
      ['a message without a type', JSON.stringify({ payload: {} })],
      ['a message of an unknown type', JSON.stringify({ type: 'start', id: '1', payload: { query: '{ __typename }' } })],
      ['a subscribe without an id', JSON.stringify({ type: 'subscribe', payload: { query: '{ __typename }' } })],
      ['a subscribe without a query', JSON.stringify({ type: 'subscribe', id: '1', payload: {} })],
      ['a complete without an id', JSON.stringify({ type: 'complete' })],
      ['a ping whose payload is not an object', JSON.stringify({ type: 'ping', payload: 'x' })],
    ]
    it.each(invalid)('closes with 4400 Bad Request on %s after the ack', async (_label, text) => {
      const socket = await connected()
      socket.send(text)
      const close = await socket.waitClose()
      expect(close.code).toBe(4400)
    })
  })

  describe('frame size', () => {
    it('reads a frame exactly at the maximum frame size and closes with 1009 on one a byte over (Hush MAX_FRAME_BYTES; the reference has the same limit from ws maxPayload)', async () => {
      const socket = await connected()
      const frameOf = (bytes: number) => {
        const skeleton = JSON.stringify({ type: 'ping', payload: { pad: '' } })
        return JSON.stringify({ type: 'ping', payload: { pad: 'x'.repeat(bytes - skeleton.length) } })
      }
      const atLimit = frameOf(target.maxFrameBytes)
      expect(Buffer.byteLength(atLimit)).toBe(target.maxFrameBytes)
      socket.send(atLimit)
      const pong = await socket.waitFor((frame) => frame.type === 'pong')
      expect((pong.payload as { pad: string }).pad.length).toBe(atLimit.length - JSON.stringify({ type: 'ping', payload: { pad: '' } }).length)

      // graphql-ws's useServer logs ws's "Max payload size exceeded" with console.error: expected here.
      const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
      try {
        socket.send(frameOf(target.maxFrameBytes + 1))
        expect((await socket.waitClose()).code).toBe(1009)
      } finally {
        consoleError.mockRestore()
      }
    })
  })

  if (start === startHushTarget) {
    describe('Hush only (graphql-ws useServer differs here, or lacks the feature)', () => {
      it('closes with 4400 when the client sends a server-to-client message type (next, error, connection_ack) (Hush only: graphql-ws useServer closes these with 4500)', async () => {
        const messages = [
          { id: '1', type: 'next', payload: { data: { x: 1 } } },
          { id: '1', type: 'error', payload: [{ message: 'x' }] },
          { type: 'connection_ack' },
        ]
        for (const message of messages) {
          const socket = await connected()
          socket.send(message)
          const close = await socket.waitClose()
          expect({ type: message.type, code: close.code }).toEqual({ type: message.type, code: 4400 })
        }
      })

      it("frees a subscription's id at once on the client's complete: a subscribe with that id read in the same chunk runs alone, with no stray complete (Hush only: graphql-ws 6.4.2 useServer sends the old operation's complete for it)", async () => {
        const stream = await target.stream()
        const socket = await connected()
        subscribe(socket, 'reused', stream.subscribe)
        await stream.ready(1)
        await stream.push(1)
        await socket.until(() => nexts(socket.framesFor('reused')).some((f) => stream.isEvent(f.payload, 1)))
        const from = socket.frames.length
        socket.sendTogether({ id: 'reused', type: 'complete' }, subscribeMessage('reused', target.query))
        await socket.waitFor((frame) => frame.id === 'reused' && frame.type !== 'next', 5_000, from)
        await delay(QUIET_MS)
        await socket.roundTrip()
        expect(socket.isOpen).toBe(true)
        const after = socket.frames.slice(from).filter((frame) => frame.id === 'reused')
        expect(typesOf(after)).toEqual(['next', 'complete'])
        target.query.check?.(after[0]!.payload as { data?: unknown })
      })

      it('cuts off a client that stops reading while events pile up with 1013 "try again later" (Hush only: a slow-consumer rule, not in the protocol)', async () => {
        const hush = target.hush!
        const chatId = await hush.newChat()
        const socket = await connected()
        socket.send({ id: 'slow', type: 'subscribe', payload: { query: print(hush.chatEvents), variables: { chatId, afterSeq: 0 } } })
        await hush.send(chatId, 'before the stall')
        await socket.until(() => socket.framesFor('slow').some((frame) => JSON.stringify(frame.payload).includes('before the stall')))

        // The client stops reading its TCP socket. Loopback buffers hold about 4 MB on Linux before
        // the server sees any backpressure, so the flood must be well past that plus whatever the
        // server lets one socket leave unread (HUSH_ENV: 4 events, or a 16 KiB budget).
        socket.pauseReading()
        const stalledAt = Date.now()
        const STALL_BYTES = 7.5 * 1024 * 1024
        const { maxMessageLength, maxFrameBytes } = hush.app.config.limits
        // A message body that keeps the sendMessage request within the largest request Hush reads.
        const body = 'x'.repeat(Math.min(maxMessageLength, maxFrameBytes - 4_096))
        const MESSAGES = Math.ceil(STALL_BYTES / body.length)
        for (let i = 0; i < MESSAGES; i += 6) {
          await Promise.all(Array.from({ length: Math.min(6, MESSAGES - i) }, () => hush.send(chatId, body)))
        }

        // Reading again, the client finds what was written before the cut, then the close frame.
        socket.resumeReading()
        const close = await socket.waitClose(15_000)
        expect(close.code).toBe(1013)
        expect(close.at - stalledAt).toBeLessThan(30_000)
        const delivered = nexts(socket.framesFor('slow')).filter((frame) => JSON.stringify(frame.payload).includes('xxxxxxxxxx'))
        expect(delivered.length).toBeLessThan(MESSAGES)
      }, 45_000)
    })
  }

  describe("with graphql-ws's own client", () => {
    it('interoperates with createClient: a query result, then live events until the client unsubscribes', async () => {
      const client = createClient({ url: target.url, webSocketImpl: WebSocket, connectionParams: target.goodInit, retryAttempts: 0, lazy: true })
      try {
        const result = await new Promise<unknown>((resolve, reject) => {
          let value: unknown
          client.subscribe(
            { query: target.query.query, variables: target.query.variables },
            { next: (v) => (value = v), error: reject, complete: () => resolve(value) },
          )
        })
        target.query.check?.(result as { data?: unknown })

        const stream = await target.stream()
        const received: unknown[] = []
        const errors: unknown[] = []
        const unsubscribe = client.subscribe(
          { query: stream.subscribe.query, variables: stream.subscribe.variables },
          { next: (v) => received.push(v), error: (e) => errors.push(e), complete: () => {} },
        )
        await stream.ready(1)
        await stream.push(1)
        const deadline = Date.now() + 5_000
        while (!received.some((v) => stream.isEvent(v, 1))) {
          if (errors.length > 0 || Date.now() > deadline) throw new Error(`no event: ${JSON.stringify({ received, errors })}`)
          await delay(10)
        }
        unsubscribe()
        expect(errors).toEqual([])
      } finally {
        await client.dispose()
      }
    })
  })

  describe('keep-alive', () => {
    it("keeps a socket that answers the server's WebSocket pings with pongs, while one that does not answer is dropped", async () => {
      const { answering, silent, openedAt } = keepAlive
      // The server pings each socket once per interval and drops one whose previous ping went
      // unanswered: within about two intervals of opening.
      const bound = openedAt + 2 * target.keepAliveMs + 6_000 - Date.now()
      await silent.waitClose(Math.max(bound, 1_000))
      expect(silent.pings).toBeGreaterThanOrEqual(1)
      expect(answering.pings).toBeGreaterThanOrEqual(1)
      expect(answering.isOpen).toBe(true)
      await answering.roundTrip()
      expect(answering.invalidFrames()).toEqual([])
    }, 45_000)
  })
})
