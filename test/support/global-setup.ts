import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { pino } from 'pino'
import type { TestProject } from 'vitest/node'
import { launchDynamoDbLocal } from '../../src/infra/dynamodb/launcher.js'

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string
    redisUrl: string
  }
}

/**
 * Launches DynamoDB Local once for the suite and checks Redis. The Redis suites never skip: when
 * Redis is not reachable the whole run fails here with the reason.
 */
export default async function setup(project: TestProject) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-test-'))
  const dynamodb = await launchDynamoDbLocal({ dataDir, logger: pino({ level: 'warn' }) })
  const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
  try {
    await redis.connect()
    await redis.ping()
  } catch (error) {
    await dynamodb.stop()
    throw new Error(`Redis is required at ${redisUrl} for the test suite: ${(error as Error).message}`)
  } finally {
    redis.disconnect()
  }
  project.provide('dynamodbEndpoint', dynamodb.endpoint)
  project.provide('redisUrl', redisUrl)
  return async () => {
    await dynamodb.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
