import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { print } from 'graphql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CreatePostDocument,
  NotificationsDocument,
  SignUpDocument,
  StartChatDocument,
  ViewerDocument,
} from '../client/src/generated/graphql.js'
import { idOf as idOfText, TrustedDocuments } from '../src/server/documents/trusted.js'
import { startTestApp, type TestApp } from './support/app.js'
import { collect, wsClient } from './support/client.js'

const MANIFEST = path.resolve(import.meta.dirname, '../client/src/generated/persisted-documents.json')
/** The id codegen gave a typed document (its SHA-256, as in the manifest). */
const idOf = (document: object) => (document as { __meta__: { hash: string } }).__meta__.hash

async function post(app: TestApp, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as { data?: Record<string, unknown>; errors?: Array<{ message: string; extensions?: { code?: string } }> } }
}

/**
 * TRUSTED_DOCUMENTS set to the manifest `npm run codegen` writes from operations/: every path runs
 * the app's operations by id, and nothing else.
 */
describe('trusted documents', () => {
  let app: TestApp
  /** signUp as an app does it under trusted documents: by id. */
  const signUp = async () => {
    const { signUp } = (await post(app, { documentId: idOf(SignUpDocument) })).body.data as { signUp: { token: string; viewer: { id: string } } }
    return { id: signUp.viewer.id, token: signUp.token }
  }

  beforeAll(async () => {
    app = await startTestApp({ TRUSTED_DOCUMENTS: MANIFEST })
  })
  afterAll(() => app?.stop())

  it('runs an operation by documentId on the lean path, by Apollo’s persistedQuery hash, and sent in full', async () => {
    const byId = await post(app, { documentId: idOf(SignUpDocument) })
    const { token, viewer } = byId.body.data!.signUp as { token: string; viewer: { id: string } }
    expect(token.length).toBeGreaterThan(20)
    const apollo = await post(app, { extensions: { persistedQuery: { version: 1, sha256Hash: idOf(ViewerDocument).slice('sha256:'.length) } } }, { authorization: `Bearer ${token}` })
    expect(apollo.body.data?.viewer).toEqual({ id: viewer.id })
    const manifest = JSON.parse(await readFile(MANIFEST, 'utf8')) as Record<string, string>
    const inFull = await post(app, { query: manifest[idOf(ViewerDocument)] }, { authorization: `Bearer ${token}` })
    expect(inFull.body.data?.viewer).toEqual({ id: viewer.id })
  })

  it('refuses any other document on the lean path, on Yoga’s (GET, browsers) and over the socket, with PERSISTED_QUERY_NOT_FOUND', async () => {
    const user = await signUp()
    const auth = { authorization: `Bearer ${user.token}` }
    const unknownId = `sha256:${'0'.repeat(64)}`
    for (const body of [{ query: '{ viewer { id } }' }, { query: print(ViewerDocument) + ' ' }, { documentId: unknownId }, {}]) {
      const refused = await post(app, body, auth)
      expect([refused.status, refused.body.errors?.[0]?.extensions?.code], JSON.stringify(body)).toEqual([400, 'PERSISTED_QUERY_NOT_FOUND'])
      expect(refused.body.data).toBeUndefined()
    }
    // Yoga's path: a browser's POST (it has an Origin) and a GET.
    const fromBrowser = await post(app, { query: '{ viewer { id } }' }, { ...auth, origin: 'https://app.example' })
    expect(fromBrowser.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND')
    const get = (params: string) => fetch(`${app.url}/graphql?${params}`, { headers: { ...auth, accept: 'application/graphql-response+json' } }).then((r) => r.json())
    expect(await get(`query=${encodeURIComponent('{ viewer { id } }')}`)).toMatchObject({ errors: [{ extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] })
    expect(await get(`documentId=${idOf(ViewerDocument)}`)).toMatchObject({ data: { viewer: { id: user.id } } })

    // The socket: a subscription by id runs, any other document is refused.
    const client = wsClient(app.url, user.token)
    const refused = collect(client, ViewerDocument, {})
    await expect(refused.until(() => false, 3_000)).rejects.toThrow(/PERSISTED_QUERY_NOT_FOUND|Only trusted documents/)
    const notifications = await new Promise<unknown[]>((resolve, reject) => {
      const received: unknown[] = []
      client.subscribe(
        { query: '', documentId: idOf(NotificationsDocument) } as { query: string },
        { next: (value) => (received.push(value), resolve(received)), error: reject, complete: () => resolve(received) },
      )
      void (async () => {
        await new Promise((r) => setTimeout(r, 300))
        const peer = await signUp()
        const postId = ((await post(app, { documentId: idOf(CreatePostDocument), variables: { body: 'trusted' } }, auth)).body.data!.createPost as { id: string }).id
        await post(app, { documentId: idOf(StartChatDocument), variables: { postId } }, { authorization: `Bearer ${peer.token}` })
      })().catch(reject)
    })
    expect(notifications).toMatchObject([{ data: { notifications: { __typename: 'ChatStartedNotification' } } }])
    await client.dispose()
  })

  it('refuses to start on a manifest whose ids are not the hashes of their documents', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hush-trusted-'))
    const forged = path.join(dir, 'manifest.json')
    await writeFile(forged, JSON.stringify({ [idOf(ViewerDocument)]: '{ __schema { types { name } } }' }))
    await expect(TrustedDocuments.load(forged)).rejects.toThrow(/not the sha256/)
    const codegen = await TrustedDocuments.load(MANIFEST)
    expect(codegen.size).toBeGreaterThan(20)
    // An app's Apollo (iOS, Kotlin) manifest beside codegen's: both kinds of ids run.
    const apolloBody = 'query Me { viewer { id } }'
    const apollo = path.join(dir, 'apollo.json')
    const apolloId = idOfText(apolloBody).slice('sha256:'.length)
    await writeFile(apollo, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: apolloId, body: apolloBody, name: 'Me', type: 'query' }] }))
    const both = await TrustedDocuments.load(`${MANIFEST},${apollo}`)
    expect(both.size).toBe(codegen.size + 1)
    expect(both.resolve({ extensions: { persistedQuery: { version: 1, sha256Hash: apolloId } } })).toBe(apolloBody)
    expect(both.resolve({ documentId: idOf(ViewerDocument) })).toContain('viewer')
  })
})
