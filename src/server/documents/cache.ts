import {
  BREAK,
  getOperationAST,
  GraphQLError,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  Kind,
  parse,
  specifiedRules,
  validate,
  visit,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql'
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit'
import { LRUCache } from 'lru-cache'
import { limitRules, withoutSuggestion, type DocumentLimits } from './rules.js'

/** One operation of a document, checked and compiled by graphql-jit. */
export interface Operation {
  kind: 'query' | 'mutation' | 'subscription'
  document: DocumentNode
  name: string | undefined
  /** The operation's own name in the document (for logs and metrics), whatever name was asked for. */
  label: string | undefined
  compiled: CompiledQuery & { query: (root: unknown, context: unknown, variables: unknown) => Promise<ExecutionResult> | ExecutionResult }
}

/** A document that parsed and passed every rule; its operations are compiled on first use. */
export interface CheckedDocument {
  readonly document: DocumentNode
}

/**
 * Why a document was refused: `size`, `parse` (a syntax error or too many tokens), `validate`
 * (against the schema and the limits), or `operation` (it has no operation of the name asked for).
 */
export interface Refusal {
  readonly stage: 'size' | 'parse' | 'validate' | 'operation'
  readonly errors: readonly GraphQLError[]
}

export const isRefusal = (value: CheckedDocument | Refusal | Operation): value is Refusal => 'errors' in value

interface Checked extends CheckedDocument {
  readonly operations: Map<string | undefined, Operation | Refusal>
}

/** Validation stops after this many errors: a client needs the first few, not thousands. */
const MAX_ERRORS = 20
/**
 * Estimated memory of a cached document: its AST is about 50 bytes per character of text (measured
 * on Hush's operations), and each compiled operation's functions about 16 KB.
 */
const AST_BYTES_PER_CHAR = 60
const COMPILED_BYTES = 16_384
/** A refusal: the entry, and each of its errors (message, locations, extensions) about 2 KB. */
const REFUSAL_BYTES = 512
const REFUSED_ERROR_BYTES = 2_048
/** Past this many names the schema does not have, a document is refused without validation. */
const UNKNOWN_NAMES_MAX = 5

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
  private readonly schemaNames: ReadonlySet<string>

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly limits: DocumentLimits,
    maxBytes: number,
  ) {
    this.rules = limitRules(limits)
    this.schemaNames = namesOf(schema)
    this.entries = new LRUCache({
      maxSize: maxBytes,
      sizeCalculation: (entry, key) =>
        key.length * 2 +
        (isRefusal(entry)
          ? REFUSAL_BYTES + REFUSED_ERROR_BYTES * entry.errors.length
          : key.length * AST_BYTES_PER_CHAR + COMPILED_BYTES * entry.document.definitions.length),
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
    // By the name as given: none (the document's only operation) is not the name "".
    let operation = checked.operations.get(name)
    if (operation) return operation
    operation = this.compile(checked.document, name)
    // Only the document's own operations are kept (its size counts them): a name it does not
    // have is refused afresh each time, so made-up names cost the cache nothing.
    if (!isRefusal(operation)) checked.operations.set(name, operation)
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
    const unknown = unknownNames(this.schemaNames, document, UNKNOWN_NAMES_MAX)
    if (unknown.length > UNKNOWN_NAMES_MAX) {
      // A document made of names nobody defined is refused before validation, which compares
      // every unknown name with every known one (for suggestions) and stalls on thousands.
      const error = new GraphQLError(`The document has more than ${UNKNOWN_NAMES_MAX} names the schema does not define, such as "${unknown[0]}".`)
      return { stage: 'validate', errors: [this.detach(error)] }
    }
    for (const rules of [this.rules, specifiedRules]) {
      let errors: readonly GraphQLError[]
      try {
        errors = validate(this.schema, document, rules, { maxErrors: MAX_ERRORS })
      } catch (error) {
        // A rule that throws on a document it did not expect (graphql-js's single-field
        // subscription rule does, on some directives) refuses it all the same.
        if (!(error instanceof GraphQLError)) throw error
        errors = [error]
      }
      if (errors.length > 0) return { stage: 'validate', errors: errors.map((error) => this.detach(error)) }
    }
    return { document, operations: new Map() }
  }

  private compile(document: DocumentNode, name: string | undefined): Operation | Refusal {
    const operation = getOperationAST(document, name)
    // Worded as Yoga words it, so that every path answers alike.
    if (!operation) return { stage: 'operation', errors: [this.detach(new GraphQLError('Could not determine what operation to execute.'))] }
    const compiled = compileQuery(this.schema, document, name)
    if (!isCompiledQuery(compiled)) return { stage: 'validate', errors: compiled.errors ?? [new GraphQLError('The operation could not be compiled.')] }
    return { kind: operation.operation, document, name, label: operation.name?.value, compiled: compiled as Operation['compiled'] }
  }

  /**
   * The error as the client sees it, on every path: BAD_USER_INPUT, without the AST nodes and
   * source it would otherwise keep alive in the cache (its locations stay), and without a
   * suggestion when those are off.
   */
  private detach(error: GraphQLError): GraphQLError {
    const message = this.limits.suggestions ? error.message : withoutSuggestion(error.message)
    // Positions in the source (the cache's key already) rather than AST nodes: the same
    // locations, without the AST.
    const source = error.source ?? error.nodes?.[0]?.loc?.source
    const positions = error.positions ?? error.nodes?.flatMap((node) => (node.loc ? [node.loc.start] : []))
    const detached = new GraphQLError(message, { source, positions, extensions: { code: 'BAD_USER_INPUT', ...error.extensions } })
    // An unread stack keeps its call sites, and through them the document and the original
    // errors, alive (about 60 KB a refusal, measured); a refusal's stack says nothing anyway.
    detached.stack = undefined
    return detached
  }
}

function tooLarge(maxBytes: number): GraphQLError {
  return new GraphQLError(`The document is larger than ${maxBytes} bytes.`, { extensions: { code: 'PAYLOAD_TOO_LARGE', http: { status: 413 } } })
}

/** Every field and argument name of the schema, introspection's included. */
function namesOf(schema: GraphQLSchema): ReadonlySet<string> {
  const names = new Set(['__typename', '__schema', '__type'])
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) && !isInterfaceType(type) && !isInputObjectType(type)) continue
    const fields: Record<string, { name: string; args?: ReadonlyArray<{ name: string }> }> = type.getFields()
    for (const field of Object.values(fields)) {
      names.add(field.name)
      for (const arg of field.args ?? []) names.add(arg.name)
    }
  }
  for (const directive of schema.getDirectives()) for (const arg of directive.args) names.add(arg.name)
  return names
}

/** The field and argument names of `document` the schema does not have; stops past `max`. */
function unknownNames(known: ReadonlySet<string>, document: DocumentNode, max: number): string[] {
  const unknown: string[] = []
  visit(document, {
    enter(node) {
      if ((node.kind === Kind.FIELD || node.kind === Kind.ARGUMENT || node.kind === Kind.OBJECT_FIELD) && !known.has(node.name.value)) {
        unknown.push(node.name.value)
        if (unknown.length > max) return BREAK
      }
      return undefined
    },
  })
  return unknown
}
