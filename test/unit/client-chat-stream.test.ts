import type { FormattedExecutionResult, Sink } from 'graphql-ws/client'
import { describe, expect, it } from 'vitest'
import { chatStream, type ChatStream, type HushClient } from '../../client/src/index.js'

/**
 * The client package's chat stream against a scripted socket: the server never sends a duplicate
 * or skips a seq in the integration tests, so what the stream does with them is proven here.
 */
class ScriptedClient {
  readonly subscriptions: Array<{ afterSeq: number; sink: Sink<FormattedExecutionResult<unknown>>; open: boolean }> = []
  disposed = false
  readonly socket = { on: () => () => {} }
  readonly retryWait = () => Promise.resolve()

  subscribe(_document: unknown, variables: { afterSeq: number }, sink: Sink<FormattedExecutionResult<unknown>>): () => void {
    const subscription = { afterSeq: variables.afterSeq, sink, open: true }
    this.subscriptions.push(subscription)
    return () => (subscription.open = false)
  }

  /** A message event of `seq` on the latest subscription. */
  message(seq: number): void {
    const { sink } = this.subscriptions.at(-1)!
    sink.next({ data: { chatEvents: { __typename: 'MessageEvent', chatId: 'c', message: { id: `m${seq}`, seq, body: `#${seq}`, fromMe: false, clientMessageId: `m${seq}` } } } })
  }

  asClient(): HushClient {
    return this as unknown as HushClient
  }
}

const seqsOf = async (stream: ChatStream, count: number) => {
  const seqs: number[] = []
  while (seqs.length < count) {
    const next = await stream.next()
    if (next.done) break
    if (next.value.__typename === 'MessageEvent') seqs.push(next.value.message.seq)
  }
  return seqs
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('chatStream (client package)', () => {
  it('drops messages at or below the last seq it took: a replay overlap yields nothing twice', async () => {
    const client = new ScriptedClient()
    const stream = chatStream(client.asClient(), 'c', { afterSeq: 0 })
    await settle()
    for (const seq of [1, 2, 2, 1, 3]) client.message(seq)
    expect(await seqsOf(stream, 3)).toEqual([1, 2, 3])
    expect(stream.lastSeq).toBe(3)
    expect(client.subscriptions).toHaveLength(1)
    await stream.return?.()
  })

  it('never yields past a gap: it resubscribes from the last seq it took and takes the replay in order', async () => {
    const client = new ScriptedClient()
    const stream = chatStream(client.asClient(), 'c', { afterSeq: 4 })
    await settle()
    expect(client.subscriptions.map((s) => s.afterSeq)).toEqual([4])
    client.message(5)
    client.message(7)
    await settle()
    // The gapped subscription is dropped, a new one asks for everything after 5.
    expect(client.subscriptions.map((s) => [s.afterSeq, s.open])).toEqual([
      [4, false],
      [5, true],
    ])
    for (const seq of [6, 7, 8]) client.message(seq)
    expect(await seqsOf(stream, 4)).toEqual([5, 6, 7, 8])
    await stream.return?.()
  })
})
