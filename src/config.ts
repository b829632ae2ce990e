import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Reader, type Env } from './env-reader.js'
import { readPush, type PushConfig } from './push-config.js'

/**
 * The one place that reads the environment. Every setting is parsed and validated here at start,
 * and every problem is reported at once so an operator fixes a bad deployment in one pass.
 */

/** A token bucket: `perSecond` sustained, `burst` at once. */
export interface RateConfig {
  perSecond: number
  burst: number
}

/**
 * The rate limits, per user unless said otherwise; in Redis across processes, and per process
 * while Redis is down. `uploadBytes` counts bytes, the others calls.
 */
export interface RateLimitsConfig {
  /** Per client address. */
  signUp: RateConfig
  startChat: RateConfig
  send: RateConfig
  markRead: RateConfig
  upload: RateConfig
  uploadBytes: RateConfig
  createPost: RateConfig
  addComment: RateConfig
  registerDevice: RateConfig
  /** Per socket: its subscribes and completes. */
  socketOperations: RateConfig
}

/** What any GraphQL document must stay within, on every path. */
export interface DocumentLimitsConfig {
  maxTokens: number
  maxDepth: number
  maxAliases: number
  maxDirectives: number
  maxCost: number
}

export interface Limits {
  /** Longest post, comment body (SPEC: 2,000). */
  maxPostLength: number
  /** Longest message body (SPEC: 4,000). */
  maxMessageLength: number
  /** Largest photo upload in bytes (SPEC: 10 MB). */
  maxPhotoBytes: number
  /** Largest photo in pixels, checked from its header before it is decoded. */
  maxPhotoPixels: number
  /** Open, live chats one user may hold, whoever started them (SPEC: 100). */
  maxLiveChats: number
  /**
   * Largest request in bytes (SPEC: a WebSocket frame, 64 KiB): a frame, an HTTP body but an
   * upload's, and so any GraphQL document.
   */
  maxFrameBytes: number
  /** Operations (subscriptions, and queries or mutations running) one socket may hold at once (SPEC: 200). */
  maxSubscriptionsPerConnection: number
  /** Time a socket has to send connection_init (SPEC: 3 s). */
  connectionInitTimeoutMs: number
  /** Bytes of events one socket may leave unread, all its subscriptions together, before it is cut off (1013). */
  maxQueuedBytes: number
  document: DocumentLimitsConfig
  rates: RateLimitsConfig
}

export interface ExternalIssuerConfig {
  jwksUrl: string
  issuer: string
  audience: string
  algorithms: string[]
}

export interface Config {
  port: number
  host: string
  dataDir: string
  logLevel: string
  dynamodb: {
    /** Unset: the embedded DynamoDB Local is launched under dataDir. */
    endpoint: string | undefined
    region: string | undefined
    table: string
    /** Create the table (with indexes, TTL and stream) when missing; off in production. */
    createTable: boolean
    /** Send the connect and catch-up reads on the lean path (src/infra/dynamodb/lean-reads.ts), not the AWS SDK's stack. */
    leanReads: boolean
  }
  /** Unset (and no cluster): events stay in this process. */
  redisUrl: string | undefined
  /** Seed nodes of a Redis Cluster (events then use sharded pub/sub); exclusive with redisUrl. */
  redisClusterNodes: Array<{ host: string; port: number }> | undefined
  /**
   * Addresses (or CIDR ranges, or proxy-addr's names: loopback, linklocal, uniquelocal) of the
   * proxies whose X-Forwarded-For is believed; the client address is the first one not trusted.
   */
  trustedProxies: string[]
  /** What the API shows about itself; all off under NODE_ENV=production unless turned on. */
  graphql: {
    introspection: boolean
    /** "Did you mean …?" in validation errors. */
    suggestions: boolean
    /** GraphiQL at /graphql in a browser. */
    graphiql: boolean
    /** Memory the parsed, checked and compiled documents may take, estimated. */
    documentCacheBytes: number
    /** A manifest (id → document) of the only documents every path runs; unset: any document within the limits. */
    trustedDocuments: string | undefined
  }
  /** Prefix of every Redis key and channel, so several deployments (or test runs) share one Redis. */
  redisPrefix: string
  jwt: {
    /** HS256 key for the tokens signUp issues; from DATA_DIR in the embedded default. */
    secret: string | undefined
    issuer: string
    audience: string
    ttlSeconds: number
    external: ExternalIssuerConfig | undefined
  }
  /** Key behind opaque ids and aliases; from DATA_DIR in the embedded default. */
  idSecret: string | undefined
  chatTtlSeconds: number
  /** Read the table's stream and delete the rest of each chat DynamoDB TTL removed. */
  expiryCascade: boolean
  limits: Limits
  /**
   * A subscriber counts as present this long after its last heartbeat. Heartbeats come every
   * third and sweeps every sixth of it, so a dead process's users turn absent within 1.2× of it
   * (SPEC: within 30 s; the default gives 24 s).
   */
  presenceTtlMs: number
  photos: {
    /** Base URL of this service as clients reach it, for photo links; default: the listen address. */
    publicUrl: string | undefined
    /** How long a photo URL works (SPEC: a few minutes); never past the chat's expiry. */
    urlTtlSeconds: number
    /** Set: photo bytes in this S3 bucket; unset: on disk under DATA_DIR/photos. */
    s3:
      | {
          bucket: string
          region: string
          endpoint: string | undefined
          forcePathStyle: boolean
          lifecycle: boolean
          /** For S3-compatible servers; unset: the AWS SDK's usual credential chain. */
          credentials: { accessKeyId: string; secretAccessKey: string } | undefined
        }
      | undefined
  }
  /** Grace period for in-flight work on SIGTERM. */
  shutdownTimeoutMs: number
  /** Unready this long, close sockets (1013) and refuse new ones until ready; 0: keep serving. */
  unreadyCloseAfterMs: number
  /** Worker processes sharing the port (node:cluster); unset: this one process serves. Needs Redis. */
  workers: number | undefined
  push: PushConfig
  /** /metrics (Prometheus), served on the admin port when there is one, else on the public port. */
  metrics: { enabled: boolean }
  /** ADMIN_PORT: the probes and /metrics on a listener of their own (0 picks a port); unset: none. */
  adminPort: number | undefined
  /**
   * The web chat served at `/`: the folder of its build (`npm run build` writes web/dist).
   * Undefined when WEB_APP is off.
   */
  webApp: { dir: string } | undefined
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const perHour = (count: number, burst: number): RateConfig => ({ perSecond: count / 3600, burst })
const perMinute = (count: number, burst: number): RateConfig => ({ perSecond: count / 60, burst })

/** The default rates (README, configuration). */
export const DEFAULT_RATES: RateLimitsConfig = {
  signUp: perHour(30, 10),
  startChat: perMinute(30, 30),
  send: { perSecond: 5, burst: 20 },
  markRead: { perSecond: 10, burst: 30 },
  upload: perMinute(20, 10),
  uploadBytes: perHour(100 * 1024 ** 2, 30 * 1024 ** 2),
  createPost: perHour(10, 5),
  addComment: perHour(60, 20),
  registerDevice: perHour(30, 10),
  socketOperations: { perSecond: 20, burst: 100 },
}

/** RATE_LIMIT_<NAME> of each rate. */
const RATE_VARIABLES: Record<keyof RateLimitsConfig, string> = {
  signUp: 'RATE_LIMIT_SIGNUP',
  startChat: 'RATE_LIMIT_START_CHAT',
  send: 'RATE_LIMIT_SEND',
  markRead: 'RATE_LIMIT_MARK_READ',
  upload: 'RATE_LIMIT_UPLOAD',
  uploadBytes: 'RATE_LIMIT_UPLOAD_BYTES',
  createPost: 'RATE_LIMIT_CREATE_POST',
  addComment: 'RATE_LIMIT_ADD_COMMENT',
  registerDevice: 'RATE_LIMIT_REGISTER_DEVICE',
  socketOperations: 'RATE_LIMIT_SOCKET_OPERATIONS',
}

export function loadConfig(env: Env = process.env): Config {
  const read = new Reader(env)
  const logLevel = read.string('LOG_LEVEL', 'info')
  read.require(LOG_LEVELS.includes(logLevel), `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)
  const dynamodb = readDynamoDb(read)
  const config: Config = {
    port: read.int('PORT', 4000, { max: 65535 }),
    host: read.string('HOST', '0.0.0.0'),
    dataDir: path.resolve(read.string('DATA_DIR', '.data')),
    logLevel,
    dynamodb,
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    redisClusterNodes: read.hostPorts('REDIS_CLUSTER_NODES'),
    redisPrefix: read.string('REDIS_PREFIX', 'hush:'),
    trustedProxies: read.list('TRUSTED_PROXIES'),
    graphql: readGraphQL(read),
    jwt: readJwt(read),
    idSecret: read.string('ID_SECRET'),
    chatTtlSeconds: read.int('CHAT_TTL_SECONDS', 86_400, { min: 1 }),
    expiryCascade: read.bool('EXPIRY_CASCADE', true),
    limits: readLimits(read),
    presenceTtlMs: read.int('PRESENCE_TTL_MS', 20_000, { min: 100 }),
    photos: readPhotos(read, dynamodb.region),
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 10_000, { min: 0 }),
    unreadyCloseAfterMs: read.int('UNREADY_CLOSE_AFTER_MS', 0, { min: 0 }),
    workers: read.countOrAuto('WORKERS', os.availableParallelism(), { min: 1, max: 1024 }),
    push: readPush(read),
    metrics: { enabled: read.bool('METRICS', true) },
    adminPort: read.string('ADMIN_PORT') === undefined ? undefined : read.int('ADMIN_PORT', 0, { max: 65535 }),
    webApp: readWebApp(read),
  }
  read.require(config.redisUrl === undefined || config.redisClusterNodes === undefined, 'REDIS_URL and REDIS_CLUSTER_NODES exclude each other')
  read.require(read.string('METRICS_PORT') === undefined, 'METRICS_PORT is now ADMIN_PORT (it serves /healthz and /readyz too)')
  // Workers share events, presence and rate limits only through Redis: in-process events would split users between them.
  read.require(config.workers === undefined || usesRedis(config), 'WORKERS needs Redis (REDIS_URL or REDIS_CLUSTER_NODES): worker processes share events only through it')
  if (!usesEmbeddedDynamoDb(config)) {
    // Only the embedded default may mint its own secrets: processes of a real deployment must share them.
    read.require(config.jwt.secret !== undefined, 'JWT_SECRET is required when DYNAMODB_ENDPOINT or AWS_REGION is set')
    read.require(config.idSecret !== undefined, 'ID_SECRET is required when DYNAMODB_ENDPOINT or AWS_REGION is set')
  }
  for (const [name, value] of [['JWT_SECRET', config.jwt.secret], ['ID_SECRET', config.idSecret]] as const) {
    read.require(value === undefined || value.length >= 32, `${name} must be at least 32 characters`)
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems)
  return config
}

/** Where `npm run build` puts the web chat: web/dist next to src/ (or dist/, where this module runs from). */
const BUILT_WEB_APP = path.resolve(import.meta.dirname, '..', 'web', 'dist')

function readWebApp(read: Reader): Config['webApp'] {
  if (!read.bool('WEB_APP', true)) return undefined
  const given = read.string('WEB_APP_DIR')
  // A folder named on purpose must hold a build; the default may not be built yet (`npm run dev`,
  // tests), and the server then says so in its log and leaves `/` to the API's 404.
  if (given !== undefined) read.require(existsSync(path.join(given, 'index.html')), `WEB_APP_DIR must be a built web chat with an index.html (got "${given}"): run npm run build`)
  return { dir: path.resolve(given ?? BUILT_WEB_APP) }
}

function readDynamoDb(read: Reader): Config['dynamodb'] {
  return {
    endpoint: read.url('DYNAMODB_ENDPOINT', ['http:', 'https:']),
    region: read.string('AWS_REGION') ?? read.string('DYNAMODB_REGION'),
    table: read.string('DYNAMODB_TABLE', 'hush'),
    createTable: read.bool('DYNAMODB_CREATE_TABLE', true),
    leanReads: read.bool('DYNAMODB_LEAN_READS', true),
  }
}

function readGraphQL(read: Reader): Config['graphql'] {
  const production = read.string('NODE_ENV') === 'production'
  return {
    introspection: read.bool('GRAPHQL_INTROSPECTION', !production),
    suggestions: read.bool('GRAPHQL_SUGGESTIONS', !production),
    graphiql: read.bool('GRAPHIQL', !production),
    documentCacheBytes: read.int('DOCUMENT_CACHE_BYTES', 32 * 1024 ** 2, { min: 1024 ** 2 }),
    trustedDocuments: read.string('TRUSTED_DOCUMENTS'),
  }
}

function readJwt(read: Reader): Config['jwt'] {
  const jwksUrl = read.url('JWT_JWKS_URL', ['http:', 'https:'])
  const issuer = read.string('JWT_EXTERNAL_ISSUER')
  const audience = read.string('JWT_EXTERNAL_AUDIENCE')
  if (jwksUrl !== undefined) {
    read.require(issuer !== undefined, 'JWT_EXTERNAL_ISSUER is required with JWT_JWKS_URL')
    read.require(audience !== undefined, 'JWT_EXTERNAL_AUDIENCE is required with JWT_JWKS_URL')
  } else {
    read.require(issuer === undefined && audience === undefined, 'JWT_EXTERNAL_ISSUER and JWT_EXTERNAL_AUDIENCE need JWT_JWKS_URL')
  }
  return {
    secret: read.string('JWT_SECRET'),
    issuer: read.string('JWT_ISSUER', 'hush'),
    audience: read.string('JWT_AUDIENCE', 'hush'),
    ttlSeconds: read.int('JWT_TTL_SECONDS', 30 * 24 * 3600, { min: 60 }),
    external:
      jwksUrl === undefined
        ? undefined
        : {
            jwksUrl,
            issuer: issuer ?? '',
            audience: audience ?? '',
            algorithms: read.string('JWT_EXTERNAL_ALGORITHMS', 'RS256').split(',').map((a) => a.trim()),
          },
  }
}

function readLimits(read: Reader): Limits {
  const rates = Object.fromEntries(
    (Object.keys(RATE_VARIABLES) as Array<keyof RateLimitsConfig>).map((name) => [name, read.rate(RATE_VARIABLES[name], DEFAULT_RATES[name])]),
  ) as unknown as RateLimitsConfig
  return {
    maxPostLength: read.int('MAX_POST_LENGTH', 2_000, { min: 1 }),
    maxMessageLength: read.int('MAX_MESSAGE_LENGTH', 4_000, { min: 1 }),
    maxPhotoBytes: read.int('MAX_PHOTO_BYTES', 10 * 1024 * 1024, { min: 1 }),
    maxPhotoPixels: read.int('MAX_PHOTO_PIXELS', 40_000_000, { min: 1 }),
    maxLiveChats: read.int('MAX_LIVE_CHATS', 100, { min: 1 }),
    maxFrameBytes: read.int('MAX_FRAME_BYTES', 64 * 1024, { min: 1024 }),
    maxSubscriptionsPerConnection: read.int('MAX_SUBSCRIPTIONS_PER_CONNECTION', 200, { min: 1 }),
    connectionInitTimeoutMs: read.int('CONNECTION_INIT_TIMEOUT_MS', 3_000, { min: 100 }),
    maxQueuedBytes: read.int('MAX_QUEUED_BYTES', 1024 * 1024, { min: 16 * 1024 }),
    document: {
      maxTokens: read.int('MAX_DOCUMENT_TOKENS', 1_000, { min: 10 }),
      maxDepth: read.int('MAX_DOCUMENT_DEPTH', 15, { min: 2 }),
      maxAliases: read.int('MAX_DOCUMENT_ALIASES', 15, { min: 0 }),
      maxDirectives: read.int('MAX_DOCUMENT_DIRECTIVES', 20, { min: 0 }),
      maxCost: read.int('MAX_DOCUMENT_COST', 5_000, { min: 1 }),
    },
    rates,
  }
}

function readPhotos(read: Reader, dynamodbRegion: string | undefined): Config['photos'] {
  const bucket = read.string('S3_BUCKET')
  const accessKeyId = read.string('S3_ACCESS_KEY_ID')
  const secretAccessKey = read.string('S3_SECRET_ACCESS_KEY')
  read.require((accessKeyId === undefined) === (secretAccessKey === undefined), 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together')
  return {
    publicUrl: read.url('PUBLIC_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
    urlTtlSeconds: read.int('PHOTO_URL_TTL_SECONDS', 300, { min: 1, max: 3_600 }),
    s3:
      bucket === undefined
        ? undefined
        : {
            bucket,
            region: read.string('S3_REGION') ?? dynamodbRegion ?? 'us-east-1',
            endpoint: read.url('S3_ENDPOINT', ['http:', 'https:']),
            forcePathStyle: read.bool('S3_FORCE_PATH_STYLE', false),
            lifecycle: read.bool('S3_LIFECYCLE', true),
            credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
          },
  }
}

/** True when Hush launches and owns its DynamoDB Local child process. */
export function usesEmbeddedDynamoDb(config: Config): boolean {
  return config.dynamodb.endpoint === undefined && config.dynamodb.region === undefined
}

/** Whether events, presence and limits are shared through Redis (one node or a cluster). */
export const usesRedis = (config: Config): boolean => config.redisUrl !== undefined || config.redisClusterNodes !== undefined
