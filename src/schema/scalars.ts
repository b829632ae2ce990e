import { GraphQLError, Kind } from 'graphql'
import { builder } from './builder.js'

function parseDateTime(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : undefined
  if (!date || Number.isNaN(date.getTime())) {
    throw new GraphQLError('DateTime must be an ISO-8601 string.', { extensions: { code: 'BAD_USER_INPUT' } })
  }
  return date
}

builder.scalarType('DateTime', {
  description: 'An instant, as an ISO-8601 string in UTC (e.g. "2026-11-28T17:49:35.000Z").',
  serialize: (value) => value.toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
})
