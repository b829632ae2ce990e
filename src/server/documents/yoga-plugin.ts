import { Kind, OperationTypeNode, type DocumentNode, type GraphQLError, type Source } from 'graphql'
import type { Plugin } from 'graphql-yoga'
import { isRefusal, type DocumentCache } from './cache.js'
import type { TrustedDocuments } from './trusted.js'

/**
 * Yoga's parse and validate, answered from the DocumentCache that the lean path and the socket
 * use: the same limits on every path from one implementation, and a document checked once
 * whichever path saw it first (a refusal the lean path handed over is not checked again).
 * Yoga's own parser cache is off; this one is bounded by bytes.
 */
export function useDocumentCache(cache: DocumentCache): Plugin {
  /** Stand-ins for refused documents (their AST is not kept), with their errors. */
  const refused = new WeakMap<DocumentNode, readonly GraphQLError[]>()
  /** Documents the cache checked already. */
  const checked = new WeakSet<DocumentNode>()
  return {
    onParse({ params, context, setParsedDocument }) {
      // Envelop types the parse params loosely: they are graphql's parse arguments.
      const { source } = params as { source: string | Source }
      const result = cache.check(typeof source === 'string' ? source : source.body)
      if (!isRefusal(result)) {
        checked.add(result.document)
        return setParsedDocument(result.document)
      }
      // Yoga answers a thrown parse error as it answers any syntax error.
      if (result.stage !== 'validate') throw result.errors[0]!
      const standIn = standInFor((context as { params?: { operationName?: string | null } }).params?.operationName)
      refused.set(standIn, result.errors)
      setParsedDocument(standIn)
    },
    onValidate({ params, setResult }) {
      const { documentAST } = params as { documentAST: DocumentNode }
      const errors = refused.get(documentAST)
      if (errors) setResult(errors)
      else if (checked.has(documentAST)) setResult([])
    },
  }
}

/**
 * An empty operation (named as asked), so that Yoga finds something to run after parsing and goes
 * on to validation, which answers the refusal.
 */
function standInFor(operationName: string | null | undefined): DocumentNode {
  return {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: OperationTypeNode.QUERY,
        name: operationName ? { kind: Kind.NAME, value: operationName } : undefined,
        selectionSet: { kind: Kind.SELECTION_SET, selections: [] },
      },
    ],
  }
}

/**
 * TRUSTED_DOCUMENTS on Yoga's path (GET, uploads, browsers): the request's document id (or its
 * full text) is looked up in the manifest before anything parses it; anything else is refused.
 */
export function useTrustedDocuments(trusted: TrustedDocuments): Plugin {
  return {
    onParams({ params, request, setParams }) {
      const given = params as Parameters<TrustedDocuments['resolve']>[0]
      // Yoga's GET parser keeps query, operationName, variables and extensions only.
      const documentId = given.documentId ?? (request.method === 'GET' ? new URL(request.url).searchParams.get('documentId') : undefined)
      const text = trusted.resolve({ ...given, documentId })
      if (typeof text !== 'string') throw text
      setParams({ ...params, query: text })
    },
  }
}
