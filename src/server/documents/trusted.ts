import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { GraphQLError } from 'graphql'

/** What a request may carry to name its document: the text, or a persisted document's id. */
export interface DocumentParams {
  query?: unknown
  /** GraphQL over HTTP's persisted documents (and graphql-codegen's): `sha256:<hex>`. */
  documentId?: unknown
  /** Apollo's and urql's persisted queries: `{ persistedQuery: { version: 1, sha256Hash } }`. */
  extensions?: unknown
}

const ID = /^sha256:[0-9a-f]{64}$/

/**
 * Trusted documents (TRUSTED_DOCUMENTS): the app's operations, by hash, from the manifest that
 * `npm run codegen` writes (client/src/generated/persisted-documents.json). With it, every path
 * (the lean HTTP path, Yoga, the socket) runs only documents of the manifest, named by id or sent
 * in full, and refuses anything else before parsing it: an attacker gets no document of their own
 * to run, however small. One instance serves every path, so they cannot disagree.
 */
export class TrustedDocuments {
  private readonly texts: ReadonlySet<string>

  private constructor(private readonly byId: ReadonlyMap<string, string>) {
    this.texts = new Set(byId.values())
  }

  /**
   * Reads and checks manifests (comma-separated paths): graphql-codegen's (`{ "sha256:<hex>":
   * document }`) or Apollo's persisted-query manifest (Apollo iOS and Kotlin,
   * `{ format: "apollo-persisted-query-manifest", operations: [{ id, body }] }`). Every id must be
   * the SHA-256 of its document.
   */
  static async load(files: string): Promise<TrustedDocuments> {
    const byId = new Map<string, string>()
    for (const file of files.split(',').map((name) => name.trim()).filter(Boolean)) {
      for (const [id, text] of entriesOf(JSON.parse(await readFile(file, 'utf8')) as unknown, file)) {
        if (!ID.test(id) || typeof text !== 'string' || id !== idOf(text)) throw new Error(`${file}: ${String(id).slice(0, 80)} is not the sha256 of its document`)
        byId.set(id, text)
      }
    }
    return new TrustedDocuments(byId)
  }

  get size(): number {
    return this.byId.size
  }

  /** The text of the document the request names, or the error to answer it with. */
  resolve(params: DocumentParams): string | GraphQLError {
    const id = idIn(params)
    if (id !== undefined) return this.byId.get(id) ?? refusal(`No trusted document has the id ${id.slice(0, 80)}.`)
    if (typeof params.query === 'string' && this.texts.has(params.query)) return params.query
    return refusal('Only trusted documents run on this server: send the documentId of one from its manifest.')
  }
}

/** A manifest's [id, document] pairs, ids as `sha256:<hex>`. */
function entriesOf(manifest: unknown, file: string): Array<[string, unknown]> {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new Error(`${file} is not a manifest`)
  const { format, operations } = manifest as { format?: unknown; operations?: unknown }
  if (format === undefined) return Object.entries(manifest)
  if (format !== 'apollo-persisted-query-manifest' || !Array.isArray(operations)) throw new Error(`${file}: unknown manifest format`)
  return (operations as Array<{ id?: unknown; body?: unknown }>).map(({ id, body }) => [`sha256:${String(id)}`, body])
}

/** The manifest's id of a document text. */
export const idOf = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`

function idIn({ documentId, extensions }: DocumentParams): string | undefined {
  if (typeof documentId === 'string' && documentId !== '') return documentId
  const hash = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined)?.persistedQuery?.sha256Hash
  return typeof hash === 'string' ? `sha256:${hash}` : undefined
}

/** Apollo's code for an unknown persisted query: its clients know it. */
const refusal = (message: string) => new GraphQLError(message, { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } } })
