import type { TypedDocumentNode } from '@graphql-typed-document-node/core'
import { Kind, print, type DocumentNode } from 'graphql'

/**
 * The variables argument of an operation: optional when the operation needs none (or only
 * optional ones), required otherwise, so `execute(SignUpDocument)` and
 * `execute(SendMessageDocument, { … })` both type-check and a missing `chatId` does not.
 */
export type VariablesArg<V> = Record<string, never> extends V ? [variables?: V] : [variables: V]

/** What goes over the wire for one operation (graphql-ws's SubscribePayload, plus documentId). */
export interface OperationPayload {
  /** The text; '' when sent by id (graphql-ws requires a string). */
  query: string
  /** `sha256:<hex>`: the id codegen gave the document, for servers with TRUSTED_DOCUMENTS. */
  documentId?: string
  operationName?: string
  variables?: Record<string, unknown>
  /** The id beside the text (`'with-text'`), where every GraphQL server accepts an extra field. */
  extensions?: { persistedQuery: { version: 1; sha256Hash: string } }
}

/** See HushClientOptions.persistedDocuments. */
export type PersistedDocumentsMode = boolean | 'with-text'

// Printing a document walks its whole AST: once per document, not per request or reconnect.
const texts = new WeakMap<DocumentNode, string>()

/** The id codegen's persisted-documents preset put on a document (`__meta__.hash`), if any. */
export function documentIdOf(document: DocumentNode): string | undefined {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash
  return typeof hash === 'string' ? hash : undefined
}

/**
 * The payload of `document`, by `mode` (see HushClientOptions.persistedDocuments); a document of
 * your own, without `__meta__.hash`, goes as its printed text whatever the mode.
 */
export function payloadOf<T, V>(document: TypedDocumentNode<T, V>, variables: V | undefined, mode: PersistedDocumentsMode): OperationPayload {
  const payload: OperationPayload = { query: '' }
  const id = mode ? documentIdOf(document) : undefined
  if (id && mode === true) payload.documentId = id
  else payload.query = textOf(document)
  if (id && mode === 'with-text') payload.extensions = { persistedQuery: { version: 1, sha256Hash: id.replace(/^sha256:/, '') } }
  const name = operationNameOf(document)
  if (name) payload.operationName = name
  if (variables) payload.variables = variables
  return payload
}

function textOf(document: DocumentNode): string {
  let text = texts.get(document)
  if (text === undefined) texts.set(document, (text = print(document)))
  return text
}

function operationNameOf(document: DocumentNode): string | undefined {
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) return definition.name?.value
  }
  return undefined
}
