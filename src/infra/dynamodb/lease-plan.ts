/**
 * The pure part of the leases that keep the expiry path's background work to one reader per
 * stream shard and one backstop runner (lease-store.ts writes them, expiry-cascade.ts and
 * leased-job.ts hold them). Modelled on the Kinesis Client Library's leases, kept simple: the KCL
 * itself is a Java daemon (its Node package `aws-kcl` drives that daemon, for Kinesis) and no
 * maintained npm library leases DynamoDB Streams shards, hence this hand-written version.
 */

export interface LeaseState {
  leaseName: string
  kind: 'shard' | 'job'
  /** Absent while nobody holds it. */
  owner?: string
  /** Raised by every write of the lease, the holder's heartbeats included. */
  counter: number
  checkpoint?: string
  parentShardId?: string
  finished?: boolean
}

/**
 * Tells a lease whose holder died from a held one without comparing clocks across hosts (as the
 * KCL does): a lease is expired when its counter has not moved for a whole lease period of this
 * process's own clock. Holders renew three times a period, so a live holder always moves it.
 */
export class LeaseWatch {
  private readonly seen = new Map<string, { counter: number; since: number }>()

  constructor(
    private readonly now: () => number,
    private readonly leaseMs: number,
  ) {}

  /** Records a listing of the leases; the first sighting of a counter starts its clock. */
  observe(leases: readonly LeaseState[]): void {
    const at = this.now()
    const names = new Set<string>()
    for (const lease of leases) {
      names.add(lease.leaseName)
      const before = this.seen.get(lease.leaseName)
      if (before?.counter !== lease.counter) this.seen.set(lease.leaseName, { counter: lease.counter, since: at })
    }
    for (const name of this.seen.keys()) if (!names.has(name)) this.seen.delete(name)
  }

  /** `me` may take it: nobody holds it, or its holder (not `me`) let a whole period pass. */
  isTakeable(lease: LeaseState, me: string): boolean {
    if (lease.finished) return false
    if (lease.owner === undefined) return true
    if (lease.owner === me) return false
    const seen = this.seen.get(lease.leaseName)
    return seen?.counter === lease.counter && this.now() - seen.since >= this.leaseMs
  }
}

export interface ShardPlan {
  /** Free or expired leases to take now (conditional on the counter seen). */
  take: LeaseState[]
  /** At most one live lease to take from the busiest holder, when nothing is free. */
  steal: LeaseState | undefined
}

/**
 * Which shard leases `me` should take: up to its fair share, ceil(open shards / live workers),
 * where the live workers are the holders of live leases and `me`. Free and expired leases first;
 * otherwise one lease a round from a holder above the fair share (stealing one at a time keeps
 * the fleet from thrashing). A shard opens when its parent is finished, or gone from the stream.
 */
export function planShardLeases(input: {
  leases: readonly LeaseState[]
  /** The shards the stream lists now. */
  streamShards: ReadonlySet<string>
  me: string
  takeable: (lease: LeaseState) => boolean
}): ShardPlan {
  const { leases, streamShards, me, takeable } = input
  const byName = new Map(leases.map((lease) => [lease.leaseName, lease]))
  const parentDone = (lease: LeaseState) => {
    if (lease.parentShardId === undefined) return true
    const parent = byName.get(lease.parentShardId)
    return parent ? parent.finished === true : !streamShards.has(lease.parentShardId)
  }
  const open = leases.filter((lease) => lease.kind === 'shard' && !lease.finished && streamShards.has(lease.leaseName) && parentDone(lease))
  const held = new Map<string, LeaseState[]>()
  for (const lease of open) {
    if (lease.owner === undefined || takeable(lease)) continue
    held.set(lease.owner, [...(held.get(lease.owner) ?? []), lease])
  }
  const workers = new Set([...held.keys(), me]).size
  const target = Math.ceil(open.length / workers)
  const want = target - (held.get(me)?.length ?? 0)
  if (want <= 0) return { take: [], steal: undefined }
  const take = open.filter(takeable).slice(0, want)
  if (take.length > 0) return { take, steal: undefined }
  const busiest = [...held.entries()].filter(([owner]) => owner !== me).sort(([, x], [, y]) => y.length - x.length)[0]
  return { take: [], steal: busiest && busiest[1].length > target ? busiest[1][0] : undefined }
}
