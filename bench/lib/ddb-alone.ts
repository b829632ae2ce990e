/**
 * DynamoDB Local's own throughput for Hush's send write set, run inside the load generator: per
 * message the very two writes Hush's `sendMessage` makes (Put Message n if absent, then Update
 * Chat with its seq condition, unread counters and recent sends), with the same writers in
 * flight, one per chat.
 *
 * Nothing here builds a key or an item: the chats are created by Hush's own store
 * (DynamoChatStore.createChat, so each also gets its Pair, two Memberships and two LiveChats, as
 * startChat writes them), and every write is made by DynamoChatStore.claimMessage and
 * commitMessage on the entities of src/infra/dynamodb/entities.ts. To keep the load generator's
 * own CPU out of DynamoDB Local's way (they share the cores), the writes are built before the
 * clock starts, by the store on a document client that records what it is asked to send; the
 * timed loop only sends them, through the AWS SDK document client Hush uses.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { aliasFor } from '../../src/domain/aliases.js'
import { ChatIds } from '../../src/domain/chats/chat-ids.js'
import { withRecentSend } from '../../src/domain/chats/recent-sends.js'
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

export type Command = Parameters<DynamoDBDocumentClient['send']>[0]

/** A document client that sends nothing: it keeps the commands a store gives it, in order. */
export function recordingClient(): { client: DynamoDBDocumentClient; take(): Command[] } {
  let sent: Command[] = []
  const client = {
    send: async (command: Command) => {
      sent.push(command)
      return {}
    },
  } as unknown as DynamoDBDocumentClient
  return {
    client,
    take() {
      if (sent.length === 0) throw new Error('ddb-alone: the store sent nothing')
      const commands = sent
      sent = []
      return commands
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
    // The chat as each send finds it: the commit is conditional on its seq and carries its recent sends.
    const current = chats.map((chat) => ({ ...chat }))
    const build = async (index: number, seq: number): Promise<Command[]> => {
      const { recorder, store: recordingStore } = recorders[index]!
      const chat = current[index]!
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
      await recordingStore.claimMessage(message)
      const recentSends = withRecentSend(chat.a, message.clientMessageId, seq)
      await recordingStore.commitMessage(chat, message, { expiresAt: at + ttlMs, senderRecentSends: recentSends }, at)
      current[index] = { ...chat, lastSeq: seq, a: { ...chat.a, recentSends } }
      return recorder.take()
    }
    // More sends per chat than DynamoDB Local takes in the time (it takes some tens a second per chat).
    const perChat = Math.ceil((job.durationMs / 1000) * 50)
    const prepared: Command[][][] = []
    for (const index of chats.keys()) {
      const list: Command[][] = []
      for (let seq = 1; seq <= perChat; seq++) list.push(await build(index, seq))
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
      let seq = 0
      // Writes of the current send already made: a failed write is tried again, not the ones before it.
      let done = 0
      while (performance.now() < deadline) {
        const next = seq + 1
        let writes = prepared[index]![seq]
        if (!writes) {
          builtDuringRun++
          writes = await build(index, next)
          prepared[index]![seq] = writes
        }
        const t0 = performance.now()
        try {
          for (; done < writes.length; done++) await real.documentClient.send(writes[done]!)
          seq = next
          done = 0
          completed++
          latencies.push(performance.now() - t0)
        } catch (error) {
          failures++
          firstFailure ??= `${(error as Error).name}: ${(error as Error).message}`
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
