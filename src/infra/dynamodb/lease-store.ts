import { AccessPattern } from 'dynamodb-toolbox/entity/actions/accessPattern'
import { DeleteItemCommand } from 'dynamodb-toolbox/entity/actions/delete'
import { GetItemCommand } from 'dynamodb-toolbox/entity/actions/get'
import { PutItemCommand } from 'dynamodb-toolbox/entity/actions/put'
import { UpdateItemCommand, type UpdateItemInput, type UpdateItemOptions } from 'dynamodb-toolbox/entity/actions/update'
import { $add, $remove } from 'dynamodb-toolbox/entity/actions/update/symbols'
import { item } from 'dynamodb-toolbox/schema/item'
import { isConditionalCheckFailure } from './client.js'
import { keyOf, type HushEntities } from './entities.js'
import type { LeaseState } from './lease-plan.js'

type LeaseUpdate = UpdateItemInput<HushEntities['Lease']>
type LeaseCondition = NonNullable<UpdateItemOptions<HushEntities['Lease']>['condition']>

/**
 * The lease items (entities.ts, Lease) and their conditional writes. Every write raises the
 * counter, so a holder's heartbeat is visible to the others (lease-plan.ts). A holder's own writes
 * are conditional on still being the owner; a taker's on the counter it saw, so of two takers
 * exactly one wins, and a holder that lost its lease learns it at its next write.
 */
export class LeaseStore {
  private readonly allLeases

  constructor(private readonly entities: HushEntities) {
    this.allLeases = new AccessPattern(entities.Lease).schema(item({})).pattern(() => {
      const { pk, sk } = keyOf(entities.Lease, { leaseName: '' })
      return { partition: pk, range: { beginsWith: sk } }
    })
  }

  /** Every lease: one partition, one consistent Query (a page holds hundreds of leases). */
  async list(): Promise<LeaseState[]> {
    const leases: LeaseState[] = []
    let exclusiveStartKey: Record<string, unknown> | undefined
    do {
      const page = await this.allLeases.query({}).options({ consistent: true, exclusiveStartKey }).send()
      for (const found of page.Items ?? []) leases.push(toLease(found))
      exclusiveStartKey = page.LastEvaluatedKey
    } while (exclusiveStartKey)
    return leases
  }

  /** One lease, read consistently. */
  async get(leaseName: string): Promise<LeaseState | undefined> {
    const { Item } = await this.entities.Lease.build(GetItemCommand).key({ leaseName }).options({ consistent: true }).send()
    return Item && toLease(Item)
  }

  /** Creates a free lease unless it exists (several processes discover the same shard). */
  async create(leaseName: string, kind: LeaseState['kind'], parentShardId?: string): Promise<void> {
    await this.conditional(() =>
      this.entities.Lease.build(PutItemCommand)
        .item({ leaseName, kind, counter: 0, parentShardId })
        .options({ condition: { attr: 'counter', exists: false } })
        .send(),
    )
  }

  /** Takes a free, expired or stolen lease: only if nobody wrote it since `seen` was read. */
  take(seen: LeaseState, me: string): Promise<LeaseState | undefined> {
    return this.write({ leaseName: seen.leaseName, owner: me }, { and: [{ attr: 'counter', eq: seen.counter }, { attr: 'finished', exists: false }] })
  }

  /** The heartbeat: still `me`'s? Then the counter moves, and the checkpoint with it when given. */
  renew(leaseName: string, me: string, checkpoint?: string): Promise<LeaseState | undefined> {
    return this.write({ leaseName, checkpoint }, { attr: 'owner', eq: me })
  }

  /** Stores how far `me` got, so the next holder resumes there. */
  checkpoint(leaseName: string, me: string, checkpoint: string): Promise<LeaseState | undefined> {
    return this.write({ leaseName, checkpoint }, { attr: 'owner', eq: me })
  }

  /** Lets the lease go at once (a clean stop), instead of making the next holder wait a period. */
  release(leaseName: string, me: string, checkpoint?: string): Promise<LeaseState | undefined> {
    return this.write({ leaseName, owner: $remove(), checkpoint }, { attr: 'owner', eq: me })
  }

  /** A shard read to its end: nobody holds it again, and its children may start. */
  finish(leaseName: string, me: string): Promise<LeaseState | undefined> {
    return this.write({ leaseName, owner: $remove(), finished: true }, { attr: 'owner', eq: me })
  }

  /** Forgets a finished shard that the stream no longer lists (trimmed 24 h after it closed). */
  async forget(leaseName: string): Promise<void> {
    await this.conditional(() =>
      this.entities.Lease.build(DeleteItemCommand).key({ leaseName }).options({ condition: { attr: 'finished', exists: true } }).send(),
    )
  }

  private async write(update: Omit<LeaseUpdate, 'counter'>, condition: LeaseCondition): Promise<LeaseState | undefined> {
    let written: LeaseState | undefined
    await this.conditional(async () => {
      const { Attributes } = await this.entities.Lease.build(UpdateItemCommand)
        .item({ ...update, counter: $add(1) })
        .options({ condition, returnValues: 'ALL_NEW' })
        .send()
      written = Attributes && toLease(Attributes)
    })
    return written
  }

  /** Runs a conditional write; a condition that did not hold is an answer, not an error. */
  private async conditional(send: () => Promise<unknown>): Promise<boolean> {
    try {
      await send()
      return true
    } catch (error) {
      if (isConditionalCheckFailure(error)) return false
      throw error
    }
  }
}

function toLease(found: LeaseState): LeaseState {
  const { leaseName, kind, owner, counter, checkpoint, parentShardId, finished } = found
  return { leaseName, kind, owner, counter, checkpoint, parentShardId, finished }
}
