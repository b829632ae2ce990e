import type { FormattedExecutionResult } from 'graphql'
import { HushError } from './errors.js'
import type { OperationPayload } from './documents.js'

/** The fetch this package needs: the standard one's call shape, nothing Node-specific. */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string }) => Promise<{
  status: number
  text(): Promise<string>
}>

/**
 * POSTs one operation as GraphQL over HTTP and resolves its data; rejects with HushError for
 * GraphQL errors (with their code), a non-GraphQL answer (HTTP_ERROR) or no answer (NETWORK_ERROR).
 */
export async function postOperation<T>(fetchImpl: FetchLike, url: string, payload: OperationPayload, token: string | null | undefined): Promise<T> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  }
  if (token) headers.authorization = `Bearer ${token}`
  // By id the text stays home: `{ documentId }` is what a TRUSTED_DOCUMENTS server resolves.
  const { query, ...rest } = payload
  const body = JSON.stringify(payload.documentId ? rest : { query, ...rest })
  let response: Awaited<ReturnType<FetchLike>>
  try {
    response = await fetchImpl(url, { method: 'POST', headers, body })
  } catch (error) {
    throw new HushError(error instanceof Error ? error.message : 'fetch failed', { code: 'NETWORK_ERROR', cause: error })
  }
  const result = parse<T>(await response.text())
  if (!result) throw new HushError(`HTTP ${response.status} without a GraphQL answer`, { code: 'HTTP_ERROR', status: response.status })
  if (result.errors?.length) throw HushError.fromGraphQL(result.errors, response.status)
  if (result.data == null) throw new HushError(`HTTP ${response.status} without data`, { code: 'HTTP_ERROR', status: response.status })
  return result.data
}

function parse<T>(text: string): FormattedExecutionResult<T> | undefined {
  try {
    const value = JSON.parse(text) as unknown
    return typeof value === 'object' && value !== null && ('data' in value || 'errors' in value) ? (value as FormattedExecutionResult<T>) : undefined
  } catch {
    return undefined
  }
}
