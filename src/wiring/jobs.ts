import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { BlobStore } from '../domain/ports.js'
import type { Services } from '../domain/services.js'
import { DiskBlobStore, DiskPhotoSweeper } from '../infra/blobs/disk.js'
import { ChatReclaimer } from '../infra/dynamodb/chat-reclaimer.js'
import { BACKSTOP_LEASE, backstopIntervalMs, ExpiryBackstop } from '../infra/dynamodb/expiry-backstop.js'
import { DEFAULT_LEASE_MS, ExpiryCascade } from '../infra/dynamodb/expiry-cascade.js'
import { expiryIndexLayout } from '../infra/dynamodb/expiry-index.js'
import { LeasedJob } from '../infra/dynamodb/leased-job.js'
import { LeaseStore } from '../infra/dynamodb/lease-store.js'
import type { Lifecycle } from './lifecycle.js'
import type { Storage } from './storage.js'

/** Photo bytes of an expired chat leave the disk within this long (SPEC: within a minute). */
const PHOTO_SWEEP_INTERVAL_MS = 20_000

/**
 * The background work that reclaims expired chats, with one reclaim path and two triggers: the
 * expiry cascade on the table's stream (each shard read by the one process holding its lease) and
 * the backstop on the expiry index (run by the one process holding its lease), which catches what
 * the stream missed. Photos on disk also have a sweep of the photo folder (S3 has its own
 * lifecycle rule as a backstop).
 */
export async function startJobs(
  parts: { config: Config; storage: Storage; blobs: BlobStore; services: Services; logger: Logger; onReclaimed?: ((lagSeconds: number) => void) | undefined },
  lifecycle: Lifecycle,
): Promise<void> {
  const { config, storage, blobs, services, logger } = parts
  if (blobs instanceof DiskBlobStore) {
    const sweeper = new DiskPhotoSweeper(blobs, (chatId) => services.photos.isChatGone(chatId), PHOTO_SWEEP_INTERVAL_MS, (error) =>
      logger.error({ err: error }, 'photo sweep failed'),
    )
    sweeper.start()
    lifecycle.onStop(() => sweeper.stop())
  }
  const { entities } = storage
  // One id for this process in every lease it holds.
  const ownerId = randomUUID()
  const reclaimer = new ChatReclaimer(entities, logger, (chatId) => services.photos.reclaimChat(chatId))
  if (config.expiryCascade) {
    const cascade = new ExpiryCascade({ ...storage.clients, tableName: config.dynamodb.table, entities, reclaimer, logger, ownerId, onReclaimed: parts.onReclaimed })
    await cascade.start()
    lifecycle.onStop(() => cascade.stop())
  }
  const backstop = new ExpiryBackstop({
    entities,
    reclaimer,
    logger,
    layout: expiryIndexLayout(config.chatTtlSeconds),
    // Only the very first run (no cursor stored with the lease yet) uses it: it starts two lives
    // back, which covers the chats filed by processes that started before any backstop ran.
    lookbackMs: 2 * config.chatTtlSeconds * 1000,
  })
  const job = new LeasedJob({
    leases: new LeaseStore(entities),
    leaseName: BACKSTOP_LEASE,
    ownerId,
    leaseMs: DEFAULT_LEASE_MS,
    intervalMs: backstopIntervalMs(config.chatTtlSeconds),
    logger,
    run: async (checkpoint, save) => {
      await backstop.run(checkpoint === undefined ? undefined : Number(checkpoint), (cursor) => save(String(cursor)))
    },
  })
  await job.start()
  lifecycle.onStop(() => job.stop())
}
