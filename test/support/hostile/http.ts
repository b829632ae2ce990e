import http from 'node:http'

export interface HttpAnswer {
  status: number
  text: string
  /** The body as JSON, when it is JSON. */
  json: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } | undefined
}

const asJson = (text: string): HttpAnswer['json'] => {
  try {
    return JSON.parse(text) as HttpAnswer['json']
  } catch {
    return undefined
  }
}

async function answer(response: Response): Promise<HttpAnswer> {
  const text = await response.text()
  return { status: response.status, text, json: asJson(text) }
}

/** The HTTP ways a document reaches the server: each is served by a different path. */
export type HttpWay = 'lean' | 'yoga' | 'get' | 'multipart'

/** Where a GET's query still fits in a request line (node refuses headers past 16 KB with 431). */
export const GET_FITS = 8_000

/**
 * A GraphQL request for `query` the way `way` sends it:
 * - lean: a JSON POST without Origin, as apps send (the lean path);
 * - yoga: the same with an Origin, which the lean path leaves to Yoga (browsers, CORS);
 * - get: `GET /graphql?query=…` asking for JSON (Yoga);
 * - multipart: a GraphQL multipart request without files (Yoga's upload parser).
 */
export async function send(
  base: string,
  way: HttpWay,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
  operationName?: string,
): Promise<HttpAnswer> {
  const authorization = `Bearer ${token}`
  if (way === 'get') {
    const params = new URLSearchParams({ query })
    if (variables) params.set('variables', JSON.stringify(variables))
    if (operationName !== undefined) params.set('operationName', operationName)
    return answer(await fetch(`${base}/graphql?${params}`, { headers: { accept: 'application/json', authorization } }))
  }
  if (way === 'multipart') {
    const form = new FormData()
    form.set('operations', JSON.stringify({ query, variables, operationName }))
    form.set('map', '{}')
    return answer(await fetch(`${base}/graphql`, { method: 'POST', headers: { authorization, 'graphql-require-preflight': '1' }, body: form }))
  }
  return postJson(base, JSON.stringify({ query, variables, operationName }), way === 'yoga' ? { authorization, origin: 'http://app.example' } : { authorization })
}

/** A JSON POST of `body` as given. */
export async function postJson(base: string, body: string, headers: Record<string, string>): Promise<HttpAnswer> {
  return answer(await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...headers }, body }))
}

/**
 * Sends only the headers of a POST that declares `contentLength` bytes, and resolves with the
 * answer the server gives without having read any of the body, or rejects when none comes in `ms`.
 */
export function answerWithoutBody(base: string, contentLength: number, headers: Record<string, string>, ms = 5_000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': String(contentLength), ...headers },
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`no answer in ${ms} ms without the body`))
    }, ms)
    req.on('response', (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => (text += chunk.toString()))
      res.on('end', () => {
        clearTimeout(timer)
        req.destroy()
        resolve({ status: res.statusCode ?? 0, text, json: asJson(text) })
      })
    })
    req.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    req.flushHeaders()
  })
}

/** Runs `task(i)` for i in 0..count-1, at most `concurrency` at once. */
export async function inParallel(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}
