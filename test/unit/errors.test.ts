import { Writable } from 'node:stream'
import { GraphQLError } from 'graphql'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { DomainError } from '../../src/domain/errors.js'
import { createErrorMasker, UNEXPECTED_ERROR_MESSAGE } from '../../src/server/errors.js'

function capture() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

describe('error masking', () => {
  it('turns a DomainError into its code and keeps its message', () => {
    const { logger, lines } = capture()
    const masked = createErrorMasker(logger)(new GraphQLError('x', { originalError: new DomainError('CHAT_CLOSED', 'This chat is closed.') }))
    expect(masked).toBeInstanceOf(GraphQLError)
    expect(masked.extensions.code).toBe('CHAT_CLOSED')
    expect(masked.message).toBe('This chat is closed.')
    expect(lines).toEqual([])
  })

  it('masks anything unexpected for the client and logs it in full', () => {
    const { logger, lines } = capture()
    const secret = new Error('connect ECONNREFUSED 10.0.0.7:8000 (internal detail)')
    const masked = createErrorMasker(logger)(new GraphQLError(secret.message, { originalError: secret }))
    expect(masked.message).toBe(UNEXPECTED_ERROR_MESSAGE)
    expect(JSON.stringify(masked.toJSON())).not.toContain('ECONNREFUSED')
    expect(lines.join('')).toContain('ECONNREFUSED 10.0.0.7')
  })
})
