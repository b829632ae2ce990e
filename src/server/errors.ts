import { GraphQLError } from 'graphql'
import type { Logger } from 'pino'
import { DomainError } from '../domain/errors.js'

export const UNEXPECTED_ERROR_MESSAGE = 'Unexpected error.'

/**
 * Yoga's `maskError`: a DomainError becomes a GraphQL error with its code in `extensions.code`;
 * GraphQL's own errors (syntax, validation, variables) pass through; anything else is logged in
 * full and reaches the client only as "Unexpected error.".
 */
export function createErrorMasker(logger: Logger) {
  return (error: unknown): GraphQLError => {
    const graphQLError = error instanceof GraphQLError ? error : undefined
    const original = graphQLError ? graphQLError.originalError : error
    if (original instanceof DomainError) {
      return located(
        new GraphQLError(original.message, {
          nodes: graphQLError?.nodes,
          path: graphQLError?.path,
          extensions: { ...original.details, code: original.code },
        }),
        graphQLError,
      )
    }
    if (graphQLError && (original === undefined || original === null || original instanceof GraphQLError)) {
      const inner = original instanceof GraphQLError ? original : graphQLError
      // Yoga's own refusal of an upload past formDataLimits.fileSize.
      if (inner.extensions?.code === 'REQUEST_ENTITY_TOO_LARGE') {
        return new GraphQLError('A photo may be at most the configured size (MAX_PHOTO_BYTES).', {
          extensions: { code: 'PAYLOAD_TOO_LARGE', http: { status: 413 } },
        })
      }
      // GraphQL's own errors (syntax, validation, variables; graphql-jit's come without
      // extensions) are the client's input: BAD_USER_INPUT, keeping any HTTP status Yoga set.
      // Yoga's "no such operation" is the same mistake as the socket's, so it gets the same code.
      if (inner.extensions?.code === undefined || inner.extensions.code === 'OPERATION_RESOLUTION_FAILURE') {
        return located(
          new GraphQLError(inner.message, {
            nodes: graphQLError.nodes,
            path: graphQLError.path,
            extensions: { ...inner.extensions, code: 'BAD_USER_INPUT' },
          }),
          graphQLError,
          inner,
        )
      }
      return graphQLError
    }
    logger.error({ err: original, path: graphQLError?.path }, 'unexpected error')
    return located(
      new GraphQLError(UNEXPECTED_ERROR_MESSAGE, {
        nodes: graphQLError?.nodes,
        path: graphQLError?.path,
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      }),
      graphQLError,
    )
  }
}

/**
 * graphql-jit's errors carry their locations without the AST nodes graphql-js derives them from:
 * the masked error keeps them, so both engines answer alike.
 */
function located(error: GraphQLError, ...from: Array<GraphQLError | undefined>): GraphQLError {
  const locations = from.find((source) => source?.locations !== undefined)?.locations
  if (error.locations === undefined && locations !== undefined) (error as { locations?: GraphQLError['locations'] }).locations = locations
  return error
}
