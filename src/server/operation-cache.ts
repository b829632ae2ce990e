import { getOperationAST, GraphQLError, parse, validate, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql'
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit'

/** Distinct operations kept compiled (clients send a handful, over and over). */
export const OPERATIONS_MAX = 1_000

/** One operation of a document, parsed, validated and compiled. */
export interface Operation {
  kind: 'query' | 'mutation' | 'subscription'
  document: DocumentNode
  name: string | undefined
  compiled: CompiledQuery & { query: (root: unknown, context: unknown, variables: unknown) => Promise<ExecutionResult> | ExecutionResult }
}

export const isOperation = (value: Operation | readonly GraphQLError[]): value is Operation => !Array.isArray(value)

/**
 * Operations by their text and name, or the errors they gave; the oldest goes first when full.
 * Each is parsed, validated and compiled by graphql-jit once (as Mercurius runs them): the
 * per-request work that graphql-js redoes every time (variables, field collection, type checks)
 * is done once per operation text.
 */
export class OperationCache {
  private readonly entries = new Map<string, Operation | readonly GraphQLError[]>()

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly capacity: number,
  ) {}

  get(query: string, name: string | undefined): Operation | readonly GraphQLError[] {
    const key = name === undefined ? query : `${name}\n${query}`
    let entry = this.entries.get(key)
    if (entry) return entry
    entry = this.compile(query, name)
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(key, entry)
    return entry
  }

  private compile(query: string, name: string | undefined): Operation | readonly GraphQLError[] {
    let document: DocumentNode
    try {
      document = parse(query)
    } catch (error) {
      if (error instanceof GraphQLError) return [error]
      throw error
    }
    const errors = validate(this.schema, document)
    if (errors.length > 0) return errors
    const operation = getOperationAST(document, name)
    if (!operation) return [new GraphQLError('Unable to identify the operation to run.')]
    const compiled = compileQuery(this.schema, document, name)
    if (!isCompiledQuery(compiled)) return compiled.errors ?? [new GraphQLError('The operation could not be compiled.')]
    return { kind: operation.operation, document, name, compiled: compiled as Operation['compiled'] }
  }
}
