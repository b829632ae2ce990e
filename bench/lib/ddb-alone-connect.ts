/**
 * DynamoDB Local's own rate for the reads of Hush's connects, run inside the load generator: per
 * user the very requests Hush's store makes when the user's app subscribes `notifications` (the
 * live-chat set, then its chats) and `chatEvents` (the chat, strongly consistent), the two
 * subscriptions side by side as Hush runs them, with as many users connecting at a time as the
 * reconnect test opens.
 *
 * Nothing here builds a key: every request is built by DynamoChatStore (liveChatIds, getChats,
 * getChat) on a document client that records what it is asked to send, before the clock starts;
 * the timed loop only sends them, to the items the reconnect test's users have (their chats were
 * started through Hush's API), through the document client Hush uses (`client: 'hush'`: its reads
 * on the lean path, src/infra/dynamodb/lean-reads.ts) or through the plain AWS SDK document client
 * (`client: 'sdk'`), the alternative that path replaced.
 */
import { DynamoChatStore } from '../../src/infra/dynamodb/chat-store.js'
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { createDynamoClients } from '../../src/infra/dynamodb/client.js'
import { createEntities } from '../../src/infra/dynamodb/entities.js'
import { createHushTable } from '../../src/infra/dynamodb/table.js'
import { recordingClient, type Command } from './ddb-alone.js'
import { round, summarize, type LatencySummary } from './stats.js'

export interface DdbConnectJob {
  type: 'ddb-connect'
  endpoint: string
  table: string
  users: Array<{ userId: string; chatId: string }>
  concurrency: number
  /** The document client Hush uses, or the plain AWS SDK one. */
  client: 'hush' | 'sdk'
}

export interface DdbConnectResult {
  connects: number
  concurrency: number
  durationMs: number
  errors: number
  firstError?: string
  /** connects per second: every read of a user answered */
  rate: number
  latency: LatencySummary
  requestsPerConnect: number
  loadgenCpuMs: number
}

/** Connects read before the clock starts, this many at a time. */
const WARM_UP_CONNECTS = 300

/** A command of the same kind and input: a command is sent once. */
const copyOf = (command: Command): Command => new (command.constructor as new (input: unknown) => Command)(command.input)

/** The requests of one user's connect: the notifications stream's, one after the other, and the chat stream's. */
interface ConnectReads {
  notifications: Command[]
  chatEvents: Command[]
}

/** Records each user's connect reads through one store on a client that sends nothing. */
async function recordReads(table: string, users: DdbConnectJob['users']): Promise<ConnectReads[]> {
  const recorder = recordingClient()
  const store = new DynamoChatStore(createEntities(createHushTable(recorder.client, table)))
  const prepared: ConnectReads[] = []
  for (const user of users) {
    // The recording client answers nothing, so the set's chats are the user's own chat, as stored.
    await store.liveChatIds(user.userId)
    await store.getChats([user.chatId])
    const notifications = recorder.take()
    await store.getChat(user.chatId)
    prepared.push({ notifications, chatEvents: recorder.take() })
  }
  return prepared
}

export async function ddbAloneConnect(job: DdbConnectJob): Promise<DdbConnectResult> {
  const real = createDynamoClients(job.endpoint, 'us-east-1')
  try {
    const prepared = await recordReads(job.table, job.users)
    const documentClient =
      job.client === 'hush' ? real.documentClient : DynamoDBDocumentClient.from(real.client, { marshallOptions: { removeUndefinedValues: true } })
    const send = async (commands: Command[]) => {
      for (const command of commands) await documentClient.send(command)
    }
    // A warm-up pass (reads are repeatable), so the SDK's code and DynamoDB Local's connections are
    // as warm as they are in a Hush server that connected these users before.
    for (let i = 0; i < WARM_UP_CONNECTS; i += job.concurrency) {
      const batch = prepared.slice(i, i + job.concurrency)
      await Promise.all(batch.map((reads) => Promise.all([send(reads.notifications.map(copyOf)), send(reads.chatEvents.map(copyOf))])))
    }
    let next = 0
    let errors = 0
    let firstError: string | undefined
    const latencies: number[] = []
    const cpu = process.cpuUsage()
    const started = performance.now()
    const worker = async () => {
      for (let i = next++; i < prepared.length; i = next++) {
        const reads = prepared[i]!
        const t0 = performance.now()
        try {
          await Promise.all([send(reads.notifications), send(reads.chatEvents)])
          latencies.push(performance.now() - t0)
        } catch (error) {
          errors++
          firstError ??= `${(error as Error).name}: ${(error as Error).message}`
        }
      }
    }
    await Promise.all(Array.from({ length: job.concurrency }, worker))
    const elapsed = performance.now() - started
    const used = process.cpuUsage(cpu)
    const requests = prepared.reduce((n, r) => n + r.notifications.length + r.chatEvents.length, 0)
    return {
      connects: prepared.length,
      concurrency: job.concurrency,
      durationMs: round(elapsed),
      errors,
      firstError,
      rate: round(((prepared.length - errors) / elapsed) * 1000, 0),
      latency: summarize(latencies),
      requestsPerConnect: round(requests / Math.max(1, prepared.length), 2),
      loadgenCpuMs: round((used.user + used.system) / 1000),
    }
  } finally {
    real.destroy()
  }
}
