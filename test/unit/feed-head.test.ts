import { describe, expect, it } from 'vitest'
import { FEED_HEAD_SIZE, FeedHead, type HeadSnapshot } from '../../src/infra/dynamodb/feed-head.js'

/** A head over a list of ids (newest first) that counts its loads, on a clock the test moves. */
function headOver(ids: string[]) {
  let now = 1_000
  const loads: number[] = []
  const load = async (size: number): Promise<HeadSnapshot<string>> => {
    loads.push(size)
    const newest = [...ids].sort().reverse()
    return { items: newest.slice(0, size), more: newest.length > size }
  }
  const head = new FeedHead(load, (id) => id, () => now, 1000)
  return { head, loads, ids, tick: (ms: number) => (now += ms) }
}

const id = (n: number) => `P${String(n).padStart(5, '0')}`

describe('the head of the feed', () => {
  it('serves every first page of a second from one read, then reads again', async () => {
    const feed = headOver([id(1), id(2), id(3)])
    const pages = await Promise.all([feed.head.firstPage(2), feed.head.firstPage(3), feed.head.firstPage(1)])
    expect(pages).toEqual([
      { items: [id(3), id(2)], more: true },
      { items: [id(3), id(2), id(1)], more: false },
      { items: [id(3)], more: true },
    ])
    feed.ids.push(id(4))
    feed.tick(999)
    expect((await feed.head.firstPage(1)).items).toEqual([id(3)])
    expect(feed.loads).toEqual([FEED_HEAD_SIZE])
    feed.tick(1)
    expect((await feed.head.firstPage(1)).items).toEqual([id(4)])
    expect(feed.loads).toHaveLength(2)
  })

  it("shows this process's own new post at once, even on a snapshot read before it", async () => {
    const feed = headOver([id(1)])
    await feed.head.firstPage(10)
    feed.ids.push(id(2))
    feed.head.added(id(2))
    expect(await feed.head.firstPage(10)).toEqual({ items: [id(2), id(1)], more: false })
    expect(feed.loads).toHaveLength(1)
  })

  it('says more follow when its own posts push older ones out of a full head', async () => {
    const feed = headOver(Array.from({ length: FEED_HEAD_SIZE }, (_, n) => id(n)))
    const full = await feed.head.firstPage(FEED_HEAD_SIZE)
    expect(full.more).toBe(false)
    feed.head.added(id(50_000))
    const page = await feed.head.firstPage(FEED_HEAD_SIZE)
    expect(page.items[0]).toBe(id(50_000))
    expect(page.items).toHaveLength(FEED_HEAD_SIZE)
    expect(page.more).toBe(true)
  })
})
