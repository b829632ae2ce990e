import http from 'node:http'
import https from 'node:https'
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { BatchGetCommand, GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { convertToAttr, unmarshall, type NativeAttributeValue } from '@aws-sdk/util-dynamodb'
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry'
import { SignatureV4 } from '@smithy/signature-v4'
import type { RetryErrorType } from '@smithy/types'

/**
 * The reads of every connect and catch-up (GetItem, BatchGetItem, Query) sent without the AWS SDK's
 * middleware stack; see docs/decisions/0004-lean-dynamodb-reads.md for why and what was measured.
 *
 * What stays the SDK's: the client's resolved credentials (refreshed by its provider chain),
 * region, endpoint resolution, SHA-256, its retry strategy instance (so both paths draw on one
 * retry quota) and its error classification, and the marshalling of @aws-sdk/util-dynamodb with
 * the options the document client is given. What this adds is the wire: a JSON body in the
 * DynamoDB 2012-08-10 protocol, signed by @smithy/signature-v4, over the main client's own
 * keep-alive agents (one pool, one bound on sockets). test/dynamodb-lean-reads.test.ts holds it
 * to the SDK's answers and errors, byte for byte, on DynamoDB Local.
 */

export type LeanReadCommand = GetCommand | QueryCommand | BatchGetCommand

type AttributeMap = Record<string, unknown>
type NativeMap = Record<string, NativeAttributeValue>
interface ResponseMetadata {
  httpStatusCode: number
  requestId: string | undefined
  attempts: number
  totalRetryDelay: number
}

export interface LeanReadHooks {
  /** Each HTTP answer, whatever its status (readiness counts an answer below 500 as DynamoDB up). */
  onAnswer?: (status: number) => void
  /** Each request, as the SDK path reports it: command, outcome, duration, capacity units. */
  onRequest?: (command: string, outcome: string, seconds: number, capacityUnits: number | undefined) => void
}

/** What the lean path takes from the SDK client it sits beside. */
export interface LeanReadSetup {
  client: DynamoDBClient
  /** The endpoint the client was given, or undefined for the region's (resolved by the SDK's rules). */
  endpoint: string | undefined
  agents: { httpAgent: http.Agent; httpsAgent: https.Agent }
  /** The document client's marshalling options. */
  removeUndefinedValues: boolean
  hooks?: LeanReadHooks
}

/** An error DynamoDB answered, shaped as the SDK's service exceptions are where Hush reads them. */
export class DynamoDBServiceError extends Error {
  readonly $fault: 'client' | 'server'
  readonly $metadata: { httpStatusCode: number; requestId: string | undefined; attempts: number }

  constructor(name: string, message: string, status: number, requestId: string | undefined, attempts: number) {
    super(message)
    this.name = name
    this.$fault = status >= 500 ? 'server' : 'client'
    this.$metadata = { httpStatusCode: status, requestId, attempts }
  }
}

/** The protocol's operation name of each command this path sends. */
const targetOf = (command: LeanReadCommand): string =>
  command instanceof GetCommand ? 'GetItem' : command instanceof QueryCommand ? 'Query' : 'BatchGetItem'

export class LeanReads {
  private readonly signer: SignatureV4
  private readonly config: DynamoDBClient['config']
  private readonly marshallOptions: { removeUndefinedValues: boolean }
  /** Resolved on the first request, then kept: both stay the same for the client's life. */
  private url: URL | undefined
  private retryStrategy: Awaited<ReturnType<DynamoDBClient['config']['retryStrategy']>> | undefined

  constructor(private readonly setup: LeanReadSetup) {
    this.config = setup.client.config
    this.marshallOptions = { removeUndefinedValues: setup.removeUndefinedValues }
    this.signer = new SignatureV4({
      credentials: this.config.credentials,
      region: this.config.region,
      service: 'dynamodb',
      sha256: this.config.sha256,
    })
  }

  /** True for the commands this path sends; the legacy parameters (KeyConditions, QueryFilter) stay the SDK's. */
  accepts(command: unknown): command is LeanReadCommand {
    if (!(command instanceof GetCommand || command instanceof QueryCommand || command instanceof BatchGetCommand)) return false
    const input = command.input as { KeyConditions?: unknown; QueryFilter?: unknown }
    return input.KeyConditions === undefined && input.QueryFilter === undefined
  }

  async send(command: LeanReadCommand): Promise<Record<string, unknown>> {
    const target = targetOf(command)
    const body = JSON.stringify(this.marshallInput(command))
    const started = performance.now()
    try {
      const { output, $metadata } = await this.withRetries(target, body)
      this.setup.hooks?.onRequest?.(target, 'ok', (performance.now() - started) / 1000, capacityOf(output))
      return { ...unmarshallOutput(command, output), $metadata }
    } catch (error) {
      this.setup.hooks?.onRequest?.(target, (error as Error).name || 'Error', (performance.now() - started) / 1000, undefined)
      throw error
    }
  }

  /** The SDK's retry loop: its strategy decides whether and when, from its own classification. */
  private async withRetries(target: string, body: string): Promise<{ output: AttributeMap; $metadata: ResponseMetadata }> {
    const strategy = (this.retryStrategy ??= await this.config.retryStrategy())
    if (!('acquireInitialRetryToken' in strategy)) throw new Error('The DynamoDB client has no RetryStrategyV2')
    let token = await strategy.acquireInitialRetryToken('dynamodb')
    let totalRetryDelay = 0
    for (let attempts = 1; ; attempts++) {
      try {
        const { output, requestId } = await this.request(target, body, attempts)
        strategy.recordSuccess(token)
        return { output, $metadata: { httpStatusCode: 200, requestId, attempts, totalRetryDelay } }
      } catch (error) {
        // The strategy either waits itself (the SDK's does) or returns a token with the delay to wait.
        const asked = performance.now()
        try {
          token = await strategy.refreshRetryTokenForRetry(token, { errorType: errorTypeOf(error as Error) })
        } catch {
          throw error
        }
        if (token.getRetryDelay() > 0) await new Promise((resolve) => setTimeout(resolve, token.getRetryDelay()))
        totalRetryDelay += Math.round(performance.now() - asked)
      }
    }
  }

  private async request(target: string, body: string, attempts: number): Promise<{ output: AttributeMap; requestId: string | undefined }> {
    const url = (this.url ??= await this.resolveUrl())
    const signed = await this.signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: url.pathname,
      query: {},
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${target}`,
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    })
    const secure = url.protocol === 'https:'
    const { status, requestId, text } = await new Promise<{ status: number; requestId: string | undefined; text: string }>((resolve, reject) => {
      const req = (secure ? https : http).request(
        {
          agent: secure ? this.setup.agents.httpsAgent : this.setup.agents.httpAgent,
          hostname: url.hostname,
          port: url.port,
          method: 'POST',
          path: url.pathname,
          headers: signed.headers,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('error', reject)
          res.on('end', () => {
            const header = res.headers['x-amzn-requestid']
            resolve({ status: res.statusCode ?? 0, requestId: typeof header === 'string' ? header : undefined, text: Buffer.concat(chunks).toString('utf8') })
          })
        },
      )
      req.on('error', reject)
      req.end(body)
    })
    this.setup.hooks?.onAnswer?.(status)
    if (status === 200) return { output: JSON.parse(text) as AttributeMap, requestId }
    throw errorOf(status, requestId, text, attempts)
  }

  private async resolveUrl(): Promise<URL> {
    const region = await this.config.region()
    const endpoint = this.setup.endpoint
    const resolved = this.config.endpointProvider({ Region: region, ...(endpoint === undefined ? {} : { Endpoint: endpoint }) }, {})
    return new URL(resolved.url.href)
  }

  /** The document client's input with every value in DynamoDB's typed form, as lib-dynamodb marshals it. */
  private marshallInput(command: LeanReadCommand): AttributeMap {
    const toAttributes = (values: NativeMap | undefined) =>
      values &&
      Object.fromEntries(
        Object.entries(values).flatMap(([name, value]) =>
          value === undefined && this.marshallOptions.removeUndefinedValues ? [] : [[name, binaryAsBase64(convertToAttr(value, this.marshallOptions))]],
        ),
      )
    if (command instanceof GetCommand) return { ...command.input, Key: toAttributes(command.input.Key) }
    if (command instanceof QueryCommand) {
      const { ExclusiveStartKey, ExpressionAttributeValues } = command.input
      return { ...command.input, ExclusiveStartKey: toAttributes(ExclusiveStartKey), ExpressionAttributeValues: toAttributes(ExpressionAttributeValues) }
    }
    const requestItems = Object.fromEntries(
      Object.entries(command.input.RequestItems ?? {}).map(([table, request]) => [table, { ...request, Keys: request.Keys?.map((key) => toAttributes(key)) }]),
    )
    return { ...command.input, RequestItems: requestItems }
  }
}

/**
 * The JSON protocol carries binary as base64 (B, BS), where util-dynamodb works on bytes: the
 * SDK's serializer and deserializer convert it, and so do these two walks.
 */
function binaryAsBase64(value: AttributeValue): AttributeValue {
  if (value.B) return { B: Buffer.from(value.B).toString('base64') as never }
  if (value.BS) return { BS: value.BS.map((bytes) => Buffer.from(bytes).toString('base64')) as never }
  if (value.M) return { M: Object.fromEntries(Object.entries(value.M).map(([name, inner]) => [name, binaryAsBase64(inner)])) }
  if (value.L) return { L: value.L.map(binaryAsBase64) }
  return value
}

function binaryAsBytes(value: AttributeValue): AttributeValue {
  const bytes = (base64: unknown) => new Uint8Array(Buffer.from(base64 as string, 'base64'))
  if (value.B !== undefined) return { B: bytes(value.B) }
  if (value.BS) return { BS: value.BS.map(bytes) }
  if (value.M) return { M: itemAsBytes(value.M) }
  if (value.L) return { L: value.L.map(binaryAsBytes) }
  return value
}

function itemAsBytes(item: Record<string, AttributeValue>): Record<string, AttributeValue> {
  let copy: Record<string, AttributeValue> | undefined
  for (const name in item) {
    const value = item[name]!
    const converted = value.S !== undefined || value.N !== undefined ? value : binaryAsBytes(value)
    if (converted !== value) (copy ??= { ...item })[name] = converted
  }
  return copy ?? item
}

/** DynamoDB's answer with every item in native form, as lib-dynamodb unmarshals it. */
function unmarshallOutput(command: LeanReadCommand, output: AttributeMap): Record<string, unknown> {
  const native = (item: unknown) => (item === undefined ? undefined : unmarshall(itemAsBytes(item as Record<string, AttributeValue>)))
  if (command instanceof GetCommand) return withoutUndefined({ ...output, Item: native(output.Item) })
  if (command instanceof QueryCommand) {
    const items = output.Items as unknown[] | undefined
    return withoutUndefined({ ...output, Items: items?.map(native), LastEvaluatedKey: native(output.LastEvaluatedKey) })
  }
  const responses = output.Responses as Record<string, unknown[]> | undefined
  const unprocessed = output.UnprocessedKeys as Record<string, { Keys?: unknown[] }> | undefined
  return withoutUndefined({
    ...output,
    Responses: responses && Object.fromEntries(Object.entries(responses).map(([table, items]) => [table, items.map(native)])),
    UnprocessedKeys: unprocessed && Object.fromEntries(Object.entries(unprocessed).map(([table, request]) => [table, { ...request, Keys: request.Keys?.map(native) }])),
  })
}

/** The SDK leaves a member out of its output where DynamoDB's answer had none. */
function withoutUndefined(output: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(output)) if (output[key] === undefined) delete output[key]
  return output
}

function errorOf(status: number, requestId: string | undefined, text: string, attempts: number): DynamoDBServiceError {
  let parsed: { __type?: string; message?: string; Message?: string } = {}
  try {
    parsed = JSON.parse(text) as typeof parsed
  } catch {
    // not JSON (a proxy's page): the status is all there is
  }
  const name = parsed.__type?.split('#').pop() || (status >= 500 ? 'InternalServerError' : 'UnknownError')
  return new DynamoDBServiceError(name, parsed.message ?? parsed.Message ?? `DynamoDB answered ${status}`, status, requestId, attempts)
}

function errorTypeOf(error: Error): RetryErrorType {
  const classified = error as Parameters<typeof isThrottlingError>[0]
  if (isThrottlingError(classified)) return 'THROTTLING'
  if (isTransientError(classified)) return 'TRANSIENT'
  if (isServerError(classified)) return 'SERVER_ERROR'
  return 'CLIENT_ERROR'
}

/** The capacity units an answer reports (one entry, or one per table of a batch or transaction). */
export function capacityOf(output: unknown): number | undefined {
  const consumed = (output as { ConsumedCapacity?: { CapacityUnits?: number } | Array<{ CapacityUnits?: number }> } | undefined)?.ConsumedCapacity
  if (consumed === undefined) return undefined
  return (Array.isArray(consumed) ? consumed : [consumed]).reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0)
}

/**
 * The document client Hush's tables use: the reads `lean` accepts go its way, every other command
 * (writes, transactions, anything it does not take) through the SDK as before.
 */
export function withLeanReads(documentClient: DynamoDBDocumentClient, lean: LeanReads): DynamoDBDocumentClient {
  const viaSdk = documentClient.send.bind(documentClient) as (command: unknown, options?: unknown) => Promise<unknown>
  const routed = Object.create(documentClient) as DynamoDBDocumentClient
  // Options (an abort signal) are the SDK's to honour: a command sent with any goes its way. An
  // empty object is none (dynamodb-toolbox's batch get passes one).
  const send = (command: unknown, options?: unknown) =>
    isEmpty(options) && lean.accepts(command) ? lean.send(command) : viaSdk(command, options)
  Object.defineProperty(routed, 'send', { value: send })
  return routed
}

const isEmpty = (options: unknown): boolean => options === undefined || (typeof options === 'object' && options !== null && Object.keys(options).length === 0)
