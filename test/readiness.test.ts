import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ChatEventsDocument, CreatePostDocument, SendMessageDocument, StartChatDocument, type ChatEventsSubscription } from './generated/graphql.js'
import { startPeerApp, startTestApp } from './support/app.js'
import { collect, mustRequest, signUp, wsClient } from './support/client.js'
import { startRedisServer } from './support/redis-server.js'
import { freePort } from './support/process.js'

const seqsOf = (items: ChatEventsSubscription[]) => items.flatMap(({ chatEvents: e }) => (e.__typename === 'MessageEvent' ? [e.message.seq] : []))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls /readyz until it answers `status`; resolves with the time it first did. */
async function readyzTurns(url: string, status: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms
  for (;;) {
    const answer = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(ms) }).then((response) => response.status, () => 0)
    if (answer === status) return Date.now()
    if (Date.now() > deadline) throw new Error(`/readyz of ${url} did not answer ${status} within ${ms} ms (last: ${answer})`)
    await sleep(100)
  }
}

/** The close code of a socket whose subscription ends (graphql-ws hands the CloseEvent to the sink). */
const closeCodeOf = (errors: unknown[]): number | undefined => (errors[0] as { code?: number } | undefined)?.code

describe('readiness when Redis stops answering', () => {
  it('/readyz fails within 5 s; with UNREADY_CLOSE_AFTER_MS the process closes its sockets with 1013 and refuses new ones until Redis answers again; without it, it keeps them', async () => {
    const port = await freePort()
    const redis = await startRedisServer(port)
    const env = { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PREFIX: `hush-readiness:${randomUUID()}:` }
    const shedding = await startTestApp({ ...env, UNREADY_CLOSE_AFTER_MS: '2000' })
    const keeping = await startPeerApp(shedding)
    const clients: Array<ReturnType<typeof wsClient>> = []
    try {
      const author = await signUp(shedding.url)
      const commenter = await signUp(shedding.url)
      const post = (await mustRequest(shedding.url, CreatePostDocument, { body: 'readiness' }, author.token)).createPost
      const chat = (await mustRequest(shedding.url, StartChatDocument, { postId: post.id }, commenter.token)).startChat
      const send = (body: string) => mustRequest(keeping.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body }, author.token)
      clients.push(wsClient(shedding.url, commenter.token), wsClient(keeping.url, commenter.token))
      const [shed, kept] = clients.map((client) => collect(client, ChatEventsDocument, { chatId: chat.id, afterSeq: 0 }))
      await send('before')
      for (const stream of [shed!, kept!]) await stream.until((items) => seqsOf(items).length === 1)

      // Frozen, Redis keeps its connections open and answers nothing: as a firewall that drops.
      redis.kill('SIGSTOP')
      const frozenAt = Date.now()
      const unready = await Promise.all([readyzTurns(shedding.url, 503, 10_000), readyzTurns(keeping.url, 503, 10_000)])
      for (const at of unready) expect(at - frozenAt).toBeLessThan(5_000)

      await shed!.until(() => shed!.errors.length > 0, 10_000).catch(() => undefined)
      expect(closeCodeOf(shed!.errors)).toBe(1013)
      const refusedClient = wsClient(shedding.url, commenter.token)
      clients.push(refusedClient)
      const refused = collect(refusedClient, ChatEventsDocument, { chatId: chat.id, afterSeq: 1 })
      await refused.until(() => refused.errors.length > 0).catch(() => undefined)
      expect(closeCodeOf(refused.errors)).toBe(4403)
      expect(kept!.errors).toEqual([])
      expect(kept!.completed).toBe(false)

      redis.kill('SIGCONT')
      await readyzTurns(shedding.url, 200, 15_000)
      await readyzTurns(keeping.url, 200, 15_000)
      await send('after')
      await kept!.until((items) => seqsOf(items).length === 2, 15_000)
      const backClient = wsClient(shedding.url, commenter.token)
      clients.push(backClient)
      const back = collect(backClient, ChatEventsDocument, { chatId: chat.id, afterSeq: 1 })
      await back.until((items) => seqsOf(items).length === 1)
      expect(seqsOf(back.items)).toEqual([2])
    } finally {
      redis.kill('SIGCONT')
      await Promise.all(clients.map(async (client) => client.dispose()))
      await keeping.stop()
      await shedding.stop()
      redis.kill('SIGKILL')
    }
  })
})
