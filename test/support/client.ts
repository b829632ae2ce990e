import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import { print, type ExecutionResult, type GraphQLFormattedError } from 'graphql'
import { createClient, type Client } from 'graphql-ws'
import WebSocket from 'ws'
import { SignUpDocument } from '../generated/graphql.js'

export interface GraphQLResponse<T> {
  status: number
  data: T | null | undefined
  errors: GraphQLFormattedError[] | undefined
  /** The body exactly as received, for anonymity scans. */
  raw: string
}

/** A real HTTP client call: POST /graphql with JSON, as any GraphQL client sends it. */
export async function request<T, V extends Record<string, unknown>>(
  url: string,
  document: TypedDocumentNode<T, V>,
  variables?: V,
  token?: string,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query: print(document), variables }),
  })
  const raw = await response.text()
  const body = JSON.parse(raw) as ExecutionResult<T>
  return { status: response.status, data: body.data, errors: body.errors as GraphQLFormattedError[] | undefined, raw }
}

/** Like `request`, but fails the test on any error and returns the data. */
export async function mustRequest<T, V extends Record<string, unknown>>(
  url: string,
  document: TypedDocumentNode<T, V>,
  variables?: V,
  token?: string,
): Promise<T> {
  const response = await request(url, document, variables, token)
  if (response.errors?.length || !response.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`)
  }
  return response.data
}

export function errorCode(response: GraphQLResponse<unknown>): unknown {
  return response.errors?.[0]?.extensions?.code
}

export interface TestUser {
  id: string
  token: string
}

export async function signUp(url: string): Promise<TestUser> {
  const { signUp } = await mustRequest(url, SignUpDocument)
  return { id: signUp.viewer.id, token: signUp.token }
}

/** The real graphql-ws client over `ws`, authenticated the way SPEC says. */
export function wsClient(url: string, token: string | undefined, options: { retryAttempts?: number } = {}): Client {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
    retryAttempts: options.retryAttempts ?? 0,
    lazy: true,
  })
}

/** Runs one operation over graphql-ws and returns its single result. */
export function wsExecute<T, V extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<T, V>,
  variables?: V,
): Promise<ExecutionResult<T>> {
  return new Promise((resolve, reject) => {
    let result: ExecutionResult<T> | undefined
    client.subscribe<T>(
      { query: print(document), variables },
      {
        next: (value) => (result = value as ExecutionResult<T>),
        error: reject,
        complete: () => (result ? resolve(result) : reject(new Error('completed without a result'))),
      },
    )
  })
}

/**
 * A live subscription over graphql-ws that collects what it receives, for tests to wait on.
 */
export interface Collector<T> {
  items: T[]
  errors: unknown[]
  completed: boolean
  /** Resolves once `predicate` holds for the items received so far. */
  until(predicate: (items: T[]) => boolean, ms?: number): Promise<T[]>
  stop(): void
}

export function collect<T, V extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<T, V>,
  variables?: V,
): Collector<T> {
  const collector: Collector<T> = {
    items: [],
    errors: [],
    completed: false,
    async until(predicate, ms = 10_000) {
      const deadline = Date.now() + ms
      while (!predicate(collector.items)) {
        if (collector.errors.length > 0) throw new Error(`subscription failed: ${JSON.stringify(collector.errors)}`)
        if (Date.now() > deadline) throw new Error(`timed out; received ${JSON.stringify(collector.items)}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      return collector.items
    },
    stop: () => {},
  }
  collector.stop = client.subscribe<T>(
    { query: print(document), variables },
    {
      next: (value) => {
        if (value.errors) collector.errors.push(value.errors)
        else collector.items.push(value.data as T)
      },
      error: (error) => collector.errors.push(error),
      complete: () => (collector.completed = true),
    },
  )
  return collector
}

/** uploadPhoto as a GraphQL multipart request (the spec that Yoga implements), with fetch. */
export async function uploadPhoto(
  url: string,
  token: string,
  variables: { chatId: string; viewOnce?: boolean },
  file: { bytes: Uint8Array; name: string; type: string },
): Promise<GraphQLResponse<{ uploadPhoto: { id: string; contentType: string; width: number; height: number; byteSize: number; url: string | null; viewOnce: boolean } }>> {
  const form = new FormData()
  form.set(
    'operations',
    JSON.stringify({
      query: 'mutation ($chatId: ID!, $file: File!, $viewOnce: Boolean) { uploadPhoto(chatId: $chatId, file: $file, viewOnce: $viewOnce) { id contentType width height byteSize url viewOnce } }',
      variables: { ...variables, file: null },
    }),
  )
  form.set('map', JSON.stringify({ 0: ['variables.file'] }))
  form.set('0', new Blob([file.bytes as Uint8Array<ArrayBuffer>], { type: file.type }), file.name)
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'graphql-require-preflight': '1' },
    body: form,
  })
  const raw = await response.text()
  const body = JSON.parse(raw) as ExecutionResult<never>
  return { status: response.status, data: body.data, errors: body.errors as GraphQLFormattedError[] | undefined, raw }
}

/** A raw graphql-transport-ws socket past connection_ack, for tests that watch its frames and close code. */
export async function openAckedSocket(url: string, token: string): Promise<WebSocket> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws')
  await new Promise((resolve) => socket.once('open', resolve))
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }))
  await new Promise((resolve) => socket.once('message', resolve))
  return socket
}
