import type { Logger } from 'pino'
import { usesEmbeddedDynamoDb, type Config } from '../config.js'
import { createDynamoClients } from '../infra/dynamodb/client.js'
import { launchDynamoDbLocal } from '../infra/dynamodb/launcher.js'
import { ensureTable } from '../infra/dynamodb/table.js'
import type { Lifecycle } from './lifecycle.js'
import { resolveSecrets } from './storage.js'

/**
 * What the primary of worker mode does once, before it forks: everything the embedded default
 * would otherwise create in each process. It launches the one DynamoDB Local (under DATA_DIR; two
 * would fight over its files), settles the secrets, and creates the table; then it returns the
 * environment that makes each worker an ordinary process of a deployment: DYNAMODB_ENDPOINT of
 * that DynamoDB Local, JWT_SECRET and ID_SECRET, and DYNAMODB_CREATE_TABLE=false, so that no two
 * workers race to create anything. What it launched stops with `lifecycle`.
 */
export async function prepareWorkers(config: Config, logger: Logger, lifecycle: Lifecycle): Promise<Record<string, string>> {
  const env: Record<string, string> = {}
  let endpoint = config.dynamodb.endpoint
  if (usesEmbeddedDynamoDb(config)) {
    const embedded = await launchDynamoDbLocal({ dataDir: config.dataDir, logger })
    lifecycle.onStop(() => embedded.stop())
    endpoint = embedded.endpoint
    // The workers see an endpoint, so they need the secrets given: the ones kept under DATA_DIR.
    const secrets = await resolveSecrets(config)
    Object.assign(env, { DYNAMODB_ENDPOINT: endpoint, JWT_SECRET: secrets.jwtSecret, ID_SECRET: secrets.idSecret })
  }
  if (config.dynamodb.createTable) {
    const clients = createDynamoClients(endpoint, config.dynamodb.region)
    try {
      await ensureTable(clients.client, config.dynamodb.table)
    } finally {
      clients.client.destroy()
      clients.streamsClient.destroy()
    }
    env.DYNAMODB_CREATE_TABLE = 'false'
  }
  return env
}
