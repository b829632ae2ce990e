/**
 * DynamoDB Local's own throughput for Hush's send write set, run inside the load generator: per
 * message the very transaction Hush's `sendMessage` writes (Update Chat with its seq condition and
 * unread counters, Put Message, Put MessageRequest), with the same writers in flight, one per chat.
 *
 * Nothing here builds a key or an item: the chats are created by Hush's own store
 * (DynamoChatStore.createChat, so each also gets its Pair, two Memberships and two LiveChats, as
 * startChat writes them), and every transaction is made by DynamoChatStore.appendMessage on the
 * entities of src/infra/dynamodb/entities.ts. To keep the load generator's own CPU out of
 * DynamoDB Local's way (they share the cores), the transactions are built before the clock starts,
 * by the store on a document client that records what it is asked to send; the timed loop only
 * sends them, through the AWS SDK document client Hush uses.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb'
import { aliasFor } from '../../src/domain/aliases.js'
import { ChatIds } from '../../src/domain/chats/chat-ids.js'
import type { ChatParticipant, ChatRecord, MessageRecord } from '../../src/domain/ports.js'
import { DynamoChatStore } from '../../src/infra/dynamodb/chat-store.js'
import { createDynamoClients } from '../../src/infra/dynamodb/client.js'
import { createEntities } from '../../src/infra/dynamodb/entities.js'
import { createHushTable } from '../../src/infra/dynamodb/table.js'
import { round, summarize, type LatencySummary } from './stats.js'

export interface DdbJob {
  type: 'ddb'
  endpoint: string
  table: string
  concurrency: number
  durationMs: number
  /** Unique per run of this job: its chats are new. */
  runTag: string
  /** Hush's ID_SECRET, for chat ids and aliases made as Hush makes them. */
  idSecret: string
  /** Hush's chat lifetime (CHAT_TTL_SECONDS). */
  chatTtlSeconds: number
  maxLiveChats: number
}

export interface DdbResult {
  concurrency: number
  durationMs: number
  completed: number
  errors: number
  firstError?: string
  throughput: number
  latency: LatencySummary
  loadgenCpuMs: number
  /** transactions built before the clock started, and those built during the run (a chat used up its own) */
  prebuilt: number
  builtDuringRun: number
  cpuPerWrite?: { server: number; dynamodbLocal: number; loadgen: number }
}

/** A document client that records the TransactWriteItems input it is asked to send, and sends nothing. */
function recordingClient(): { client: DynamoDBDocumentClient; take(): TransactWriteCommandInput } {
  let last: TransactWriteCommandInput | undefined
  const client = {
    send: async (command: { input: unknown }) => {
      if (!(command instanceof TransactWriteCommand)) throw new Error(`ddb-alone: unexpected ${command.constructor.name}`)
      last = command.input
      return {}
    },
  } as unknown as DynamoDBDocumentClient
  return {
    client,
    take() {
      if (!last) throw new Error('ddb-alone: the store sent nothing')
      const input = last
      last = undefined
      return input
    },
  }
}

export async function ddbAlone(job: DdbJob): Promise<DdbResult> {
  const real = createDynamoClients(job.endpoint, 'us-east-1')
  const store = new DynamoChatStore(createEntities(createHushTable(real.documentClient, job.table)))
  const ids = new ChatIds(job.idSecret)
  const ttlMs = job.chatTtlSeconds * 1000
  try {
    // The chats, started as Hush starts one (not timed).
    const now = Date.now()
    const chats = await Promise.all(
      Array.from({ length: job.concurrency }, async (_, i) => {
        const starter = `u_ddb${job.runTag}c${i}`
        const author = `u_ddb${job.runTag}a${i}`
        const postId = `01JDDB${job.runTag.toUpperCase().padEnd(12, '0').slice(0, 12)}${String(i).padStart(8, '0')}`
        const pairKey = ids.pairKey(postId, starter, author)
        const chatId = ids.chatId(pairKey, 0)
        const participant = (userId: string, role: ChatParticipant['role'], avoid?: string): ChatParticipant => ({
          userId,
          role,
          alias: aliasFor(job.idSecret, chatId, userId, avoid),
          readSeq: 0,
          deliveredSeq: 0,
          unread: 0,
        })
        const a = participant(starter, 'COMMENTER')
        const chat: ChatRecord = {
          chatId,
          pairKey,
          generation: 0,
          postId,
          a,
          b: participant(author, 'AUTHOR', a.alias),
          status: 'ACTIVE',
          closedBy: undefined,
          hiddenFrom: undefined,
          createdAt: now,
          lastActivityAt: now,
          expiresAt: now + ttlMs,
          lastSeq: 0,
        }
        const created = await store.createChat(chat, undefined, job.maxLiveChats)
        if (created !== 'created') throw new Error(`ddb-alone: startChat's transaction answered ${JSON.stringify(created)}`)
        return chat
      }),
    )

    // Each chat's sends, built by the store's appendMessage (not timed), on a recording client of
    // the chat's own (a chat's sends are built one after another).
    let builtDuringRun = 0
    const recorders = chats.map(() => {
      const recorder = recordingClient()
      return { recorder, store: new DynamoChatStore(createEntities(createHushTable(recorder.client, job.table))) }
    })
    const build = async (chat: ChatRecord, index: number, seq: number): Promise<TransactWriteCommandInput> => {
      const { recorder, store: recordingStore } = recorders[index]!
      const at = Date.now()
      const message: MessageRecord = {
        chatId: chat.chatId,
        seq,
        senderId: chat.a.userId,
        clientMessageId: `${job.runTag}-${index}-${seq}`,
        body: `0|${index}|${performance.now().toFixed(3)}|${seq}`,
        photoId: undefined,
        createdAt: at,
      }
      const outcome = await recordingStore.appendMessage(chat, message, at + ttlMs, at)
      if (outcome !== 'appended') throw new Error(`ddb-alone: appendMessage answered ${outcome}`)
      return recorder.take()
    }
    // More sends per chat than DynamoDB Local takes in the time (it takes some tens a second per chat).
    const perChat = Math.ceil((job.durationMs / 1000) * 50)
    const prepared: TransactWriteCommandInput[][] = []
    for (const [index, chat] of chats.entries()) {
      const list: TransactWriteCommandInput[] = []
      for (let seq = 1; seq <= perChat; seq++) list.push(await build(chat, index, seq))
      prepared.push(list)
    }

    let completed = 0
    let failures = 0
    let firstFailure: string | undefined
    const latencies: number[] = []
    const cpu = process.cpuUsage()
    const deadline = performance.now() + job.durationMs
    const started = performance.now()
    const worker = async (index: number) => {
      const chat = chats[index]!
      let seq = 0
      while (performance.now() < deadline) {
        const next = seq + 1
        let input = prepared[index]![seq]
        if (!input) {
          builtDuringRun++
          input = await build(chat, index, next)
        }
        const t0 = performance.now()
        try {
          await real.documentClient.send(new TransactWriteCommand(input))
          seq = next
          completed++
          latencies.push(performance.now() - t0)
        } catch (error) {
          failures++
          firstFailure ??= `${(error as Error).name}: ${(error as Error).message}`
          // A failed transaction leaves lastSeq where it was: the same one is tried again.
        }
      }
    }
    await Promise.all(chats.map((_, index) => worker(index)))
    const elapsed = performance.now() - started
    const used = process.cpuUsage(cpu)
    return {
      concurrency: job.concurrency,
      durationMs: round(elapsed),
      completed,
      errors: failures,
      firstError: firstFailure,
      throughput: round((completed / elapsed) * 1000, 0),
      latency: summarize(latencies),
      loadgenCpuMs: round((used.user + used.system) / 1000),
      prebuilt: perChat * chats.length,
      builtDuringRun,
    }
  } finally {
    real.client.destroy()
    real.streamsClient.destroy()
  }
}
