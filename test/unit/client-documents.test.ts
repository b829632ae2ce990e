import { describe, expect, it } from 'vitest'
import { payloadOf } from '../../client/src/documents.js'
import { documentIdOf, SendMessageDocument } from '../../client/src/index.js'

describe('what the client package sends for a generated document', () => {
  const variables = { chatId: 'c', clientMessageId: 'm', body: 'hi' }
  const id = documentIdOf(SendMessageDocument)!

  it('sends the text, the id, or both (the id where every server takes an extra field)', () => {
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/)
    const text = payloadOf(SendMessageDocument, variables, false)
    expect(text).toEqual({ query: expect.stringContaining('mutation SendMessage') as string, operationName: 'SendMessage', variables })
    expect(payloadOf(SendMessageDocument, variables, true)).toEqual({ query: '', documentId: id, operationName: 'SendMessage', variables })
    expect(payloadOf(SendMessageDocument, variables, 'with-text')).toEqual({
      ...text,
      extensions: { persistedQuery: { version: 1, sha256Hash: id.slice('sha256:'.length) } },
    })
  })
})
