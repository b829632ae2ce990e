import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { BlobStore } from '../domain/ports.js'
import type { Services } from '../domain/services.js'
import { DiskBlobStore, DiskPhotoSweeper } from '../infra/blobs/disk.js'
import { ExpiryCascade } from '../infra/dynamodb/expiry-cascade.js'
import type { Lifecycle } from './lifecycle.js'
import type { Storage } from './storage.js'

/** Photo bytes of an expired chat leave the disk within this long (SPEC: within a minute). */
const PHOTO_SWEEP_INTERVAL_MS = 20_000

/**
 * The background work that reclaims expired chats: the expiry cascade on the table's stream and,
 * for photos on disk, a sweep of the photo folder (S3 has its own lifecycle rule as a backstop).
 */
export async function startJobs(
  parts: { config: Config; storage: Storage; blobs: BlobStore; services: Services; logger: Logger },
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
  if (config.expiryCascade) {
    const cascade = new ExpiryCascade({
      ...storage.clients,
      tableName: config.dynamodb.table,
      entities: storage.entities,
      logger,
      onChatReclaimed: (chatId) => services.photos.reclaimChat(chatId),
    })
    await cascade.start()
    lifecycle.onStop(() => cascade.stop())
  }
}
