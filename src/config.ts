import path from 'node:path'

/**
 * The one place that reads the environment. Every setting is parsed and validated here at start,
 * and every problem is reported at once so an operator fixes a bad deployment in one pass.
 */

export interface Limits {
  /** Longest post, comment body (SPEC: 2,000). */
  maxPostLength: number
  /** Longest message body (SPEC: 4,000). */
  maxMessageLength: number
  /** Largest photo upload in bytes (SPEC: 10 MB). */
  maxPhotoBytes: number
  /** Live chats one user may hold (SPEC: 100). */
  maxLiveChats: number
  /** Sustained sends per user per second (SPEC: 5). */
  sendRatePerSecond: number
  /** Sends a user may burst above the sustained rate (SPEC: 20). */
  sendBurst: number
  /** startChat calls per user per minute (SPEC: 30). */
  startChatPerMinute: number
  /** Largest WebSocket frame in bytes (SPEC: 64 KiB). */
  maxFrameBytes: number
  /** Subscriptions one WebSocket may hold open (SPEC: 200). */
  maxSubscriptionsPerConnection: number
  /** Time a socket has to send connection_init (SPEC: 3 s). */
  connectionInitTimeoutMs: number
  /** Events one subscription may hold while its client is not reading, before it is cut off. */
  maxQueuedEvents: number
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
  }
  /** Unset: events stay in this process. */
  redisUrl: string | undefined
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
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

type Env = Record<string, string | undefined>

class Reader {
  readonly problems: string[] = []
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string
  string(name: string): string | undefined
  string(name: string, fallback?: string): string | undefined {
    const value = this.env[name]?.trim()
    return value === undefined || value === '' ? fallback : value
  }

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`)
      return fallback
    }
    return value
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    if (/^(1|true|yes|on)$/i.test(raw)) return true
    if (/^(0|false|no|off)$/i.test(raw)) return false
    this.problems.push(`${name} must be true or false (got "${raw}")`)
    return fallback
  }

  url(name: string, protocols: string[]): string | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    try {
      const parsed = new URL(raw)
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol')
      return raw
    } catch {
      this.problems.push(`${name} must be a ${protocols.join(' or ')} URL (got "${raw}")`)
      return undefined
    }
  }

  require(condition: boolean, problem: string): void {
    if (!condition) this.problems.push(problem)
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function loadConfig(env: Env = process.env): Config {
  const read = new Reader(env)

  const dynamodbEndpoint = read.url('DYNAMODB_ENDPOINT', ['http:', 'https:'])
  const dynamodbRegion = read.string('AWS_REGION') ?? read.string('DYNAMODB_REGION')
  const embedded = dynamodbEndpoint === undefined && dynamodbRegion === undefined
  const jwksUrl = read.url('JWT_JWKS_URL', ['http:', 'https:'])
  const s3Bucket = read.string('S3_BUCKET')
  const s3AccessKeyId = read.string('S3_ACCESS_KEY_ID')
  const s3SecretAccessKey = read.string('S3_SECRET_ACCESS_KEY')
  read.require((s3AccessKeyId === undefined) === (s3SecretAccessKey === undefined), 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together')
  const externalIssuer = read.string('JWT_EXTERNAL_ISSUER')
  const externalAudience = read.string('JWT_EXTERNAL_AUDIENCE')
  const logLevel = read.string('LOG_LEVEL', 'info')
  read.require(LOG_LEVELS.includes(logLevel), `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)

  const config: Config = {
    port: read.int('PORT', 4000, { max: 65535 }),
    host: read.string('HOST', '0.0.0.0'),
    dataDir: path.resolve(read.string('DATA_DIR', '.data')),
    logLevel,
    dynamodb: {
      endpoint: dynamodbEndpoint,
      region: dynamodbRegion,
      table: read.string('DYNAMODB_TABLE', 'hush'),
      createTable: read.bool('DYNAMODB_CREATE_TABLE', true),
    },
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: read.string('REDIS_PREFIX', 'hush:'),
    jwt: {
      secret: read.string('JWT_SECRET'),
      issuer: read.string('JWT_ISSUER', 'hush'),
      audience: read.string('JWT_AUDIENCE', 'hush'),
      ttlSeconds: read.int('JWT_TTL_SECONDS', 30 * 24 * 3600, { min: 60 }),
      external:
        jwksUrl === undefined
          ? undefined
          : {
              jwksUrl,
              issuer: externalIssuer ?? '',
              audience: externalAudience ?? '',
              algorithms: read.string('JWT_EXTERNAL_ALGORITHMS', 'RS256').split(',').map((a) => a.trim()),
            },
    },
    idSecret: read.string('ID_SECRET'),
    chatTtlSeconds: read.int('CHAT_TTL_SECONDS', 86_400, { min: 1 }),
    expiryCascade: read.bool('EXPIRY_CASCADE', true),
    limits: {
      maxPostLength: read.int('MAX_POST_LENGTH', 2_000, { min: 1 }),
      maxMessageLength: read.int('MAX_MESSAGE_LENGTH', 4_000, { min: 1 }),
      maxPhotoBytes: read.int('MAX_PHOTO_BYTES', 10 * 1024 * 1024, { min: 1 }),
      maxLiveChats: read.int('MAX_LIVE_CHATS', 100, { min: 1 }),
      sendRatePerSecond: read.int('SEND_RATE_PER_SECOND', 5, { min: 1 }),
      sendBurst: read.int('SEND_BURST', 20, { min: 1 }),
      startChatPerMinute: read.int('START_CHAT_PER_MINUTE', 30, { min: 1 }),
      maxFrameBytes: read.int('MAX_FRAME_BYTES', 64 * 1024, { min: 1024 }),
      maxSubscriptionsPerConnection: read.int('MAX_SUBSCRIPTIONS_PER_CONNECTION', 200, { min: 1 }),
      connectionInitTimeoutMs: read.int('CONNECTION_INIT_TIMEOUT_MS', 3_000, { min: 100 }),
      maxQueuedEvents: read.int('MAX_QUEUED_EVENTS', 1_000, { min: 1 }),
    },
    presenceTtlMs: read.int('PRESENCE_TTL_MS', 20_000, { min: 100 }),
    photos: {
      publicUrl: read.url('PUBLIC_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
      urlTtlSeconds: read.int('PHOTO_URL_TTL_SECONDS', 300, { min: 1, max: 3_600 }),
      s3:
        s3Bucket === undefined
          ? undefined
          : {
              bucket: s3Bucket,
              region: read.string('S3_REGION') ?? dynamodbRegion ?? 'us-east-1',
              endpoint: read.url('S3_ENDPOINT', ['http:', 'https:']),
              forcePathStyle: read.bool('S3_FORCE_PATH_STYLE', false),
              lifecycle: read.bool('S3_LIFECYCLE', true),
              credentials: s3AccessKeyId && s3SecretAccessKey ? { accessKeyId: s3AccessKeyId, secretAccessKey: s3SecretAccessKey } : undefined,
            },
    },
    shutdownTimeoutMs: read.int('SHUTDOWN_TIMEOUT_MS', 10_000, { min: 0 }),
  }

  if (jwksUrl !== undefined) {
    read.require(externalIssuer !== undefined, 'JWT_EXTERNAL_ISSUER is required with JWT_JWKS_URL')
    read.require(externalAudience !== undefined, 'JWT_EXTERNAL_AUDIENCE is required with JWT_JWKS_URL')
  } else {
    read.require(
      externalIssuer === undefined && externalAudience === undefined,
      'JWT_EXTERNAL_ISSUER and JWT_EXTERNAL_AUDIENCE need JWT_JWKS_URL',
    )
  }
  if (!embedded) {
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

/** True when Hush launches and owns its DynamoDB Local child process. */
export function usesEmbeddedDynamoDb(config: Config): boolean {
  return config.dynamodb.endpoint === undefined && config.dynamodb.region === undefined
}
