import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, type Client } from 'graphql-ws'
import { print } from 'graphql'
import WebSocket from 'ws'
import { ChatDocument, ChatEventsDocument, CreatePostDocument, SendMessageDocument, StartChatDocument, type ChatEventsSubscription } from './generated/graphql.js'
import { redisEnv, testEnv } from './support/app.js'
import { mustRequest, openAckedSocket, signUp, wsExecute, type TestUser } from './support/client.js'
import { freePort, spawnServer, within, type ServerProcess } from './support/process.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The worker processes of a primary, from the OS (tsx also runs an esbuild child, which is not one). */
function workerPids(primary: number): number[] {
  try {
    const lines = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(primary)]).toString().trim().split('\n')
    return lines.map((line) => line.trim().split(/\s+/)).filter(([, comm]) => comm === 'node').map(([pid]) => Number(pid))
  } catch {
    return [] // ps exits 1 when there is none
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Which process holds the server side of each established connection on `port`, by the client's port, from the kernel. */
function connectionOwners(port: number): Map<number, number> {
  const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`]).toString()
  return new Map([...out.matchAll(/:\d+\s+\S+:(\d+)\s+users:\(\("[^"]*",pid=(\d+)/g)].map((match) => [Number(match[1]), Number(match[2])]))
}

async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`)
    await sleep(100)
  }
}

/** A graphql-ws client that connects at once and never retries by itself: the test resumes by hand. */
const socketClient = (url: string, token: string): Client =>
  createClient({ url: `${url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, lazy: false, retryAttempts: 0, onNonLazyError: () => {} })

interface Conversation {
  chatId: string
  sender: TestUser
  receiver: TestUser
  /** Sends the server answered, in the order sent: seq and body. */
  acked: Array<{ seq: number; body: string }>
  received: Array<{ seq: number; body: string }>
  /** Sends repeated with the same clientMessageId after a failure (closed socket, error). */
  retries: number
  /** Times the receiver's stream ended (1001 on a restart) and was resumed with afterSeq. */
  resumes: number
  /** Anything the receiver saw out of order, twice, or with a gap. */
  violations: string[]
}

/**
 * Sends messages one after another over a graphql-ws socket, as an app does: a send that fails
 * (its socket closed by a restart, an error) is retried with the same clientMessageId on a new
 * socket until it is answered.
 */
async function sendLoop(url: string, conversation: Conversation, running: () => boolean): Promise<void> {
  let client = socketClient(url, conversation.sender.token)
  while (running()) {
    const body = `m-${conversation.acked.length + 1}`
    const clientMessageId = randomUUID()
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await within(wsExecute(client, SendMessageDocument, { chatId: conversation.chatId, clientMessageId, body }), 15_000, 'send')
        if (result.errors || !result.data) throw new Error(JSON.stringify(result.errors))
        conversation.acked.push({ seq: result.data.sendMessage.seq, body })
        break
      } catch (error) {
        if (attempt >= 50) throw new Error(`send never answered: ${String(error)}`)
        conversation.retries += 1
        void client.dispose()
        await sleep(50)
        client = socketClient(url, conversation.sender.token)
      }
    }
    await sleep(20)
  }
  await client.dispose()
}

/** The receiver's chatEvents stream, resumed with afterSeq = the last seq it got whenever it ends. */
function receive(url: string, conversation: Conversation): () => Promise<void> {
  let client: Client
  let stopped = false
  const subscribe = () => {
    client = socketClient(url, conversation.receiver.token)
    const afterSeq = conversation.received.at(-1)?.seq ?? 0
    const resume = () => {
      if (stopped) return
      conversation.resumes += 1
      void client.dispose()
      setTimeout(subscribe, 50)
    }
    client.subscribe<ChatEventsSubscription>(
      { query: print(ChatEventsDocument), variables: { chatId: conversation.chatId, afterSeq } },
      {
        next: ({ data, errors }) => {
          if (errors) conversation.violations.push(`error event: ${JSON.stringify(errors)}`)
          const event = data?.chatEvents
          if (event?.__typename !== 'MessageEvent') return
          const last = conversation.received.at(-1)?.seq ?? 0
          if (event.message.seq !== last + 1) conversation.violations.push(`seq ${event.message.seq} after ${last}`)
          conversation.received.push({ seq: event.message.seq, body: event.message.body ?? '' })
        },
        error: resume,
        complete: resume,
      },
    )
  }
  subscribe()
  return async () => {
    stopped = true
    await client.dispose()
  }
}

/** GET /healthz on a new connection each time, so each probe is handed to a worker afresh. */
const probe = (url: string): Promise<string> =>
  new Promise((resolve) => {
    const request = http.get(`${url}/healthz`, { agent: false, timeout: 5_000 }, (response) => {
      response.resume()
      resolve(String(response.statusCode))
    })
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    request.on('timeout', () => request.destroy())
  })

describe('worker mode (WORKERS=2, real processes)', () => {
  let server: ServerProcess
  let url: string
  let port: number
  const primaryPid = () => server.child.pid!

  beforeAll(async () => {
    port = await freePort()
    server = spawnServer(testEnv({ ...redisEnv(), WORKERS: '2', PORT: String(port), LOG_LEVEL: 'info' }))
    url = await within(server.url, 90_000, `start\n${server.output()}`)
    await until('both workers ready', 90_000, () => server.output().includes('"msg":"workers ready"'))
  })
  afterAll(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL')
    await server.exited
  })

  it('spreads connections over the workers, and each log line names the worker that wrote it', async () => {
    const workers = workerPids(primaryPid())
    expect(workers).toHaveLength(2)
    const user = await signUp(url)
    const sockets = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws')
        const localPort = new Promise<number>((resolve) => socket.once('upgrade', (response) => resolve(response.socket.localPort!)))
        await new Promise((resolve) => socket.once('open', resolve))
        socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${user.token}` } }))
        await new Promise((resolve) => socket.once('message', resolve))
        return { socket, localPort: await localPort }
      }),
    )
    const owners = connectionOwners(port)
    sockets.forEach(({ socket }) => socket.close())
    const ownerOf = sockets.map(({ localPort }) => owners.get(localPort))
    // Round-robin over two workers: each socket on one of them, and both of them used.
    expect(ownerOf.every((pid) => pid !== undefined && workers.includes(pid))).toBe(true)
    expect(new Set(ownerOf)).toEqual(new Set(workers))
    const listening = server.output().split('\n').filter((line) => line.includes('Hush is listening')).map((line) => JSON.parse(line) as { role: string; pid: number; worker: number })
    expect(listening.map((line) => line.role)).toEqual(['worker', 'worker'])
    expect(new Set(listening.map((line) => line.pid))).toEqual(new Set(workers))
    expect(new Set(listening.map((line) => line.worker)).size).toBe(2)
  })

  it('replaces every worker on SIGHUP under a steady load of messages: each acknowledged message arrives exactly once, in order, and the port never stops answering', async () => {
    const conversations = await Promise.all(Array.from({ length: 4 }, () => startConversation(url)))
    const before = workerPids(primaryPid())
    let loading = true
    const senders = conversations.map((conversation) => sendLoop(url, conversation, () => loading))
    const receivers = conversations.map((conversation) => receive(url, conversation))
    const probes = { ok: 0, failed: [] as string[] }
    const probing = (async () => {
      while (loading) {
        const answer = await probe(url)
        if (answer === '200') probes.ok += 1
        else probes.failed.push(answer)
        await sleep(50)
      }
    })()
    const sent = () => conversations.reduce((sum, c) => sum + c.acked.length, 0)

    await until('load under way', 30_000, () => sent() >= 40)
    const atSignal = { sent: sent(), time: Date.now(), log: server.output().length }
    server.child.kill('SIGHUP')
    await until('rolling restart done', 180_000, () => server.output().slice(atSignal.log).includes('rolling restart done'))
    const restart = { sent: sent() - atSignal.sent, ms: Date.now() - atSignal.time }
    await sleep(1_500)
    loading = false
    await Promise.all([...senders, probing])
    await until('every acknowledged message received', 30_000, () => conversations.every((c) => c.received.length >= c.acked.length))
    await Promise.all(receivers.map((stop) => stop()))

    const after = workerPids(primaryPid())
    expect(after).toHaveLength(2)
    expect(after.filter((pid) => before.includes(pid))).toEqual([])
    for (const conversation of conversations) {
      expect(conversation.violations).toEqual([])
      expect(conversation.acked.map((m) => m.seq)).toEqual(conversation.acked.map((_, i) => i + 1))
      expect(conversation.received).toEqual(conversation.acked)
      // Every retry returned the first message: nothing was stored twice.
      const { chat } = await mustRequest(url, ChatDocument, { id: conversation.chatId }, conversation.sender.token)
      expect(chat?.lastSeq).toBe(conversation.acked.length)
      // The restart closed every socket (1001), so every stream was resumed with afterSeq.
      expect(conversation.resumes).toBeGreaterThanOrEqual(1)
    }
    expect(restart.sent).toBeGreaterThan(0)
    expect(probes.failed).toEqual([])
    const total = sent()
    const retries = conversations.reduce((sum, c) => sum + c.retries, 0)
    const resumes = conversations.reduce((sum, c) => sum + c.resumes, 0)
    console.info(`rolling restart: ${restart.ms} ms, ${restart.sent} messages acknowledged during it, ${total} in all, ${retries} retried sends, ${resumes} resumed streams, lost 0, duplicated 0; /healthz probes ${probes.ok} ok, ${probes.failed.length} failed`)
  })

  it('re-forks a worker that is killed', async () => {
    const [victim, survivor] = workerPids(primaryPid())
    process.kill(victim!, 'SIGKILL')
    let replacement: number | undefined
    await until('a new worker in place of the killed one', 60_000, () => {
      const now = workerPids(primaryPid())
      replacement = now.find((pid) => pid !== survivor && pid !== victim)
      return now.length === 2 && replacement !== undefined
    })
    await until('the replacement listening', 60_000, () => server.output().includes(`"pid":${replacement},"url"`))
    expect(server.output()).toContain(`"workerPid":${victim},"code":null,"signal":"SIGKILL","msg":"worker died unexpectedly"`)
    expect(await probe(url)).toBe('200')
  })

  it('on SIGTERM stops every worker gracefully (sockets closed with 1001) and exits 0, leaving no process behind', async () => {
    const workers = workerPids(primaryPid())
    expect(workers).toHaveLength(2)
    const user = await signUp(url)
    const socket = await openAckedSocket(url, user.token)
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    server.child.kill('SIGTERM')
    expect(await within(closed, 20_000, 'socket close')).toBe(1001)
    expect(await within(server.exited, 30_000, 'exit')).toBe(0)
    await until('no worker left', 10_000, () => workers.every((pid) => !alive(pid)))
  })
})

describe('worker mode on the embedded DynamoDB Local', () => {
  const javaOn = (dataDir: string): number => {
    try {
      return execFileSync('pgrep', ['-f', '--', `^java .*-dbPath ${dataDir}`]).toString().trim().split('\n').length
    } catch {
      return 0
    }
  }

  it('launches one DynamoDB Local and one set of secrets in the primary, which every worker uses, and stops it with the workers', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-workers-'))
    try {
      const env = { ...redisEnv(), WORKERS: '2', PORT: String(await freePort()), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info' }
      const server = spawnServer(env)
      const url = await within(server.url, 90_000, `start\n${server.output()}`)
      await until('both workers ready', 90_000, () => server.output().includes('"msg":"workers ready"'))
      expect(javaOn(path.join(dataDir, 'dynamodb'))).toBe(1)
      expect(server.output().match(/DynamoDB Local started/g)).toHaveLength(1)
      // A token issued by one worker is good on every worker: each new connection may land on either.
      const user = await signUp(url)
      for (let i = 0; i < 6; i++) expect(await probeViewer(url, user.token)).toBe(user.id)
      server.child.kill('SIGTERM')
      expect(await within(server.exited, 30_000, 'exit')).toBe(0)
      expect(javaOn(path.join(dataDir, 'dynamodb'))).toBe(0)
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

describe('worker mode without Redis', () => {
  it('refuses WORKERS=2 with no REDIS_URL or REDIS_CLUSTER_NODES, listing it with every other problem, and exits 1', async () => {
    const server = spawnServer(testEnv({ WORKERS: '2', CHAT_TTL_SECONDS: '-5' }))
    expect(await within(server.exited, 20_000, 'exit on bad config')).toBe(1)
    expect(server.output()).toMatch(/WORKERS needs Redis \(REDIS_URL or REDIS_CLUSTER_NODES\)/)
    expect(server.output()).toContain('CHAT_TTL_SECONDS')
    expect(server.output()).not.toContain('Hush is listening')
  })
})

/** Viewer.id over a new connection (so round-robin hands it to the next worker). */
async function probeViewer(url: string, token: string): Promise<string | undefined> {
  const body = JSON.stringify({ query: '{ viewer { id } }' })
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${url}/graphql`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } },
      (response) => {
        let text = ''
        response.on('data', (chunk: Buffer) => (text += chunk.toString()))
        response.on('end', () => resolve((JSON.parse(text) as { data?: { viewer?: { id: string } } }).data?.viewer?.id))
      },
    )
    request.on('error', reject)
    request.end(body)
  })
}

async function startConversation(url: string): Promise<Conversation> {
  const [sender, receiver] = await Promise.all([signUp(url), signUp(url)])
  const post = (await mustRequest(url, CreatePostDocument, { body: 'workers' }, receiver.token)).createPost
  const chat = (await mustRequest(url, StartChatDocument, { postId: post.id }, sender.token)).startChat
  return { chatId: chat.id, sender, receiver, acked: [], received: [], retries: 0, resumes: 0, violations: [] }
}
