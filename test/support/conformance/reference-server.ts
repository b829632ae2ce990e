import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildSchema } from 'graphql'
import { useServer } from 'graphql-ws/use/ws'
import { WebSocketServer } from 'ws'

/**
 * graphql-ws's own server (`useServer` on a `ws` WebSocketServer) with a tiny schema: the
 * reference that the conformance suite must pass against, so that the suite encodes the protocol
 * and not one implementation of it.
 */

export const REFERENCE_TOKEN = 'reference-good-token'

const schema = buildSchema(`
  type Query {
    hello: String!
    "Resolves after 150 ms, so a client can complete it while it runs."
    slow: String!
    "Always fails in its resolver: an execution error."
    boom: String
  }
  type Mutation {
    echo(text: String!): String!
  }
  type Subscription {
    "Every value pushed to the topic, until the topic is ended."
    events(topic: ID!): String!
    "Refused when it starts."
    denied: String
  }
`)

/** A topic's open subscribers: each a push and an end. */
interface Listener {
  push(value: string): void
  end(): void
}

export interface ReferenceServer {
  url: string
  push(topic: string, value: string): void
  /** Ends every subscription on the topic: the server then sends `complete`. */
  end(topic: string): void
  /** Subscribers still open on the topic. */
  listeners(topic: string): number
  stop(): Promise<void>
}

export async function startReferenceServer(options: {
  connectionInitWaitTimeout: number
  keepAliveMs: number
  maxPayload: number
}): Promise<ReferenceServer> {
  const topics = new Map<string, Set<Listener>>()

  /**
   * A topic's events as an async iterator that behaves as pub/sub sources should: return() ends it
   * at once, settling a pending next() with done, so nothing is emitted after the client's complete.
   * (An async generator would instead run on to its next yield and hand out one more event.)
   */
  function events(topic: string): AsyncIterableIterator<{ events: string }> {
    const queue: string[] = []
    let ended = false
    let waiting: ((result: IteratorResult<{ events: string }>) => void) | undefined
    const set = topics.get(topic) ?? new Set<Listener>()
    topics.set(topic, set)
    const finish = (): IteratorResult<{ events: string }> => {
      ended = true
      set.delete(listener)
      const pending = waiting
      waiting = undefined
      pending?.({ value: undefined, done: true })
      return { value: undefined, done: true }
    }
    const listener: Listener = {
      push: (value) => {
        if (ended) return
        if (waiting) {
          const pending = waiting
          waiting = undefined
          pending({ value: { events: value }, done: false })
        } else queue.push(value)
      },
      end: () => void finish(),
    }
    set.add(listener)
    const iterator: AsyncIterableIterator<{ events: string }> = {
      next: async () => {
        if (queue.length > 0) return { value: { events: queue.shift()! }, done: false }
        if (ended) return { value: undefined, done: true }
        return new Promise((resolve) => (waiting = resolve))
      },
      return: async () => {
        queue.length = 0
        return finish()
      },
      throw: async (error) => {
        finish()
        throw error
      },
      [Symbol.asyncIterator]: () => iterator,
    }
    return iterator
  }

  const roots = {
    query: {
      hello: () => 'world',
      slow: () => new Promise((resolve) => setTimeout(() => resolve('late'), 150)),
      boom: () => {
        throw new Error('boom')
      },
    },
    mutation: { echo: ({ text }: { text: string }) => text },
    subscription: {
      events: ({ topic }: { topic: string }) => events(topic),
      denied: () => {
        throw new Error('denied')
      },
    },
  }

  const server = http.createServer((_req, res) => res.writeHead(404).end())
  const wsServer = new WebSocketServer({ server, path: '/graphql', maxPayload: options.maxPayload })
  const disposable = useServer(
    {
      schema,
      roots,
      connectionInitWaitTimeout: options.connectionInitWaitTimeout,
      // Refuses a missing or wrong token: graphql-ws then closes with 4403 Forbidden.
      onConnect: (ctx) => ctx.connectionParams?.authorization === `Bearer ${REFERENCE_TOKEN}`,
    },
    wsServer,
    options.keepAliveMs,
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `ws://127.0.0.1:${port}/graphql`,
    push: (topic, value) => topics.get(topic)?.forEach((listener) => listener.push(value)),
    end: (topic) => topics.get(topic)?.forEach((listener) => listener.end()),
    listeners: (topic) => topics.get(topic)?.size ?? 0,
    async stop() {
      for (const client of wsServer.clients) client.terminate()
      await disposable.dispose()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
