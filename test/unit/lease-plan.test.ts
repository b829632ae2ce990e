import { describe, expect, it } from 'vitest'
import { LeaseWatch, planShardLeases, type LeaseState } from '../../src/infra/dynamodb/lease-plan.js'
import { FakeClock } from '../support/memory/fake-clock.js'

const LEASE_MS = 15_000

const shard = (leaseName: string, fields: Partial<LeaseState> = {}): LeaseState => ({ leaseName, kind: 'shard', counter: 1, ...fields })
const names = (leases: readonly LeaseState[]) => leases.map((lease) => lease.leaseName)

/** What `me` would take of `leases`, judged by a watch that has seen them for `elapsed` ms. */
async function planAfter(leases: LeaseState[], me: string, elapsed = 0, streamShards = new Set(leases.filter((l) => l.kind === 'shard').map((l) => l.leaseName))) {
  const clock = new FakeClock()
  const watch = new LeaseWatch(() => clock.now(), LEASE_MS)
  watch.observe(leases)
  await clock.advance(elapsed)
  return planShardLeases({ leases, streamShards, me, takeable: (lease) => watch.isTakeable(lease, me) })
}

describe('lease watch', () => {
  it('calls a held lease expired only after its counter stood still for a whole lease period of the local clock', async () => {
    const clock = new FakeClock()
    const watch = new LeaseWatch(() => clock.now(), LEASE_MS)
    const held = shard('s1', { owner: 'other', counter: 5 })
    watch.observe([held])
    await clock.advance(LEASE_MS - 1)
    expect(watch.isTakeable(held, 'me')).toBe(false)
    // A heartbeat (the counter moved) restarts the period.
    const renewed = { ...held, counter: 6 }
    watch.observe([renewed])
    await clock.advance(LEASE_MS - 1)
    expect(watch.isTakeable(renewed, 'me')).toBe(false)
    await clock.advance(1)
    watch.observe([renewed])
    expect(watch.isTakeable(renewed, 'me')).toBe(true)
  })

  it('lets anyone take a free lease at once, nobody a finished one, and never calls its own lease expired', () => {
    const watch = new LeaseWatch(() => 0, LEASE_MS)
    const free = shard('free')
    const finished = shard('done', { finished: true })
    const mine = shard('mine', { owner: 'me' })
    watch.observe([free, finished, mine])
    expect(watch.isTakeable(free, 'me')).toBe(true)
    expect(watch.isTakeable(finished, 'me')).toBe(false)
    expect(watch.isTakeable(mine, 'me')).toBe(false)
  })
})

describe('shard lease plan', () => {
  it('takes every free shard when alone', async () => {
    const plan = await planAfter([shard('s1'), shard('s2'), shard('s3')], 'me')
    expect(names(plan.take)).toEqual(['s1', 's2', 's3'])
  })

  it('takes only its fair share of free shards when others hold some, and none beyond it', async () => {
    const leases = [shard('s1', { owner: 'a' }), shard('s2'), shard('s3'), shard('s4')]
    expect(names((await planAfter(leases, 'me')).take)).toEqual(['s2', 's3'])
    const settled = [shard('s1', { owner: 'a' }), shard('s2', { owner: 'me' }), shard('s3', { owner: 'me' }), shard('s4')]
    expect((await planAfter(settled, 'me')).take).toEqual([])
  })

  it('takes a dead holder’s shards after a lease period, not before', async () => {
    const leases = [shard('s1', { owner: 'dead' }), shard('s2', { owner: 'dead' })]
    // Still live as far as anyone can tell: only the fair share, one stolen lease.
    const early = await planAfter(leases, 'me', LEASE_MS - 1)
    expect(early.take).toEqual([])
    expect(early.steal?.leaseName).toBe('s1')
    const late = await planAfter(leases, 'me', LEASE_MS)
    expect(names(late.take)).toEqual(['s1', 's2'])
    expect(late.steal).toBeUndefined()
  })

  it('steals one shard a round from a holder above its fair share, and stops at balance', async () => {
    const four = ['s1', 's2', 's3', 's4'].map((name) => shard(name, { owner: 'a' }))
    const first = await planAfter(four, 'me')
    expect(first.take).toEqual([])
    expect(first.steal?.leaseName).toBe('s1')
    const balanced = [shard('s1', { owner: 'me' }), shard('s2', { owner: 'me' }), shard('s3', { owner: 'a' }), shard('s4', { owner: 'a' })]
    expect(await planAfter(balanced, 'me')).toEqual({ take: [], steal: undefined })
    // Three shards, two workers: 2 and 1 is as fair as it gets; the one with 1 does not steal.
    const odd = [shard('s1', { owner: 'a' }), shard('s2', { owner: 'a' }), shard('s3', { owner: 'me' })]
    expect(await planAfter(odd, 'me')).toEqual({ take: [], steal: undefined })
  })

  it('starts a child shard only once its parent is finished or gone from the stream', async () => {
    const parent = shard('parent', { owner: 'a' })
    const child = shard('child', { parentShardId: 'parent' })
    expect(names((await planAfter([parent, child], 'me')).take)).toEqual([])
    expect(names((await planAfter([{ ...parent, owner: undefined, finished: true }, child], 'me')).take)).toEqual(['child'])
    // Parent trimmed from the stream and its lease forgotten: the child is free to start.
    expect(names((await planAfter([child], 'me')).take)).toEqual(['child'])
    // Parent still listed by the stream but its lease not filed yet: the child waits.
    expect(names((await planAfter([child], 'me', 0, new Set(['parent', 'child']))).take)).toEqual([])
  })

  it('leaves job leases and shards the stream no longer lists out of the shard plan', async () => {
    const job: LeaseState = { leaseName: 'expiry-backstop', kind: 'job', counter: 0 }
    const plan = await planAfter([job, shard('s1'), shard('old-stream-shard')], 'me', 0, new Set(['s1']))
    expect(names(plan.take)).toEqual(['s1'])
  })
})
