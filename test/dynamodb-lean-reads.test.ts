import { randomBytes } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb'
import { SignatureV4 } from '@smithy/signature-v4'
import { afterEach, describe, expect, it, inject } from 'vitest'
import { DynamoChatStore } from '../src/infra/dynamodb/chat-store.js'
import { createDynamoClients, localCredentials, type DynamoClients } from '../src/infra/dynamodb/client.js'
import { createEntities } from '../src/infra/dynamodb/entities.js'
import { LeanReads, type LeanReadCommand } from '../src/infra/dynamodb/lean-reads.js'
import { createHushTable, ensureTable } from '../src/infra/dynamodb/table.js'

/**
 * Conformance of the lean read path (src/infra/dynamodb/lean-reads.ts) with the AWS SDK document
 * client it stands in for, on DynamoDB Local: the same answers, the same errors, the SDK's retry
 * behaviour, a signature that matches the request as sent, and only reads taken off the SDK.
 */

interface Seen {
  target: string
  fromSdk: boolean
  signatureMatches: boolean
}

/**
 * An HTTP relay in front of DynamoDB Local that checks each request's SigV4 signature against
 * what arrived, records which client sent it (the SDK sends its user agent; the lean path none),
 * and answers the next `faults` requests itself: a throttle, or a dropped connection.
 */
async function startRelay(upstream: URL) {
  const seen: Seen[] = []
  const faults: Array<'throttle' | 'drop'> = []
  // The SDK's own SHA-256, as a client resolves it.
  const { sha256 } = new DynamoDBClient({ region: 'us-east-1', credentials: localCredentials }).config
  const verifier = new SignatureV4({ credentials: localCredentials, region: 'us-east-1', service: 'dynamodb', sha256 })
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const target = String(req.headers['x-amz-target']).split('.').pop()!
        const authorization = String(req.headers.authorization)
        const signedNames = /SignedHeaders=([^,]+)/.exec(authorization)![1]!.split(';')
        const amzDate = String(req.headers['x-amz-date'])
        const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`)
        const headers = Object.fromEntries(signedNames.map((name) => [name, String(req.headers[name])]))
        const again = await verifier.sign({ method: req.method!, protocol: 'http:', hostname: '127.0.0.1', path: req.url!, query: {}, headers, body }, { signingDate })
        seen.push({ target, fromSdk: String(req.headers['user-agent'] ?? '').includes('aws-sdk-js'), signatureMatches: again.headers.authorization === authorization })
        const fault = faults.shift()
        if (fault === 'drop') return req.socket.destroy()
        if (fault === 'throttle') {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' })
          return res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate of requests exceeds the allowed throughput.' }))
        }
        const forwarded = http.request(
          { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 500, answer.headers)
            answer.pipe(res)
          },
        )
        forwarded.on('error', () => res.destroy())
        forwarded.end(body)
      })()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    inject: (...next: Array<'throttle' | 'drop'>) => faults.push(...next),
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
}

const closers: Array<() => unknown> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

function clientsOn(endpoint: string): DynamoClients {
  const clients = createDynamoClients(endpoint, 'us-east-1')
  closers.push(() => clients.destroy())
  return clients
}

/** A plain SDK document client, as Hush had before the lean path: the reference. */
function sdkReference(clients: DynamoClients): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(clients.client, { marshallOptions: { removeUndefinedValues: true } })
}

function leanOn(clients: DynamoClients, endpoint: string): LeanReads {
  return new LeanReads({ client: clients.client, endpoint, agents: { httpAgent: new http.Agent({ keepAlive: true }), httpsAgent: new https.Agent({ keepAlive: true }) }, removeUndefinedValues: true })
}

const withoutMetadata = ({ $metadata: _, ...rest }: Record<string, unknown>) => rest

async function tableWithItems(clients: DynamoClients): Promise<string> {
  const table = `lean-${randomBytes(4).toString('hex')}`
  await ensureTable(clients.client, table)
  const reference = sdkReference(clients)
  const items = [
    { pk: 'P#1', sk: 'A', text: 'héllo ✓', count: 42, price: 19.99, big: 9_007_199_254_740_991, yes: true, nothing: null, list: [1, 'two', { three: 3 }], map: { nested: { deeper: ['x'] } } },
    { pk: 'P#1', sk: 'B', tags: new Set(['a', 'b']), scores: new Set([1, 2.5]), bytes: new Uint8Array([0, 1, 254, 255]), empty: '' },
    ...Array.from({ length: 7 }, (_, i) => ({ pk: 'P#2', sk: `M#${String(i).padStart(3, '0')}`, seq: i, senderId: i % 2 ? 'u1' : 'u2' })),
  ]
  for (const Item of items) await reference.send(new PutCommand({ TableName: table, Item }))
  return table
}

/** A table with items, the lean path and the SDK reference, on DynamoDB Local itself. */
async function sidesOn(endpoint: string) {
  const clients = clientsOn(endpoint)
  const table = await tableWithItems(clients)
  return { table, lean: leanOn(clients, endpoint), reference: sdkReference(clients) }
}

describe('lean DynamoDB reads', () => {
  const upstream = inject('dynamodbEndpoint')

  it('answers every read exactly as the AWS SDK document client does', async () => {
    const { table, lean, reference } = await sidesOn(upstream)
    const commands: Array<() => LeanReadCommand> = [
      () => new GetCommand({ TableName: table, Key: { pk: 'P#1', sk: 'A' }, ConsistentRead: true }),
      () => new GetCommand({ TableName: table, Key: { pk: 'P#1', sk: 'B' } }),
      () => new GetCommand({ TableName: table, Key: { pk: 'P#1', sk: 'missing' }, ReturnConsumedCapacity: 'TOTAL' }),
      () => new GetCommand({ TableName: table, Key: { pk: 'P#1', sk: 'A' }, ProjectionExpression: '#t, #m.nested', ExpressionAttributeNames: { '#t': 'text', '#m': 'map' } }),
      () =>
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          FilterExpression: 'senderId = :sender',
          ExpressionAttributeValues: { ':pk': 'P#2', ':prefix': 'M#', ':sender': 'u1' },
          ScanIndexForward: false,
          ConsistentRead: true,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      () => new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'P#2' }, Limit: 3 }),
      () => new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'P#2' }, Limit: 3, ExclusiveStartKey: { pk: 'P#2', sk: 'M#002' } }),
      () => new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'P#2' }, Select: 'COUNT' }),
      () =>
        new BatchGetCommand({
          RequestItems: { [table]: { Keys: [{ pk: 'P#1', sk: 'A' }, { pk: 'P#1', sk: 'B' }, { pk: 'P#9', sk: 'none' }], ConsistentRead: false } },
          ReturnConsumedCapacity: 'INDEXES',
        }),
    ]
    for (const command of commands) {
      const expected = withoutMetadata((await reference.send(command() as never)) as Record<string, unknown>)
      const answered = await lean.send(command())
      expect(withoutMetadata(answered), JSON.stringify(command().input)).toEqual(expected)
      expect(answered.$metadata).toMatchObject({ httpStatusCode: 200, attempts: 1 })
    }
  })

  it('throws the errors DynamoDB answers under the names and messages the SDK gives them, without retrying them', async () => {
    const { table, lean, reference } = await sidesOn(upstream)
    const failing: Array<() => LeanReadCommand> = [
      () => new GetCommand({ TableName: `${table}-gone`, Key: { pk: 'x', sk: 'y' } }),
      () => new GetCommand({ TableName: table, Key: { pk: 'x' } }),
      () => new QueryCommand({ TableName: table, KeyConditionExpression: 'nope = :v', ExpressionAttributeValues: { ':v': 1 } }),
    ]
    for (const command of failing) {
      const expected = (await reference.send(command() as never).catch((error: unknown) => error)) as Error & { $metadata: { httpStatusCode: number } }
      const thrown = (await lean.send(command()).catch((error: unknown) => error)) as Error & { $fault: string; $metadata: { httpStatusCode: number; attempts: number } }
      expect(expected).toBeInstanceOf(Error)
      expect({ name: thrown.name, message: thrown.message, status: thrown.$metadata.httpStatusCode }).toEqual({
        name: expected.name,
        message: expected.message,
        status: expected.$metadata.httpStatusCode,
      })
      expect(thrown.$fault).toBe('client')
      expect(thrown.$metadata.attempts).toBe(1)
    }
  })

  it('retries throttles and dropped connections as the SDK does, and gives up after as many attempts as it does', async () => {
    const relay = await startRelay(new URL(upstream))
    closers.push(relay.close)
    const clients = clientsOn(relay.endpoint)
    const table = await tableWithItems(clientsOn(upstream))
    const lean = leanOn(clients, relay.endpoint)
    const input = { TableName: table, Key: { pk: 'P#1', sk: 'A' } }
    const leanRead = () => lean.send(new GetCommand(input))
    // An abort signal keeps a read on the SDK's own path: the reference.
    const sdkRead = () => clients.documentClient.send(new GetCommand(input), { abortSignal: new AbortController().signal })

    relay.inject('throttle', 'drop')
    const answered = await leanRead()
    expect(answered.Item).toMatchObject({ text: 'héllo ✓', count: 42 })
    expect(answered.$metadata).toMatchObject({ attempts: 3 })
    expect((answered.$metadata as { totalRetryDelay: number }).totalRetryDelay).toBeGreaterThan(0)

    const maxAttempts = await clients.client.config.maxAttempts()
    const failures = Array.from({ length: maxAttempts }, () => 'throttle' as const)
    const outcomes = []
    for (const read of [sdkRead, leanRead]) {
      relay.inject(...failures)
      const thrown = (await read().catch((error: unknown) => error)) as Error & { $metadata: { attempts: number } }
      outcomes.push({ name: thrown.name, attempts: thrown.$metadata.attempts })
    }
    expect(outcomes).toEqual([
      { name: 'ThrottlingException', attempts: maxAttempts },
      { name: 'ThrottlingException', attempts: maxAttempts },
    ])
    expect((await leanRead()).Item).toMatchObject({ count: 42 })
  }, 60_000)

  it('signs each request as it goes on the wire, and takes only the reads off the SDK', async () => {
    const relay = await startRelay(new URL(upstream))
    closers.push(relay.close)
    const requests: string[] = []
    const clients = createDynamoClients(relay.endpoint, 'us-east-1', { onRequest: (command, outcome) => requests.push(`${command} ${outcome}`) })
    closers.push(() => clients.destroy())
    const table = `lean-${randomBytes(4).toString('hex')}`
    await ensureTable(clients.client, table)
    const { documentClient } = clients
    await documentClient.send(new PutCommand({ TableName: table, Item: { pk: 'a', sk: 'b', n: 1 } }))
    await documentClient.send(
      new TransactWriteCommand({ TransactItems: [{ Put: { TableName: table, Item: { pk: 'a', sk: 'c', n: 2 } } }, { Put: { TableName: table, Item: { pk: 'a', sk: 'd', n: 3 } } }] }),
    )
    relay.seen.length = 0
    requests.length = 0
    expect((await documentClient.send(new GetCommand({ TableName: table, Key: { pk: 'a', sk: 'b' } }))).Item).toEqual({ pk: 'a', sk: 'b', n: 1 })
    expect((await documentClient.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'a' } }))).Count).toBe(3)
    const batch = await documentClient.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: [{ pk: 'a', sk: 'c' }, { pk: 'a', sk: 'd' }] } } }))
    expect(batch.Responses?.[table]).toHaveLength(2)
    await documentClient.send(new PutCommand({ TableName: table, Item: { pk: 'a', sk: 'e' } }))
    // The store's reads, as dynamodb-toolbox sends them (its batch get passes empty options).
    const store = new DynamoChatStore(createEntities(createHushTable(documentClient, table)))
    await store.getChat('c1')
    await store.getChats(['c1', 'c2'])
    await store.listChatIds('u1')

    const reads = ['GetItem', 'BatchGetItem', 'Query'].map((target) => `${target} lean`)
    expect(relay.seen.map(({ target, fromSdk }) => `${target} ${fromSdk ? 'sdk' : 'lean'}`)).toEqual(['GetItem lean', 'Query lean', 'BatchGetItem lean', 'PutItem sdk', ...reads])
    expect(relay.seen.every((request) => request.signatureMatches)).toBe(true)
    expect(requests).toEqual(['GetItem ok', 'Query ok', 'BatchGetItem ok', 'PutItem ok', 'GetItem ok', 'BatchGetItem ok', 'Query ok'])
  })

  it('leaves a read to the SDK when it is sent with options (an abort signal) or the lean path is switched off', async () => {
    const relay = await startRelay(new URL(upstream))
    closers.push(relay.close)
    const clients = clientsOn(relay.endpoint)
    const switchedOff = createDynamoClients(relay.endpoint, 'us-east-1', { leanReads: false })
    closers.push(() => switchedOff.destroy())
    const table = await tableWithItems(clientsOn(upstream))
    const read = new GetCommand({ TableName: table, Key: { pk: 'P#1', sk: 'A' } })
    relay.seen.length = 0
    await clients.documentClient.send(read, { abortSignal: new AbortController().signal })
    await switchedOff.documentClient.send(new GetCommand(read.input))
    await clients.documentClient.send(new GetCommand(read.input))
    expect(relay.seen.map(({ fromSdk }) => (fromSdk ? 'sdk' : 'lean'))).toEqual(['sdk', 'sdk', 'lean'])
  })
})
