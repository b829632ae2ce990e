import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, usesEmbeddedDynamoDb } from '../../src/config.js'

describe('loadConfig', () => {
  it('gives the SPEC defaults for an empty environment, with the embedded DynamoDB', () => {
    const config = loadConfig({})
    expect(config.port).toBe(4000)
    expect(config.chatTtlSeconds).toBe(86_400)
    expect(config.dynamodb.table).toBe('hush')
    expect(config.dynamodb.createTable).toBe(true)
    expect(config.redisUrl).toBeUndefined()
    expect(usesEmbeddedDynamoDb(config)).toBe(true)
    expect(config.limits).toEqual({
      maxPostLength: 2_000,
      maxMessageLength: 4_000,
      maxPhotoBytes: 10 * 1024 * 1024,
      maxLiveChats: 100,
      sendRatePerSecond: 5,
      sendBurst: 20,
      startChatPerMinute: 30,
      maxFrameBytes: 65_536,
      maxSubscriptionsPerConnection: 200,
      connectionInitTimeoutMs: 3_000,
      maxQueuedEvents: 1_000,
    })
    expect(config.presenceTtlMs).toBeLessThanOrEqual(25_000)
  })

  it('reports every problem at once', () => {
    let error: unknown
    try {
      loadConfig({
        PORT: '70000',
        CHAT_TTL_SECONDS: 'soon',
        REDIS_URL: 'http://x',
        DYNAMODB_CREATE_TABLE: 'maybe',
        DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
        JWT_JWKS_URL: 'https://id.example/jwks.json',
        LOG_LEVEL: 'loud',
      })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems.join('\n')
    for (const name of ['PORT', 'CHAT_TTL_SECONDS', 'REDIS_URL', 'DYNAMODB_CREATE_TABLE', 'JWT_SECRET', 'ID_SECRET', 'JWT_EXTERNAL_ISSUER', 'JWT_EXTERNAL_AUDIENCE', 'LOG_LEVEL']) {
      expect(problems).toContain(name)
    }
  })

  it('uses a given DynamoDB and shared secrets in production shape', () => {
    const config = loadConfig({
      AWS_REGION: 'eu-west-1',
      DYNAMODB_CREATE_TABLE: 'false',
      REDIS_URL: 'redis://cache:6379',
      JWT_SECRET: 's'.repeat(32),
      ID_SECRET: 'i'.repeat(32),
      CHAT_TTL_SECONDS: '5',
    })
    expect(usesEmbeddedDynamoDb(config)).toBe(false)
    expect(config.dynamodb.createTable).toBe(false)
    expect(config.chatTtlSeconds).toBe(5)
  })
})
