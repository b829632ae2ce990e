import { ScanCommand } from '@aws-sdk/lib-dynamodb'
import { randomUUID } from 'node:crypto'
import { DynamoChatStore } from '../../src/infra/dynamodb/chat-store.js'
import { createDynamoClients } from '../../src/infra/dynamodb/client.js'
import { createEntities } from '../../src/infra/dynamodb/entities.js'
import { createHushTable } from '../../src/infra/dynamodb/table.js'
import type { TestApp } from './app.js'
import { storeMessage } from './store-message.js'

/** Where a table is: a test app's, or one a test made itself. */
export type TableOf = Pick<TestApp, 'dynamodbEndpoint'> & { config: { dynamodb: Pick<TestApp['config']['dynamodb'], 'region' | 'table'> } }

/**
 * Every stored item of a test app's table whose attributes mention `needle`. A scan is fine in a
 * test that checks what is left; the app itself never scans.
 */
export async function itemsMentioning(app: TableOf, needle: string): Promise<Record<string, unknown>[]> {
  const { documentClient, client, streamsClient } = createDynamoClients(app.dynamodbEndpoint, app.config.dynamodb.region)
  try {
    const found: Record<string, unknown>[] = []
    let exclusiveStartKey: Record<string, unknown> | undefined
    do {
      const page = await documentClient.send(
        new ScanCommand({ TableName: app.config.dynamodb.table, ExclusiveStartKey: exclusiveStartKey, ConsistentRead: true }),
      )
      // String sets come back as Sets, which JSON.stringify would write as {}.
      const text = (item: unknown) => JSON.stringify(item, (_key, value: unknown) => (value instanceof Set ? [...(value as Set<unknown>)] : value))
      for (const item of page.Items ?? []) if (text(item).includes(needle)) found.push(item)
      exclusiveStartKey = page.LastEvaluatedKey
    } while (exclusiveStartKey)
    return found
  } finally {
    client.destroy()
    streamsClient.destroy()
  }
}

/** Runs `use` with a DynamoChatStore on the test app's table, over clients of its own. */
async function withChatStore<T>(app: TestApp, use: (store: DynamoChatStore) => Promise<T>): Promise<T> {
  const { documentClient, client, streamsClient } = createDynamoClients(app.dynamodbEndpoint, app.config.dynamodb.region)
  try {
    return await use(new DynamoChatStore(createEntities(createHushTable(documentClient, app.config.dynamodb.table))))
  } finally {
    client.destroy()
    streamsClient.destroy()
  }
}

async function chatOf(store: DynamoChatStore, chatId: string) {
  const chat = await store.getChat(chatId)
  if (!chat) throw new Error(`no chat ${chatId}`)
  return chat
}

/**
 * Stores the chat's next message straight through the store, publishing nothing: to the
 * subscribers it is exactly a message whose Redis event was lost.
 */
export function appendBehindTheBusBack(app: TestApp, chatId: string, body: string): Promise<void> {
  return withChatStore(app, async (store) => {
    const chat = await chatOf(store, chatId)
    const now = Date.now()
    const message = { chatId, seq: chat.lastSeq + 1, senderId: chat.a.userId, clientMessageId: randomUUID(), body, photoId: undefined, createdAt: now }
    await storeMessage(store, chat, message, now + app.config.chatTtlSeconds * 1000, now)
  })
}

/**
 * Claims the chat's next seq for the participant `userId` straight through the store, without the
 * commit: what a process that died between a send's two writes leaves behind.
 */
export function claimBehindTheServersBack(app: TestApp, chatId: string, userId: string, clientMessageId: string, body: string): Promise<number> {
  return withChatStore(app, async (store) => {
    const seq = (await chatOf(store, chatId)).lastSeq + 1
    if (!(await store.claimMessage({ chatId, seq, senderId: userId, clientMessageId, body, photoId: undefined, createdAt: Date.now() }))) throw new Error(`seq ${seq} taken`)
    return seq
  })
}
