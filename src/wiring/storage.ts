import path from 'node:path'
import type { Logger } from 'pino'
import { usesEmbeddedDynamoDb, type Config } from '../config.js'
import type { BlobStore } from '../domain/ports.js'
import { DiskBlobStore } from '../infra/blobs/disk.js'
import { S3BlobStore } from '../infra/blobs/s3.js'
import { DynamoAccountStore } from '../infra/dynamodb/account-store.js'
import { DynamoChatStore } from '../infra/dynamodb/chat-store.js'
import { DynamoDeviceStore } from '../infra/dynamodb/device-store.js'
import { createDynamoClients, type DynamoClients } from '../infra/dynamodb/client.js'
import { createEntities, type HushEntities } from '../infra/dynamodb/entities.js'
import { expiryIndexLayout } from '../infra/dynamodb/expiry-index.js'
import { launchDynamoDbLocal } from '../infra/dynamodb/launcher.js'
import { DynamoPhotoStore } from '../infra/dynamodb/photo-store.js'
import { DynamoPostStore } from '../infra/dynamodb/post-store.js'
import { createHushTable, ensureTable } from '../infra/dynamodb/table.js'
import type { PrometheusMetrics } from '../infra/metrics/prometheus.js'
import { loadOrCreateSecrets, type Secrets } from '../infra/secrets.js'
import type { Lifecycle } from './lifecycle.js'

export interface Storage {
  /** The DynamoDB in use (the embedded one's, when embedded). */
  endpoint: string | undefined
  clients: DynamoClients
  entities: HushEntities
  accounts: DynamoAccountStore
  posts: DynamoPostStore
  chats: DynamoChatStore
  photos: DynamoPhotoStore
  devices: DynamoDeviceStore
  /** Throws unless DynamoDB answers, on a path of its own that a saturated pool does not delay (DynamoClients.check). */
  check(): Promise<void>
}

/** DynamoDB (the embedded DynamoDB Local unless an endpoint or region is set), its table and stores. */
export async function openStorage(config: Config, logger: Logger, lifecycle: Lifecycle, metrics?: PrometheusMetrics): Promise<Storage> {
  let endpoint = config.dynamodb.endpoint
  if (usesEmbeddedDynamoDb(config)) {
    const embedded = await launchDynamoDbLocal({ dataDir: config.dataDir, logger })
    lifecycle.onStop(() => embedded.stop())
    endpoint = embedded.endpoint
  }
  const clients = createDynamoClients(endpoint, config.dynamodb.region, {
    leanReads: config.dynamodb.leanReads,
    onRequest: metrics && ((...args) => metrics.dynamodbRequest(...args)),
  })
  lifecycle.onStop(() => clients.destroy())
  const { table: tableName } = config.dynamodb
  if (config.dynamodb.createTable) await ensureTable(clients.client, tableName)
  const entities = createEntities(createHushTable(clients.documentClient, tableName))
  return {
    endpoint,
    clients,
    entities,
    accounts: new DynamoAccountStore(entities),
    posts: new DynamoPostStore(entities),
    chats: new DynamoChatStore(entities, expiryIndexLayout(config.chatTtlSeconds)),
    photos: new DynamoPhotoStore(entities),
    devices: new DynamoDeviceStore(entities),
    check: () => clients.check(tableName),
  }
}

/** Photo bytes: S3 when a bucket is set, else the disk under DATA_DIR. */
export async function openBlobStore(config: Config, logger: Logger, lifecycle: Lifecycle): Promise<BlobStore> {
  const { s3 } = config.photos
  if (!s3) return new DiskBlobStore(path.join(config.dataDir, 'photos'))
  const store = new S3BlobStore(s3)
  if (s3.lifecycle) {
    await store.ensureLifecycle().catch((error: Error) => logger.warn({ err: error.message }, 'could not set the S3 lifecycle rule'))
  }
  lifecycle.onStop(() => store.close())
  return store
}

/** The configured secrets, or the embedded default's, kept under DATA_DIR. */
export async function resolveSecrets(config: Config): Promise<Secrets> {
  const { secret: jwtSecret } = config.jwt
  const { idSecret } = config
  if (jwtSecret !== undefined && idSecret !== undefined) return { jwtSecret, idSecret }
  const stored = await loadOrCreateSecrets(config.dataDir)
  return { jwtSecret: jwtSecret ?? stored.jwtSecret, idSecret: idSecret ?? stored.idSecret }
}
