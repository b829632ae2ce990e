import type { Logger } from 'pino'
import { LeaseWatch } from './lease-plan.js'
import type { LeaseStore } from './lease-store.js'
import { Repeater } from './repeater.js'

export interface LeasedJobOptions {
  leases: LeaseStore
  leaseName: string
  ownerId: string
  leaseMs: number
  /** Pause between the end of a run and the next. */
  intervalMs: number
  logger: Logger
  /**
   * The job: starts from the checkpoint its last run (by any process) saved; `save` stores
   * progress with the lease, and throws once the lease is no longer this process's, ending the run.
   */
  run: (checkpoint: string | undefined, save: (checkpoint: string) => Promise<void>) => Promise<void>
}

/**
 * A periodic job that one process of the fleet runs at a time: whoever holds its lease (the same
 * lease items, heartbeats and takeover as the stream shards). A dead holder's job moves to
 * another process within a lease period and a round.
 */
export class LeasedJob {
  private readonly watch: LeaseWatch
  private readonly loops: Repeater
  private holding: { checkpoint: string | undefined; confirmedAt: number } | undefined
  private job: Promise<void> | undefined
  private nextRunAt = 0

  constructor(private readonly options: LeasedJobOptions) {
    this.watch = new LeaseWatch(() => Date.now(), options.leaseMs)
    this.loops = new Repeater((error, what) => options.logger.error({ err: error, job: options.leaseName }, `leased job ${what} failed`))
  }

  get isHeld(): boolean {
    return this.holding !== undefined
  }

  async start(): Promise<void> {
    await this.options.leases.create(this.options.leaseName, 'job')
    this.loops.repeat('lease round', () => this.round(), 0, () => this.options.leaseMs / 3)
  }

  async stop(): Promise<void> {
    await this.loops.stop()
    await this.job
    if (this.holding) await this.options.leases.release(this.options.leaseName, this.options.ownerId)
    this.holding = undefined
  }

  private async round(): Promise<void> {
    const { leases, leaseName, ownerId } = this.options
    const lease = await leases.get(leaseName)
    if (!lease) return await leases.create(leaseName, 'job')
    this.watch.observe([lease])
    if (this.holding) {
      this.confirm(await leases.renew(leaseName, ownerId))
    } else if (this.watch.isTakeable(lease, ownerId) || lease.owner === ownerId) {
      const taken = await leases.take(lease, ownerId)
      if (taken) {
        this.holding = { checkpoint: taken.checkpoint, confirmedAt: Date.now() }
        this.options.logger.info({ job: leaseName, from: lease.owner }, 'job lease taken')
      }
    }
    if (this.holding && !this.job && Date.now() >= this.nextRunAt && !this.loops.isStopped) {
      this.job = this.runOnce().finally(() => {
        this.job = undefined
        this.nextRunAt = Date.now() + this.options.intervalMs
      })
    }
  }

  private async runOnce(): Promise<void> {
    try {
      await this.options.run(this.holding?.checkpoint, (checkpoint) => this.save(checkpoint))
    } catch (error) {
      // A stop ends a run at its next save (below): that is no failure.
      if (!this.loops.isStopped) this.options.logger.error({ err: error, job: this.options.leaseName }, 'leased job run failed')
    }
  }

  private async save(checkpoint: string): Promise<void> {
    const { leases, leaseName, ownerId, leaseMs } = this.options
    if (this.loops.isStopped) throw new Error(`stopping: ${leaseName} ends its run here`)
    if (!this.holding || Date.now() - this.holding.confirmedAt > leaseMs) throw new Error(`lease ${leaseName} no longer held`)
    this.confirm(await leases.checkpoint(leaseName, ownerId, checkpoint))
    if (!this.holding) throw new Error(`lease ${leaseName} lost`)
    this.holding.checkpoint = checkpoint
  }

  private confirm(written: unknown): void {
    if (!this.holding) return
    if (written) {
      this.holding.confirmedAt = Date.now()
      return
    }
    this.holding = undefined
    this.options.logger.info({ job: this.options.leaseName }, 'job lease lost')
  }
}
