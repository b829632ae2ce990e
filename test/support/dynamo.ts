import { ScanCommand } from '@aws-sdk/lib-dynamodb'
import { createDynamoClients } from '../../src/infra/dynamodb/client.js'
import type { TestApp } from './app.js'

/**
 * Every stored item of a test app's table whose attributes mention `needle`. A scan is fine in a
 * test that checks what is left; the app itself never scans.
 */
export async function itemsMentioning(app: TestApp, needle: string): Promise<Record<string, unknown>[]> {
  const { documentClient, client, streamsClient } = createDynamoClients(app.dynamodbEndpoint, app.config.dynamodb.region)
  try {
    const found: Record<string, unknown>[] = []
    let exclusiveStartKey: Record<string, unknown> | undefined
    do {
      const page = await documentClient.send(
        new ScanCommand({ TableName: app.config.dynamodb.table, ExclusiveStartKey: exclusiveStartKey, ConsistentRead: true }),
      )
      for (const item of page.Items ?? []) if (JSON.stringify(item).includes(needle)) found.push(item)
      exclusiveStartKey = page.LastEvaluatedKey
    } while (exclusiveStartKey)
    return found
  } finally {
    client.destroy()
    streamsClient.destroy()
  }
}
