import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb'
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { Table } from 'dynamodb-toolbox/table'

/** The attribute DynamoDB TTL reads: epoch seconds after which an item may be deleted. */
export const TTL_ATTRIBUTE = 'ttl'

/**
 * Hush keeps everything in one table (see docs/data-model.md): a string partition and sort key,
 * TTL on `ttl`, and a stream whose TTL removals cascade. No secondary index: every access pattern
 * is served by the primary key (and DynamoDB Local 1.25.1 never runs TTL on a table with a GSI).
 */
export function createHushTable(documentClient: DynamoDBDocumentClient, name: string) {
  return new Table({
    name,
    documentClient,
    partitionKey: { name: 'pk', type: 'string' },
    sortKey: { name: 'sk', type: 'string' },
  })
}

export type HushTable = ReturnType<typeof createHushTable>

/**
 * Creates the table with its index, stream and TTL when it is missing, and enables TTL on an
 * existing table that lacks it. Safe to run from several processes at once.
 */
export async function ensureTable(client: DynamoDBClient, name: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: name }))
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error
    try {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'OLD_IMAGE' },
        }),
      )
    } catch (createError) {
      if (!(createError instanceof ResourceInUseException)) throw createError
    }
  }
  await waitUntilActive(client, name)
  const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: name }))
  const status = ttl.TimeToLiveDescription?.TimeToLiveStatus
  if (status !== 'ENABLED' && status !== 'ENABLING') {
    try {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
        }),
      )
    } catch (ttlError) {
      // Several processes starting at once (workers, hosts) all see TTL off and race to turn it
      // on; the losers are told it already is, which is what they wanted.
      if (!(ttlError instanceof Error && /already enabled/i.test(ttlError.message))) throw ttlError
    }
  }
}

async function waitUntilActive(client: DynamoDBClient, name: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const { Table: description } = await client.send(new DescribeTableCommand({ TableName: name }))
    if (description?.TableStatus === 'ACTIVE') return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`table ${name} did not become ACTIVE`)
}
