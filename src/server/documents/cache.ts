import { getOperationAST, GraphQLError, parse, specifiedRules, validate, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql'
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit'
import { LRUCache } from 'lru-cache'
import { limitRules, withoutSuggestion, type DocumentLimits } from './rules.js'

/** One operation of a document, checked and compiled by graphql-jit. */
export interface Operation {
  kind: 'query' | 'mutation' | 'subscription'
  document: DocumentNode
  name: string | undefined
  compiled: CompiledQuery & { query: (root: unknown, context: unknown, variables: unknown) => Promise<ExecutionResult> | ExecutionResult }
}

/** A document that parsed and passed every rule; its operations are compiled on first use. */
export interface CheckedDocument {
  readonly document: DocumentNode
}

/** Why a document was refused: `parse` (a syntax error or too many tokens) or `validate`. */
export interface Refusal {
  readonly stage: 'parse' | 'validate' | 'size'
  readonly errors: readonly GraphQLError[]
}

export const isRefusal = (value: CheckedDocument | Refusal | Operation): value is Refusal => 'errors' in value

interface Checked extends CheckedDocument {
  readonly operations: Map<string, Operation | Refusal>
}

/** Validation stops after this many errors: a client needs the first few, not thousands. */
const MAX_ERRORS = 20
/**
 * Estimated memory of a cached document: its AST is about 50 bytes per character of text (measured
 * on Hush's operations), and each compiled operation's functions about 16 KB.
 */
const AST_BYTES_PER_CHAR = 60
const COMPILED_BYTES = 16_384
const REFUSAL_BYTES = 512

/**
 * Documents by their text, parsed, checked against the schema and the limits, and compiled by
 * graphql-jit (as Mercurius runs them): the per-request work that graphql-js redoes every time is
 * done once per text, and a refused text is refused once. Shared by every path (lean HTTP, Yoga
 * through a plugin, the socket), so the limits have one implementation.
 *
 * Bounded by estimated bytes, not entries: a refused document is kept as its errors alone, without
 * its AST or source, so a stream of distinct invalid documents costs little and is forgotten first.
 */
export class DocumentCache {
  private readonly entries: LRUCache<string, Checked | Refusal>
  private readonly rules

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly limits: DocumentLimits,
    maxBytes: number,
  ) {
    this.rules = limitRules(limits)
    this.entries = new LRUCache({
      maxSize: maxBytes,
      sizeCalculation: (entry, key) =>
        key.length * 2 + (isRefusal(entry) ? REFUSAL_BYTES : key.length * AST_BYTES_PER_CHAR + COMPILED_BYTES * entry.document.definitions.length),
    })
  }

  /** The document in `source`, or why it was refused. */
  check(source: string): CheckedDocument | Refusal {
    // A UTF-8 character takes at most 3 bytes per UTF-16 unit: most texts are judged without counting.
    if (source.length * 3 > this.limits.maxBytes && Buffer.byteLength(source) > this.limits.maxBytes) {
      return { stage: 'size', errors: [tooLarge(this.limits.maxBytes)] }
    }
    let entry = this.entries.get(source)
    if (!entry) {
      entry = this.checkUncached(source)
      this.entries.set(source, entry)
    }
    return entry
  }

  /** The operation `name` (or the only one) of the document in `source`, compiled, or why not. */
  operation(source: string, name: string | undefined): Operation | Refusal {
    const checked = this.check(source) as Checked | Refusal
    if (isRefusal(checked)) return checked
    const key = name ?? ''
    let operation = checked.operations.get(key)
    if (!operation) {
      operation = this.compile(checked.document, name)
      checked.operations.set(key, operation)
    }
    return operation
  }

  private checkUncached(source: string): Checked | Refusal {
    let document: DocumentNode
    try {
      document = parse(source, { maxTokens: this.limits.maxTokens, noLocation: false })
    } catch (error) {
      if (error instanceof GraphQLError) return { stage: 'parse', errors: [this.detach(error)] }
      throw error
    }
    for (const rules of [this.rules, specifiedRules]) {
      const errors = validate(this.schema, document, rules, { maxErrors: MAX_ERRORS })
      if (errors.length > 0) return { stage: 'validate', errors: errors.map((error) => this.detach(error)) }
    }
    return { document, operations: new Map() }
  }

  private compile(document: DocumentNode, name: string | undefined): Operation | Refusal {
    const operation = getOperationAST(document, name)
    if (!operation) return { stage: 'validate', errors: [new GraphQLError('Unable to identify the operation to run.')] }
    const compiled = compileQuery(this.schema, document, name)
    if (!isCompiledQuery(compiled)) return { stage: 'validate', errors: compiled.errors ?? [new GraphQLError('The operation could not be compiled.')] }
    return { kind: operation.operation, document, name, compiled: compiled as Operation['compiled'] }
  }

  /**
   * The error as the client sees it, without the AST nodes and source it would otherwise keep
   * alive in the cache (its locations stay), and without a suggestion when those are off.
   */
  private detach(error: GraphQLError): GraphQLError {
    const message = this.limits.suggestions ? error.message : withoutSuggestion(error.message)
    const detached = new GraphQLError(message, { extensions: error.extensions })
    if (error.locations) (detached as { locations?: GraphQLError['locations'] }).locations = error.locations
    return detached
  }
}

function tooLarge(maxBytes: number): GraphQLError {
  return new GraphQLError(`The document is larger than ${maxBytes} bytes.`, { extensions: { code: 'PAYLOAD_TOO_LARGE', http: { status: 413 } } })
}
