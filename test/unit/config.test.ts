import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_RATES, loadConfig, usesEmbeddedDynamoDb } from '../../src/config.js'
import { PushHostAllowList } from '../../src/domain/push/push-hosts.js'

/** The problems loadConfig reports for `env`, one a line; '' when it loads. */
function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n')
    throw error
  }
  return ''
}

describe('loadConfig', () => {
  it('gives the SPEC defaults for an empty environment, with the embedded DynamoDB', () => {
    const config = loadConfig({})
    expect(config.port).toBe(4000)
    expect(config.chatTtlSeconds).toBe(86_400)
    expect(config.dynamodb.table).toBe('hush')
    expect(config.dynamodb.createTable).toBe(true)
    expect(config.dynamodb.leanReads).toBe(true)
    expect(config.redisUrl).toBeUndefined()
    expect(usesEmbeddedDynamoDb(config)).toBe(true)
    expect(config.limits).toEqual({
      maxPostLength: 2_000,
      maxMessageLength: 4_000,
      maxPhotoBytes: 10 * 1024 * 1024,
      maxPhotoPixels: 40_000_000,
      maxLiveChats: 100,
      maxFrameBytes: 65_536,
      maxSubscriptionsPerConnection: 200,
      connectionInitTimeoutMs: 3_000,
      maxQueuedBytes: 1024 * 1024,
      document: { maxTokens: 1_000, maxDepth: 15, maxAliases: 15, maxDirectives: 20, maxCost: 5_000 },
      rates: DEFAULT_RATES,
    })
    expect(config.limits.rates.send).toEqual({ perSecond: 5, burst: 20 })
    expect(config.limits.rates.startChat).toEqual({ perSecond: 0.5, burst: 30 })
    expect(config.graphql).toMatchObject({ introspection: true, suggestions: true, graphiql: true })
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

  it('reads rates as "<n>/<s|min|h> burst <n>", sizes in KB, MB or GB, and lists bad ones with the rest', () => {
    const config = loadConfig({ RATE_LIMIT_SEND: '2/s burst 4', RATE_LIMIT_UPLOAD_BYTES: '60MB/h burst 20MB', RATE_LIMIT_SIGNUP: '120/min burst 1' })
    expect(config.limits.rates.send).toEqual({ perSecond: 2, burst: 4 })
    expect(config.limits.rates.uploadBytes).toEqual({ perSecond: (60 * 1024 ** 2) / 3600, burst: 20 * 1024 ** 2 })
    expect(config.limits.rates.signUp).toEqual({ perSecond: 2, burst: 1 })
    let error: unknown
    try {
      loadConfig({ RATE_LIMIT_SEND: 'fast', RATE_LIMIT_MARK_READ: '0/s burst 1', PORT: 'x' })
    } catch (caught) {
      error = caught
    }
    const problems = (error as ConfigError).problems.join('\n')
    for (const name of ['RATE_LIMIT_SEND', 'RATE_LIMIT_MARK_READ', 'PORT']) expect(problems).toContain(name)
  })

  it('turns introspection, suggestions and GraphiQL off under NODE_ENV=production unless asked for', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).graphql).toMatchObject({ introspection: false, suggestions: false, graphiql: false })
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true', GRAPHIQL: 'on' }).graphql).toMatchObject({
      introspection: true,
      suggestions: false,
      graphiql: true,
    })
  })

  it('uses a given DynamoDB and shared secrets in production shape', () => {
    const config = loadConfig({
      AWS_REGION: 'eu-west-1',
      DYNAMODB_CREATE_TABLE: 'false',
      DYNAMODB_LEAN_READS: 'off',
      REDIS_URL: 'redis://cache:6379',
      JWT_SECRET: 's'.repeat(32),
      ID_SECRET: 'i'.repeat(32),
      CHAT_TTL_SECONDS: '5',
    })
    expect(usesEmbeddedDynamoDb(config)).toBe(false)
    expect(config.dynamodb.createTable).toBe(false)
    expect(config.dynamodb.leanReads).toBe(false)
    expect(config.chatTtlSeconds).toBe(5)
  })

  it('reads WORKERS as a count or "auto" (the available cores), requires Redis with it, and lists a bad one with the rest', () => {
    expect(loadConfig({}).workers).toBeUndefined()
    expect(loadConfig({ WORKERS: '3', REDIS_URL: 'redis://127.0.0.1:6379' }).workers).toBe(3)
    expect(loadConfig({ WORKERS: 'auto', REDIS_CLUSTER_NODES: '127.0.0.1:7000' }).workers).toBe(os.availableParallelism())
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig(env)
      } catch (error) {
        return (error as ConfigError).problems.join('\n')
      }
      return ''
    }
    const withoutRedis = problemsOf({ WORKERS: '2', PORT: 'x' })
    expect(withoutRedis).toContain('WORKERS needs Redis (REDIS_URL or REDIS_CLUSTER_NODES)')
    expect(withoutRedis).toContain('PORT must be')
    expect(problemsOf({ WORKERS: 'many', REDIS_URL: 'redis://127.0.0.1:6379' })).toContain('WORKERS must be "auto" or an integer from 1 to 1024 (got "many")')
    expect(problemsOf({ WORKERS: '0', REDIS_URL: 'redis://127.0.0.1:6379' })).toContain('WORKERS must be')
  })

  it('reads ADMIN_PORT (none by default), and names METRICS_PORT as renamed to it', () => {
    expect(loadConfig({}).adminPort).toBeUndefined()
    expect(loadConfig({ ADMIN_PORT: '9464' }).adminPort).toBe(9464)
    expect(loadConfig({ ADMIN_PORT: '0' }).adminPort).toBe(0)
    expect(() => loadConfig({ METRICS_PORT: '9464' })).toThrow('METRICS_PORT is now ADMIN_PORT')
    expect(() => loadConfig({ ADMIN_PORT: '70000' })).toThrow('ADMIN_PORT must be')
  })

  it('gives pushes the SPEC defaults: devices expire after 60 days, Web Push goes to the public push services only', () => {
    const { push } = loadConfig({})
    expect(push.deviceTtlDays).toBe(60)
    expect(push).toMatchObject({ collapseWindowMs: 5_000, maxAttempts: 8, maxDevicesPerUser: 10, webPush: true, apns: undefined, fcm: undefined })
    expect(push.allowedHosts).toEqual(['fcm.googleapis.com', 'updates.push.services.mozilla.com', '*.notify.windows.com', 'web.push.apple.com'])
    const hosts = new PushHostAllowList(push.allowedHosts)
    // The endpoints Chrome, Firefox, Edge and Safari hand out.
    for (const endpoint of [
      'https://fcm.googleapis.com/fcm/send/dGVzdA:APA91bH',
      'https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk',
      'https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD',
      'https://web.push.apple.com/QGxhbmd1YWdl',
    ]) {
      expect(hosts.allows(endpoint), endpoint).toBe(true)
    }
    for (const endpoint of ['https://127.0.0.1/push/1', 'https://localhost/push/1', 'https://169.254.169.254/latest/meta-data', 'https://push.example.com/x']) {
      expect(hosts.allows(endpoint), endpoint).toBe(false)
    }
  })

  it('reads DEVICE_TTL_DAYS as a whole number of days from 1', () => {
    expect(loadConfig({ DEVICE_TTL_DAYS: '30' }).push.deviceTtlDays).toBe(30)
    expect(problemsOf({ DEVICE_TTL_DAYS: '0' })).toContain('DEVICE_TTL_DAYS')
    expect(problemsOf({ DEVICE_TTL_DAYS: 'two months' })).toContain('DEVICE_TTL_DAYS')
  })

  it('reads PUSH_ALLOWED_HOSTS as a comma-separated list of host, host:port and *.domain that replaces the default', () => {
    const { allowedHosts } = loadConfig({ PUSH_ALLOWED_HOSTS: ' push.example.com , 127.0.0.1:8443,*.push.example.org,[::1]:9443,' }).push
    expect(allowedHosts).toEqual(['push.example.com', '127.0.0.1:8443', '*.push.example.org', '[::1]:9443'])
    const hosts = new PushHostAllowList(allowedHosts)
    expect(hosts.allows('https://push.example.com:444/x')).toBe(true)
    expect(hosts.allows('https://127.0.0.1:8443/push/1')).toBe(true)
    expect(hosts.allows('https://127.0.0.1:8444/push/1')).toBe(false)
    expect(hosts.allows('https://eu.push.example.org/x')).toBe(true)
    expect(hosts.allows('https://push.example.org/x')).toBe(false)
    expect(hosts.allows('https://[::1]:9443/push/1')).toBe(true)
    // Replaced, not added to: the public services are no longer allowed.
    expect(hosts.allows('https://fcm.googleapis.com/fcm/send/x')).toBe(false)
    expect(loadConfig({ PUSH_ALLOWED_HOSTS: ' , ' }).push.allowedHosts).toEqual(loadConfig({}).push.allowedHosts)
    for (const bad of ['https://push.example.com', 'push.example.com/path', 'user@push.example.com', 'push.example.com:https', 'push.example.com:123456', 'push example.com']) {
      expect(problemsOf({ PUSH_ALLOWED_HOSTS: `fcm.googleapis.com,${bad}` }), bad).toContain(`PUSH_ALLOWED_HOSTS entries must be host, host:port or *.domain (got "${bad}")`)
    }
  })
})
