/**
 * A metering proxy in front of DynamoDB Local: Hush talks to it as to DynamoDB, and it counts
 * every request by operation and the capacity it would cost on AWS. It asks DynamoDB Local for
 * ReturnConsumedCapacity on every call that takes it, and uses the answer for single-item writes
 * and for reads, where DynamoDB Local applies AWS's rules (1 WCU per KB written; 1 RCU per 4 KB
 * read strongly, half that eventually consistent). For transactions DynamoDB Local's figure is
 * not AWS's (three small puts: it reports 4, AWS charges 6), so a transaction is counted by AWS's
 * published rule instead: 2 WCU per KB of each item it writes, deletes or checks, and 2 RCU per
 * 4 KB of each item TransactGetItems reads. An Update's or Delete's item size is not in the
 * request; such an item is counted as under 1 KB, which every transactional item of Hush is
 * (a message, a chat, an idempotency record).
 *
 * DynamoDB Local does not check request signatures, so rewriting the body is harmless; the
 * proxy is for the bench only and never sits in front of AWS.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface OperationCount {
  requests: number
  /** Write capacity units by AWS's rules. */
  wcu: number
  /** Read capacity units by AWS's rules. */
  rcu: number
}

export type MeterSnapshot = Record<string, OperationCount>

const TAKES_CONSUMED_CAPACITY = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactWriteItems',
  'TransactGetItems',
])

type AttributeValue = Record<string, unknown>

/** An attribute value's size by DynamoDB's item-size rules (close enough for unit rounding). */
function valueSize(value: AttributeValue): number {
  const [type, inner] = Object.entries(value)[0] ?? ['NULL', true]
  switch (type) {
    case 'S':
      return Buffer.byteLength(String(inner))
    case 'N':
      return Math.ceil(String(inner).replace(/^-/, '').length / 2) + 1
    case 'B':
      return Buffer.from(String(inner), 'base64').length
    case 'SS':
    case 'NS':
    case 'BS':
      return (inner as string[]).reduce((sum, element) => sum + Buffer.byteLength(element), 0)
    case 'M':
      return 3 + itemSize(inner as Record<string, AttributeValue>)
    case 'L':
      return 3 + (inner as AttributeValue[]).reduce((sum, element) => sum + 1 + valueSize(element), 0)
    default:
      return 1
  }
}

export function itemSize(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value), 0)
}

/** AWS's charge for a TransactWriteItems request: 2 WCU per started KB of each item. */
export function transactWriteUnits(body: { TransactItems?: Array<Record<string, { Item?: Record<string, AttributeValue> }>> }): number {
  let units = 0
  for (const action of body.TransactItems ?? []) {
    const [kind, spec] = Object.entries(action)[0] ?? []
    const bytes = kind === 'Put' && spec?.Item ? itemSize(spec.Item) : 0
    units += 2 * Math.max(1, Math.ceil(bytes / 1024))
  }
  return units
}

type ConsumedCapacity = { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number }

function consumed(operation: string, answer: { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] }): { wcu: number; rcu: number } {
  const entries = answer.ConsumedCapacity === undefined ? [] : ([] as ConsumedCapacity[]).concat(answer.ConsumedCapacity)
  let wcu = 0
  let rcu = 0
  for (const entry of entries) {
    if (entry.WriteCapacityUnits !== undefined || entry.ReadCapacityUnits !== undefined) {
      wcu += entry.WriteCapacityUnits ?? 0
      rcu += entry.ReadCapacityUnits ?? 0
    } else if (/Get|Query|Scan/.test(operation)) {
      rcu += entry.CapacityUnits ?? 0
    } else {
      wcu += entry.CapacityUnits ?? 0
    }
  }
  return { wcu, rcu }
}

const SINGLE_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem'])
const SINGLE_READS = new Set(['GetItem', 'Query', 'Scan'])

/**
 * What a call costs on AWS. Where DynamoDB Local's report falls short of AWS's rules it is raised
 * to them: a read is at least 1 RCU strongly consistent or 0.5 eventually consistent even when it
 * finds nothing; a write whose condition fails is charged like one that succeeds (1 WCU at
 * least); a transaction is counted by the rule above, also when it is cancelled.
 */
export function awsUnits(operation: string, request: Record<string, unknown>, status: number, answer: string): { wcu: number; rcu: number } {
  let reply: { ConsumedCapacity?: ConsumedCapacity; __type?: string } = {}
  try {
    reply = JSON.parse(answer || '{}') as typeof reply
  } catch {
    // no JSON answer: counted by the rules alone
  }
  const rejected = status >= 300
  const conditionFailed = rejected && /ConditionalCheckFailed|TransactionCanceled/.test(reply.__type ?? '')
  if (rejected && !conditionFailed) return { wcu: 0, rcu: 0 }
  if (operation === 'TransactWriteItems') return { wcu: transactWriteUnits(request), rcu: 0 }
  if (operation === 'TransactGetItems') return { wcu: 0, rcu: 2 * ((request.TransactItems as unknown[] | undefined)?.length ?? 0) }
  const reported = rejected ? { wcu: 0, rcu: 0 } : consumed(operation, reply)
  if (SINGLE_WRITES.has(operation)) return { wcu: Math.max(1, reported.wcu), rcu: 0 }
  if (SINGLE_READS.has(operation)) return { wcu: 0, rcu: Math.max(request.ConsistentRead === true ? 1 : 0.5, reported.rcu) }
  return reported
}

export interface DdbMeter {
  endpoint: string
  snapshot(): MeterSnapshot
  close(): Promise<void>
}

/** Starts the proxy on 127.0.0.1 in front of `upstream` (DynamoDB Local's endpoint). */
export async function startDdbMeter(upstream: string): Promise<DdbMeter> {
  const target = new URL(upstream)
  const counts: MeterSnapshot = {}
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const count = (operation: string, units: { wcu: number; rcu: number }) => {
    const entry = (counts[operation] ??= { requests: 0, wcu: 0, rcu: 0 })
    entry.requests++
    entry.wcu += units.wcu
    entry.rcu += units.rcu
  }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const targetHeader = String(req.headers['x-amz-target'] ?? '')
      const [service = '', operation = 'unknown'] = targetHeader.split('.')
      // Stream calls (DynamoDBStreams_…) are billed per request, not per unit.
      const name = service.startsWith('DynamoDBStreams') ? `Streams.${operation}` : operation
      let body = Buffer.concat(chunks)
      let parsed: Record<string, unknown> = {}
      try {
        parsed = JSON.parse(body.toString() || '{}') as Record<string, unknown>
      } catch {
        // not JSON: pass it on untouched
      }
      if (TAKES_CONSUMED_CAPACITY.has(operation)) body = Buffer.from(JSON.stringify({ ...parsed, ReturnConsumedCapacity: 'TOTAL' }))
      const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) }
      const upstreamReq = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers, agent }, (upstreamRes) => {
        const answer: Buffer[] = []
        upstreamRes.on('data', (chunk: Buffer) => answer.push(chunk))
        upstreamRes.on('end', () => {
          const text = Buffer.concat(answer)
          count(name, awsUnits(operation, parsed, upstreamRes.statusCode ?? 500, text.toString()))
          res.writeHead(upstreamRes.statusCode ?? 500, { ...upstreamRes.headers, 'content-length': String(text.length) })
          res.end(text)
        })
      })
      upstreamReq.on('error', (error) => {
        res.writeHead(502)
        res.end(error.message)
      })
      upstreamReq.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    snapshot: () => structuredClone(counts),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      agent.destroy()
    },
  }
}

/** What happened between two snapshots, per operation. */
export function meterDelta(before: MeterSnapshot, after: MeterSnapshot): MeterSnapshot {
  const out: MeterSnapshot = {}
  for (const [operation, now] of Object.entries(after)) {
    const then = before[operation] ?? { requests: 0, wcu: 0, rcu: 0 }
    if (now.requests === then.requests) continue
    out[operation] = { requests: now.requests - then.requests, wcu: now.wcu - then.wcu, rcu: now.rcu - then.rcu }
  }
  return out
}
