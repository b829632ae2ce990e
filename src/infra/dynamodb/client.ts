import http from 'node:http'
import https from 'node:https'
import { DescribeTableCommand, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb'
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams'
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { capacityOf, LeanReads, withLeanReads } from './lean-reads.js'

/** DynamoDB Local accepts any letters-and-digits credentials but needs some; a fixed pair keeps its data in one file. */
export const localCredentials = { accessKeyId: 'hushlocal', secretAccessKey: 'hushlocal' }

/**
 * Sockets of the main client's pool (keep-alive), the SDK's default made explicit: past it,
 * requests wait in the agent's queue, which is bounded concurrency towards DynamoDB. A larger pool
 * did not shorten the reconnect storm (`npm run bench:storm -- --conns=3000`: 56 s with 256
 * sockets, 35 s with 50, on DynamoDB Local and a shared 2-core machine). What made the storm feed
 * itself was readiness waiting in this queue; it no longer does (`check`).
 */
export const DYNAMODB_MAX_SOCKETS = 50

/** Sockets of the readiness client: one check at a time runs (Readiness joins probes), two spare. */
const PROBE_MAX_SOCKETS = 2
/** The readiness client gives up on a socket that does not connect or answer within these. */
const PROBE_CONNECTION_TIMEOUT_MS = 1_000
const PROBE_REQUEST_TIMEOUT_MS = 1_500
/** Any answer from DynamoDB on the main client this recent proves DynamoDB reachable. */
const RECENT_ANSWER_MS = 1_000

export interface DynamoClients {
  client: DynamoDBClient
  documentClient: DynamoDBDocumentClient
  streamsClient: DynamoDBStreamsClient
  /**
   * Throws unless DynamoDB answers: what readiness checks. It never waits in the main client's
   * queue: a saturated pool (a reconnect storm) is a busy host, not an unreachable DynamoDB. An
   * answer to any request of the main client within the last second is proof enough; otherwise a
   * DescribeTable goes out on a client of its own (own agent, two sockets, one attempt, 1.5 s).
   */
  check(tableName: string): Promise<void>
  destroy(): void
}

export interface DynamoClientOptions {
  /** The main client's pool size. Default DYNAMODB_MAX_SOCKETS. */
  maxSockets?: number
  /** The document client's GetItem, BatchGetItem and Query on the lean path (lean-reads.ts). Default true. */
  leanReads?: boolean
  /**
   * Called after each request of the main client: its command (GetItem …), outcome (ok or the
   * error's name), duration and the capacity units DynamoDB reported, when it was asked to.
   */
  onRequest?: (command: string, outcome: string, seconds: number, capacityUnits: number | undefined) => void
}

const agents = (maxSockets: number) => ({
  httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
  httpsAgent: new https.Agent({ keepAlive: true, maxSockets }),
})

/**
 * With an endpoint (DynamoDB Local, embedded or not) fixed local credentials are used; without
 * one the AWS SDK's usual chain picks the region and credentials of the real DynamoDB.
 */
export function createDynamoClients(endpoint: string | undefined, region: string | undefined, options: DynamoClientOptions = {}): DynamoClients {
  const settings: DynamoDBClientConfig =
    endpoint === undefined ? { region } : { endpoint, region: region ?? 'us-east-1', credentials: localCredentials }
  const main = agents(options.maxSockets ?? DYNAMODB_MAX_SOCKETS)
  const client = new DynamoDBClient({ ...settings, requestHandler: main })
  const streamsClient = new DynamoDBStreamsClient(settings)
  const probe = agents(PROBE_MAX_SOCKETS)
  const probeClient = new DynamoDBClient({
    ...settings,
    maxAttempts: 1,
    // Without throwOnRequestTimeout the SDK only logs a request past its requestTimeout.
    requestHandler: { ...probe, connectionTimeout: PROBE_CONNECTION_TIMEOUT_MS, requestTimeout: PROBE_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true },
  })
  // Any HTTP answer below 500, an error one included (a failed condition, a throttle), proves
  // DynamoDB reachable and serving.
  let lastAnswerAt = -Infinity
  const answered = (status: number | undefined) => {
    if (status !== undefined && status < 500) lastAnswerAt = performance.now()
  }
  const sdkDocumentClient = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } })
  const lean = options.leanReads !== false && new LeanReads({ client, endpoint, agents: main, removeUndefinedValues: true, hooks: { onAnswer: answered, onRequest: options.onRequest } })
  const documentClient = lean ? withLeanReads(sdkDocumentClient, lean) : sdkDocumentClient

  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        const result = await next(args)
        answered(200)
        return result
      } catch (error) {
        answered((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode)
        throw error
      }
    },
    { step: 'deserialize', name: 'hushLastAnswer' },
  )

  if (options.onRequest) observeRequests(client, options.onRequest)

  return {
    client,
    documentClient,
    streamsClient,
    async check(tableName) {
      if (performance.now() - lastAnswerAt < RECENT_ANSWER_MS) return
      await probeClient.send(new DescribeTableCommand({ TableName: tableName }))
    },
    destroy() {
      client.destroy()
      streamsClient.destroy()
      probeClient.destroy()
      for (const agent of [main.httpAgent, main.httpsAgent, probe.httpAgent, probe.httpsAgent]) agent.destroy()
    },
  }
}

/** True for the error of a single write whose condition did not hold. */
export const isConditionalCheckFailure = (error: unknown): boolean =>
  (error as Error | undefined)?.name === 'ConditionalCheckFailedException'

/** The answer of a single conditional write, or undefined when its condition did not hold. */
export async function unlessConditionFails<T>(send: () => Promise<T>): Promise<T | undefined> {
  try {
    return await send()
  } catch (error) {
    if (isConditionalCheckFailure(error)) return undefined
    throw error
  }
}

/** Reports each request of `client`: its command, outcome, duration and the capacity it consumed. */
function observeRequests(client: DynamoDBClient, onRequest: NonNullable<DynamoClientOptions['onRequest']>): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const started = performance.now()
      const command = (context.commandName ?? 'Unknown').replace(/Command$/, '')
      try {
        const result = await next(args)
        onRequest(command, 'ok', (performance.now() - started) / 1000, capacityOf(result.output))
        return result
      } catch (error) {
        onRequest(command, (error as Error).name || 'Error', (performance.now() - started) / 1000, undefined)
        throw error
      }
    },
    { step: 'initialize', name: 'hushObserveRequest' },
  )
}
