import { execSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CreatePostDocument, PostDocument, ViewerDocument } from './generated/graphql.js'
import { testEnv } from './support/app.js'
import { mustRequest, openAckedSocket, signUp } from './support/client.js'
import { spawnServer, within } from './support/process.js'

const javaProcessesOn = (dataDir: string): number => {
  try {
    return execSync(`pgrep -f -- "^java .*-dbPath ${dataDir}"`).toString().trim().split('\n').filter(Boolean).length
  } catch {
    return 0
  }
}

describe('npm start (src/main.ts as its own process)', () => {
  const dirs: string[] = []
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true })
  })

  it('with no DYNAMODB_ENDPOINT launches DynamoDB Local under DATA_DIR, keeps data across restarts, and leaves no Java behind', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-embedded-'))
    dirs.push(dataDir)
    const env = { PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info' }

    const first = spawnServer(env)
    const url = await within(first.url, 60_000, `first start\n${first.output()}`)
    expect(javaProcessesOn(dataDir)).toBe(1)
    const user = await signUp(url)
    const { createPost } = await mustRequest(url, CreatePostDocument, { body: 'kept' }, user.token)
    first.child.kill('SIGTERM')
    expect(await within(first.exited, 20_000, 'exit on SIGTERM')).toBe(0)
    expect(javaProcessesOn(dataDir)).toBe(0)

    // Same DATA_DIR: the same signing key and the same data.
    const second = spawnServer(env)
    const url2 = await within(second.url, 60_000, `second start\n${second.output()}`)
    const again = await mustRequest(url2, PostDocument, { id: createPost.id }, user.token)
    expect(again.post).toMatchObject({ body: 'kept', isMine: true })
    // A hard kill of Hush must not orphan Java either: the watchdog shell sees its stdin close.
    second.child.kill('SIGKILL')
    await second.exited
    for (let i = 0; i < 50 && javaProcessesOn(dataDir) > 0; i++) await new Promise((r) => setTimeout(r, 200))
    expect(javaProcessesOn(dataDir)).toBe(0)
  })

  it('without Java says to install Java 17 or set DYNAMODB_ENDPOINT, and exits 1', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hush-nojava-'))
    dirs.push(dataDir)
    const server = spawnServer({ PORT: '0', DATA_DIR: dataDir, PATH: '/nonexistent' })
    expect(await within(server.exited, 20_000, 'exit without java')).toBe(1)
    expect(server.output()).toMatch(/install Java 17.*DYNAMODB_ENDPOINT/)
  })

  it('lists every configuration problem at once and exits 1', async () => {
    const server = spawnServer({ PORT: 'abc', CHAT_TTL_SECONDS: '-5', REDIS_URL: 'http://nope', DYNAMODB_ENDPOINT: 'http://127.0.0.1:1' })
    expect(await within(server.exited, 20_000, 'exit on bad config')).toBe(1)
    for (const name of ['PORT', 'CHAT_TTL_SECONDS', 'REDIS_URL', 'JWT_SECRET', 'ID_SECRET']) expect(server.output()).toContain(name)
  })

  it('on SIGTERM closes sockets with 1001, finishes, and exits 0; /readyz and /healthz answer before', async () => {
    const server = spawnServer(testEnv({ LOG_LEVEL: 'info' }))
    const url = await within(server.url, 30_000, `start\n${server.output()}`)
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    const ready = await fetch(`${url}/readyz`)
    expect(ready.status).toBe(200)
    const user = await signUp(url)
    await mustRequest(url, ViewerDocument, {}, user.token)

    const socket = await openAckedSocket(url, user.token)
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    server.child.kill('SIGTERM')
    expect(await within(closed, 10_000, 'socket close')).toBe(1001)
    expect(await within(server.exited, 20_000, 'exit')).toBe(0)
  })
})
