import { Kind, type DocumentNode, type GraphQLError } from 'graphql'
import type { Plugin } from 'graphql-yoga'
import { isRefusal, type DocumentCache } from './cache.js'

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
    onParse({ params, setParsedDocument }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body
      const result = cache.check(source)
      if (!isRefusal(result)) {
        checked.add(result.document)
        return setParsedDocument(result.document)
      }
      // Yoga answers a thrown parse error as it answers any syntax error.
      if (result.stage !== 'validate') throw result.errors[0]
      const standIn: DocumentNode = { kind: Kind.DOCUMENT, definitions: [] }
      refused.set(standIn, result.errors)
      setParsedDocument(standIn)
    },
    onValidate({ params, setResult }) {
      const errors = refused.get(params.documentAST)
      if (errors) setResult(errors)
      else if (checked.has(params.documentAST)) setResult([])
    },
  }
}
