import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams'
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'

/** DynamoDB Local accepts any letters-and-digits credentials but needs some; a fixed pair keeps its data in one file. */
export const localCredentials = { accessKeyId: 'hushlocal', secretAccessKey: 'hushlocal' }

export interface DynamoClients {
  client: DynamoDBClient
  documentClient: DynamoDBDocumentClient
  streamsClient: DynamoDBStreamsClient
}

/**
 * With an endpoint (DynamoDB Local, embedded or not) fixed local credentials are used; without
 * one the AWS SDK's usual chain picks the region and credentials of the real DynamoDB.
 */
export function createDynamoClients(endpoint: string | undefined, region: string | undefined): DynamoClients {
  const settings =
    endpoint === undefined ? { region } : { endpoint, region: region ?? 'us-east-1', credentials: localCredentials }
  const client = new DynamoDBClient(settings)
  const streamsClient = new DynamoDBStreamsClient(settings)
  const documentClient = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  })
  return { client, documentClient, streamsClient }
}

/** True for the error of a single write whose condition did not hold. */
export const isConditionalCheckFailure = (error: unknown): boolean =>
  (error as Error | undefined)?.name === 'ConditionalCheckFailedException'
