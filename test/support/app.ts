import { randomBytes } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { inject } from 'vitest'
import { createApp, type RunningApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'

export const TEST_JWT_SECRET = 'test-jwt-secret-that-is-at-least-32-chars'

const RATE_LIMITS = ['SIGNUP', 'START_CHAT', 'SEND', 'MARK_READ', 'UPLOAD', 'CREATE_POST', 'ADD_COMMENT', 'SOCKET_OPERATIONS', 'REGISTER_DEVICE']

export interface TestApp extends RunningApp {
  config: Config
  stop(): Promise<void>
}

/**
 * The environment of a test server: the suite's DynamoDB Local, a table of its own, port 0.
 * Each server also gets a region of its own, which DynamoDB Local keeps in a database file of
 * its own, so test files share no data and no background (TTL, stream) jobs.
 */
export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    DYNAMODB_REGION: `test-${randomBytes(4).toString('hex')}`,
    DATA_DIR: path.join(os.tmpdir(), `hush-test-data-${randomBytes(6).toString('hex')}`),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
    DYNAMODB_TABLE: `hush_test_${randomBytes(6).toString('hex')}`,
    JWT_SECRET: TEST_JWT_SECRET,
    ID_SECRET: 'test-id-secret-that-is-at-least-32-chars-long',
    SHUTDOWN_TIMEOUT_MS: '2000',
    // Suites fire many writes from one user (and one address) at once; the rate limits have
    // tests of their own.
    ...Object.fromEntries(RATE_LIMITS.map((name) => [`RATE_LIMIT_${name}`, '100000/s burst 100000'])),
    RATE_LIMIT_UPLOAD_BYTES: '1GB/s burst 1GB',
    ...overrides,
  }
}

/** With Redis: a channel prefix of its own, so parallel test files never hear each other. */
export function redisEnv(): Record<string, string> {
  return { REDIS_URL: inject('redisUrl'), REDIS_PREFIX: `hush-test:${randomBytes(6).toString('hex')}:` }
}

/** Starts a real Hush server on a free port. */
export async function startTestApp(overrides: Record<string, string | undefined> = {}): Promise<TestApp> {
  return startAppWith(loadConfig(testEnv(overrides)))
}

/** Another server on the same table and DynamoDB as `app` (a second process of one deployment). */
export async function startPeerApp(app: TestApp, overrides: Record<string, string | undefined> = {}): Promise<TestApp> {
  return startAppWith(
    loadConfig(
      testEnv({
        DYNAMODB_REGION: app.config.dynamodb.region,
        DYNAMODB_TABLE: app.config.dynamodb.table,
        REDIS_URL: app.config.redisUrl,
        REDIS_PREFIX: app.config.redisPrefix,
        CHAT_TTL_SECONDS: String(app.config.chatTtlSeconds),
        DATA_DIR: app.config.dataDir,
        ...overrides,
      }),
    ),
  )
}

async function startAppWith(config: Config): Promise<TestApp> {
  const app = createApp(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }))
  const running = await app.start()
  return { ...running, config, stop: () => app.stop() }
}
