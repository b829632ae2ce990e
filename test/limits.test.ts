import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { describe, expect, it } from 'vitest'
import { CreatePostDocument, SendMessageDocument, StartChatDocument } from './generated/graphql.js'
import { redisEnv, startPeerApp, startTestApp } from './support/app.js'
import { errorCode, mustRequest, request, signUp } from './support/client.js'

describe('rate limits', () => {
  it('limits sends per user across processes with a token bucket in Redis, and startChat per minute', async () => {
    const limits = { RATE_LIMIT_SEND: '2/s burst 4', RATE_LIMIT_START_CHAT: '3/min burst 3' }
    const one = await startTestApp({ ...redisEnv(), ...limits })
    const two = await startPeerApp(one, limits)
    try {
      const author = await signUp(one.url)
      const commenter = await signUp(one.url)
      const posts: string[] = []
      for (let i = 0; i < 4; i++) posts.push((await mustRequest(one.url, CreatePostDocument, { body: `p${i}` }, author.token)).createPost.id)
      const chats: string[] = []
      for (const post of posts.slice(0, 3)) chats.push((await mustRequest(one.url, StartChatDocument, { postId: post }, commenter.token)).startChat.id)
      expect(errorCode(await request(two.url, StartChatDocument, { postId: posts[3]! }, commenter.token))).toBe('RATE_LIMITED')

      const send = (url: string) => request(url, SendMessageDocument, { chatId: chats[0]!, clientMessageId: randomUUID(), body: 'x' }, commenter.token)
      const burst = await Promise.all([send(one.url), send(two.url), send(one.url), send(two.url), send(one.url), send(two.url)])
      expect(burst.filter((r) => r.errors === undefined)).toHaveLength(4)
      expect(burst.filter((r) => errorCode(r) === 'RATE_LIMITED')).toHaveLength(2)
      // Another user has a bucket of their own.
      const other = await request(one.url, SendMessageDocument, { chatId: chats[0]!, clientMessageId: randomUUID(), body: 'y' }, author.token)
      expect(other.errors).toBeUndefined()
      await new Promise((resolve) => setTimeout(resolve, 600))
      expect((await send(two.url)).errors).toBeUndefined()
    } finally {
      await two.stop()
      await one.stop()
    }
  })
})

describe('request bodies', () => {
  it('refuses a JSON body of unknown length (chunked) with 411 before reading it, and answers a declared one', async () => {
    const app = await startTestApp()
    try {
      const post = (body: string, headers: Record<string, string>) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = http.request(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
            let text = ''
            res.on('data', (chunk: Buffer) => (text += chunk.toString()))
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
          })
          req.on('error', reject)
          req.end(body)
        })
      const query = JSON.stringify({ query: 'mutation { signUp { token } }' })
      const chunked = await post(query, { 'transfer-encoding': 'chunked' })
      expect(chunked.status).toBe(411)
      expect(JSON.parse(chunked.text).errors[0].extensions.code).toBe('BAD_REQUEST')
      const declared = await post(query, { 'content-length': String(Buffer.byteLength(query)) })
      expect(declared.status).toBe(200)
      expect(JSON.parse(declared.text).data.signUp.token).toEqual(expect.any(String))
    } finally {
      await app.stop()
    }
  })
})
