import path from 'node:path'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import type { Logger } from 'pino'
import { usesEmbeddedDynamoDb, type Config } from './config.js'
import { AccountService } from './domain/accounts.js'
import { ChatService } from './domain/chats.js'
import { LiveService } from './domain/live.js'
import { PhotoService } from './domain/photos.js'
import type { BlobStore } from './domain/ports.js'
import { TypingTracker } from './domain/typing.js'
import type { EventBus } from './domain/events.js'
import { systemClock } from './domain/ports.js'
import { PostService } from './domain/posts.js'
import type { Services } from './domain/services.js'
import { JwtTokenService } from './infra/auth/tokens.js'
import { DynamoAccountStore } from './infra/dynamodb/account-store.js'
import { DiskBlobStore, DiskPhotoSweeper } from './infra/blobs/disk.js'
import { S3BlobStore } from './infra/blobs/s3.js'
import { DynamoChatStore } from './infra/dynamodb/chat-store.js'
import { DynamoPhotoStore } from './infra/dynamodb/photo-store.js'
import { SharpImageProcessor } from './infra/images/sharp.js'
import { createDynamoClients } from './infra/dynamodb/client.js'
import { createEntities } from './infra/dynamodb/entities.js'
import { ExpiryCascade } from './infra/dynamodb/expiry-cascade.js'
import { launchDynamoDbLocal, type EmbeddedDynamoDb } from './infra/dynamodb/launcher.js'
import { DynamoPostStore } from './infra/dynamodb/post-store.js'
import { createHushTable, ensureTable } from './infra/dynamodb/table.js'
import { InProcessEventBus } from './infra/events/in-process.js'
import { RedisEventBus } from './infra/events/redis.js'
import { InMemoryPresenceStore } from './infra/presence/in-memory.js'
import { RedisPresenceStore } from './infra/presence/redis.js'
import { InMemoryRateLimiter } from './infra/rate-limit/in-memory.js'
import { RedisRateLimiter } from './infra/rate-limit/redis.js'
import { loadOrCreateSecrets } from './infra/secrets.js'
import { createLogger } from './logger.js'
import { createHushServer } from './server/http.js'

/** Photo bytes of an expired chat leave the disk within this long (SPEC: within a minute). */
const PHOTO_SWEEP_INTERVAL_MS = 20_000

/** SPEC: the server sends typing=false after 6 s without a refresh. */
const TYPING_TIMEOUT_MS = 6_000

export interface RunningApp {
  /** http://host:port of the server (GraphQL and GraphiQL at /graphql). */
  url: string
  port: number
  /** The DynamoDB in use (the embedded one's, when embedded). */
  dynamodbEndpoint: string | undefined
  events: EventBus
}

export interface App {
  start(): Promise<RunningApp>
  /** Drains and releases everything start() acquired, the DynamoDB Local child included. */
  stop(): Promise<void>
}

/**
 * Builds Hush from a config with no side effect until start(); tests start real servers with
 * `port: 0`. Everything start() opens, stop() closes, in reverse order.
 */
export function createApp(config: Config, logger: Logger = createLogger(config.logLevel)): App {
  const cleanups: Array<() => Promise<void>> = []
  let stopping: Promise<void> | undefined

  async function start(): Promise<RunningApp> {
    let embedded: EmbeddedDynamoDb | undefined
    if (usesEmbeddedDynamoDb(config)) {
      embedded = await launchDynamoDbLocal({ dataDir: config.dataDir, logger })
      cleanups.push(() => embedded!.stop())
    }
    const endpoint = embedded?.endpoint ?? config.dynamodb.endpoint
    const { client, documentClient, streamsClient } = createDynamoClients(endpoint, config.dynamodb.region)
    cleanups.push(async () => {
      client.destroy()
      streamsClient.destroy()
    })
    if (config.dynamodb.createTable) await ensureTable(client, config.dynamodb.table)

    const stored =
      config.jwt.secret !== undefined && config.idSecret !== undefined ? undefined : await loadOrCreateSecrets(config.dataDir)
    const secrets = { jwtSecret: config.jwt.secret ?? stored!.jwtSecret, idSecret: config.idSecret ?? stored!.idSecret }

    let events: EventBus
    let redis: RedisEventBus | undefined
    if (config.redisUrl !== undefined) {
      redis = new RedisEventBus({ url: config.redisUrl, prefix: config.redisPrefix, logger })
      await redis.connect()
      events = redis
    } else {
      events = new InProcessEventBus()
    }
    cleanups.push(() => events.close())

    const entities = createEntities(createHushTable(documentClient, config.dynamodb.table))
    const tokens = new JwtTokenService({
      secret: secrets.jwtSecret,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      ttlSeconds: config.jwt.ttlSeconds,
      external: config.jwt.external,
    })
    const presence = redis ? new RedisPresenceStore({ redis: redis.publisher, prefix: config.redisPrefix, ttlMs: config.presenceTtlMs }) : new InMemoryPresenceStore()
    const typing = new TypingTracker(events, TYPING_TIMEOUT_MS)
    cleanups.push(async () => typing.close())
    const chatStore = new DynamoChatStore(entities)
    const photoStore = new DynamoPhotoStore(entities)
    let blobs: BlobStore
    if (config.photos.s3) {
      const s3 = new S3BlobStore(config.photos.s3)
      if (config.photos.s3.lifecycle) {
        await s3.ensureLifecycle().catch((error: Error) => logger.warn({ err: error.message }, 'could not set the S3 lifecycle rule'))
      }
      cleanups.push(async () => s3.close())
      blobs = s3
    } else {
      blobs = new DiskBlobStore(path.join(config.dataDir, 'photos'))
    }
    const posts = new PostService({ posts: new DynamoPostStore(entities), clock: systemClock, maxBodyLength: config.limits.maxPostLength })
    const chats = new ChatService({
      chats: chatStore,
      photos: photoStore,
      rateLimiter: redis
        ? new RedisRateLimiter(redis.publisher, config.redisPrefix, (error) =>
            logger.warn({ err: (error as Error).message }, 'rate limit unchecked: Redis unavailable'),
          )
        : new InMemoryRateLimiter(),
      sendRate: { perSecond: config.limits.sendRatePerSecond, burst: config.limits.sendBurst },
      startChatPerMinute: config.limits.startChatPerMinute,
      posts,
      events,
      typing,
      clock: systemClock,
      idSecret: secrets.idSecret,
      chatTtlSeconds: config.chatTtlSeconds,
      maxMessageLength: config.limits.maxMessageLength,
      maxLiveChats: config.limits.maxLiveChats,
    })
    const live = new LiveService({
      chats: chatStore,
      chatService: chats,
      events,
      presence,
      typing,
      clock: systemClock,
      maxQueuedEvents: config.limits.maxQueuedEvents,
      presenceTtlMs: config.presenceTtlMs,
    })
    cleanups.push(async () => live.close())
    let publicUrl = config.photos.publicUrl ?? ''
    const photos = new PhotoService({
      photos: photoStore,
      blobs,
      images: new SharpImageProcessor(),
      chatService: chats,
      clock: systemClock,
      secret: secrets.idSecret,
      publicUrl: () => publicUrl,
      maxBytes: config.limits.maxPhotoBytes,
      urlTtlMs: config.photos.urlTtlSeconds * 1000,
    })
    if (blobs instanceof DiskBlobStore) {
      const sweeper = new DiskPhotoSweeper(
        blobs,
        async (chatId) => {
          const chat = await chats.findById(chatId)
          return !chat || chat.expiresAt <= systemClock.now()
        },
        PHOTO_SWEEP_INTERVAL_MS,
        (error) => logger.error({ err: error }, 'photo sweep failed'),
      )
      sweeper.start()
      cleanups.push(() => sweeper.stop())
    }
    const services: Services = {
      accounts: new AccountService({ accounts: new DynamoAccountStore(entities), tokens, clock: systemClock }),
      posts,
      chats,
      live,
      photos,
    }

    if (config.expiryCascade) {
      const cascade = new ExpiryCascade({
        client,
        documentClient,
        streamsClient,
        tableName: config.dynamodb.table,
        entities,
        logger,
        onChatReclaimed: (chatId) => photos.reclaimChat(chatId),
      })
      await cascade.start()
      cleanups.push(() => cascade.stop())
    }

    const server = createHushServer({
      services,
      logger,
      limits: config.limits,
      checkReadiness: async () => {
        await client.send(new DescribeTableCommand({ TableName: config.dynamodb.table }))
        await redis?.ping()
      },
    })
    const address = await server.listen(config.port, config.host)
    cleanups.push(() => server.close(config.shutdownTimeoutMs))
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`
    publicUrl ||= url
    logger.info({ url: `${url}/graphql`, dynamodb: endpoint ?? 'aws', redis: config.redisUrl !== undefined }, 'Hush is listening')
    return { url, port: address.port, dynamodbEndpoint: endpoint, events }
  }

  return {
    async start() {
      try {
        return await start()
      } catch (error) {
        await this.stop()
        throw error
      }
    },
    stop() {
      stopping ??= (async () => {
        for (const cleanup of cleanups.reverse()) {
          try {
            await cleanup()
          } catch (error) {
            logger.error({ err: error }, 'error while stopping')
          }
        }
      })()
      return stopping
    },
  }
}
