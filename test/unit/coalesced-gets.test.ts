import { describe, expect, it } from 'vitest'
import { BATCH_GET_MAX, CoalescedGets, type ItemReads } from '../../src/infra/dynamodb/coalesced-gets.js'

/** Reads from a map, recording every request as the ids it asked for. */
function recordingReads(stored: Map<string, string>): ItemReads<string> & { requests: string[][] } {
  const requests: string[][] = []
  return {
    requests,
    getOne: async (id) => {
      requests.push([id])
      return stored.get(id)
    },
    getBatch: async (ids) => {
      requests.push([...ids])
      return ids.map((id) => stored.get(id))
    },
  }
}

const stored = new Map(Array.from({ length: 250 }, (_, i) => [`c${i}`, `chat ${i}`]))

describe('coalesced gets (the DynamoDB store reads chats and live-chat sets through them)', () => {
  it('sends the gets of one tick as one batch, answering each caller with its own item', async () => {
    const reads = recordingReads(stored)
    const gets = new CoalescedGets(reads)
    const answers = await Promise.all([gets.get('c1'), gets.get('c2'), gets.get('nope'), gets.get('c3')])
    expect(answers).toEqual(['chat 1', 'chat 2', undefined, 'chat 3'])
    expect(reads.requests).toEqual([['c1', 'c2', 'nope', 'c3']])
  })

  it('asks for an id once when several callers want it in the same tick (BatchGetItem refuses a key twice)', async () => {
    const reads = recordingReads(stored)
    const gets = new CoalescedGets(reads)
    expect(await Promise.all([gets.get('c7'), gets.get('c8'), gets.get('c7')])).toEqual(['chat 7', 'chat 8', 'chat 7'])
    expect(reads.requests).toEqual([['c7', 'c8']])
  })

  it('reads a get alone in its tick with a single-item read', async () => {
    const reads = recordingReads(stored)
    const gets = new CoalescedGets(reads)
    expect(await gets.get('c5')).toBe('chat 5')
    expect(await gets.get('c5')).toBe('chat 5')
    expect(reads.requests).toEqual([['c5'], ['c5']])
  })

  it('splits more ids than one BatchGetItem takes, and getMany leaves the missing out, in order', async () => {
    const reads = recordingReads(stored)
    const gets = new CoalescedGets(reads)
    const ids = [...Array.from({ length: 240 }, (_, i) => `c${i}`), 'gone']
    const found = await gets.getMany(ids)
    expect(found).toHaveLength(240)
    expect(found[0]).toBe('chat 0')
    expect(found[239]).toBe('chat 239')
    expect(reads.requests.map((r) => r.length)).toEqual([BATCH_GET_MAX, BATCH_GET_MAX, 41])
  })

  it('fails every caller of a batch whose read failed, and reads afresh afterwards (nothing is cached)', async () => {
    let fail = true
    const gets = new CoalescedGets<string>({
      getOne: async (id) => stored.get(id),
      getBatch: async (ids) => {
        if (fail) throw new Error('DynamoDB left 2 keys of a BatchGetItem unprocessed')
        return ids.map((id) => stored.get(id))
      },
    })
    const failed = await Promise.allSettled([gets.get('c1'), gets.get('c2')])
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    fail = false
    expect(await Promise.all([gets.get('c1'), gets.get('c2')])).toEqual(['chat 1', 'chat 2'])
  })
})
