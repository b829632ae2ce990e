import { getIntrospectionQuery } from 'graphql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from './support/app.js'
import { signUp, wsClient } from './support/client.js'

const post = async (app: TestApp, query: string, token: string) => {
  const response = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  })
  return (await response.json()) as { data?: unknown; errors?: Array<{ message: string; extensions: { code: string } }> }
}

describe.each([
  { name: 'NODE_ENV=production', env: { NODE_ENV: 'production' }, open: false },
  { name: 'the development default', env: {}, open: true },
])('what the API shows about itself under $name', ({ env, open }) => {
  let app: TestApp
  let token: string
  beforeAll(async () => {
    app = await startTestApp(env)
    token = (await signUp(app.url)).token
  })
  afterAll(() => app.stop())

  it(open ? 'answers introspection, over HTTP and the socket' : 'refuses introspection, over HTTP and the socket', async () => {
    const http = await post(app, getIntrospectionQuery(), token)
    const client = wsClient(app.url, token)
    try {
      const socket = await new Promise<{ data?: unknown; errors?: unknown }>((resolve, reject) => {
        let result: { data?: unknown; errors?: unknown } = {}
        client.subscribe({ query: '{ __type(name: "Chat") { name } }' }, { next: (value) => (result = value), error: (errors) => resolve({ errors }), complete: () => resolve(result) })
        setTimeout(() => reject(new Error('no answer')), 5_000)
      })
      if (open) {
        expect(http.errors).toBeUndefined()
        expect(socket.errors).toBeUndefined()
      } else {
        expect(http.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT')
        expect(JSON.stringify(socket.errors)).toContain('introspection')
      }
    } finally {
      await client.dispose()
    }
  })

  it(open ? 'suggests field names in validation errors' : 'never suggests field names in validation errors', async () => {
    const answer = await post(app, '{ viewr { id } }', token)
    expect(answer.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT')
    expect(answer.errors?.[0]?.message.includes('Did you mean')).toBe(open)
  })

  it(open ? 'serves GraphiQL to a browser' : 'serves no GraphiQL', async () => {
    const response = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } })
    const text = await response.text()
    expect(text.includes('graphiql')).toBe(open)
  })
})
