import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChatEventsDocument, CreatePostDocument, SendMessageDocument, SignUpDocument, StartChatDocument } from './generated/graphql.js'
import { redisEnv, startTestApp, type TestApp } from './support/app.js'
import { collect, errorCode, mustRequest, request, signUp, wsClient } from './support/client.js'

/** The value of one sample of the exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const set = /\{(.*)\}/.exec(line)?.[1] ?? ''
    if (Object.entries(labels).every(([key, value]) => set.includes(`${key}="${value}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return undefined
}

describe('metrics for operators (/metrics, Prometheus)', () => {
  let app: TestApp

  beforeAll(async () => {
    app = await startTestApp({ ...redisEnv(), RATE_LIMIT_SIGNUP: '1/h burst 3' })
  })
  afterAll(() => app?.stop())

  const scrape = async (url = app.metricsUrl!) => {
    const response = await fetch(url)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    return response.text()
  }

  it('counts operations by name and transport, DynamoDB calls, sockets, streams, bus events and refusals', async () => {
    const [author, peer] = [await signUp(app.url), await signUp(app.url)]
    const post = (await mustRequest(app.url, CreatePostDocument, { body: 'metrics' }, author.token)).createPost
    const chat = (await mustRequest(app.url, StartChatDocument, { postId: post.id }, peer.token)).startChat
    const client = wsClient(app.url, author.token)
    const events = collect(client, ChatEventsDocument, { chatId: chat.id })
    await new Promise((resolve) => setTimeout(resolve, 300))
    await mustRequest(app.url, SendMessageDocument, { chatId: chat.id, clientMessageId: randomUUID(), body: 'counted' }, peer.token)
    await events.until((items) => items.some((item) => item.chatEvents.__typename === 'MessageEvent'))
    await signUp(app.url)
    expect(errorCode(await request(app.url, SignUpDocument))).toBe('RATE_LIMITED')

    const text = await scrape()
    // Four signUps answered: three accounts and the refusal.
    expect(sample(text, 'hush_operation_duration_seconds_count', { operation: 'SignUp', type: 'mutation', transport: 'http' })).toBe(4)
    expect(sample(text, 'hush_operation_duration_seconds_count', { operation: 'SendMessage', transport: 'http' })).toBe(1)
    expect(sample(text, 'hush_operation_duration_seconds_count', { operation: 'ChatEvents', type: 'subscription', transport: 'socket' })).toBe(1)
    // The start's transaction; the send's claim (a PutItem) and commit (an UpdateItem).
    expect(sample(text, 'hush_dynamodb_request_duration_seconds_count', { command: 'TransactWriteItems', outcome: 'ok' })).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'hush_dynamodb_request_duration_seconds_count', { command: 'PutItem', outcome: 'ok' })).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'hush_dynamodb_request_duration_seconds_count', { command: 'UpdateItem', outcome: 'ok' })).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'hush_websocket_connections')).toBe(1)
    expect(sample(text, 'hush_live_streams', { kind: 'chatEvents' })).toBe(1)
    expect(sample(text, 'hush_bus_events_received_total', { kind: 'message' })).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'hush_rate_limit_refusals_total', { limit: 'signUp' })).toBe(1)
    expect(sample(text, 'hush_redis_ping_duration_seconds_count', { outcome: 'ok' })).toBeUndefined()
    await app.checkReadiness()
    expect(sample(await scrape(), 'hush_redis_ping_duration_seconds_count', { outcome: 'ok' })).toBe(1)
    for (const name of ['hush_push_queue_jobs', 'hush_slow_consumer_cutoffs_total', 'hush_process_resident_memory_bytes', 'hush_nodejs_eventloop_lag_p99_seconds']) {
      expect(text, name).toContain(`\n${name}`)
    }
    await client.dispose()
    const deadline = Date.now() + 5_000
    while (sample(await scrape(), 'hush_websocket_connections') !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sample(await scrape(), 'hush_live_streams', { kind: 'chatEvents' })).toBe(0)
    expect(sample(await scrape(), 'hush_websocket_connections')).toBe(0)
  })

  it('can be switched off, or served on the admin port with the probes instead of the public one', async () => {
    const off = await startTestApp({ METRICS: 'false' })
    const admin = await startTestApp({ ADMIN_PORT: '0' })
    try {
      expect(off.metricsUrl).toBeUndefined()
      expect((await fetch(`${off.url}/metrics`)).status).not.toBe(200)
      expect(admin.adminUrl).toBeDefined()
      expect(admin.adminUrl).not.toBe(admin.url)
      expect(admin.metricsUrl).toBe(`${admin.adminUrl}/metrics`)
      expect(await (await fetch(admin.metricsUrl!)).text()).toContain('hush_operation_duration_seconds')
      expect((await fetch(`${admin.url}/metrics`)).status).not.toBe(200)
      // The probes answer on both ports (a load balancer checks the admin one), nothing else there.
      for (const base of [admin.url, admin.adminUrl!]) {
        expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' })
        expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' })
      }
      expect((await fetch(`${admin.adminUrl}/graphql`)).status).toBe(404)
    } finally {
      await Promise.all([off.stop(), admin.stop()])
    }
  })

  it('closes the admin port when the app stops', async () => {
    const admin = await startTestApp({ ADMIN_PORT: '0' })
    expect((await fetch(`${admin.adminUrl}/healthz`)).status).toBe(200)
    await admin.stop()
    await expect(fetch(`${admin.adminUrl}/healthz`)).rejects.toThrow()
  })
})
