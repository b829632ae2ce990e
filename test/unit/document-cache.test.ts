import { afterEach, describe, expect, it, vi } from 'vitest'
import { DocumentCache, isRefusal, type Refusal } from '../../src/server/documents/cache.js'
import { schema } from '../../src/schema/index.js'

const limits = { maxBytes: 65_536, maxTokens: 1_000, maxDepth: 15, maxAliases: 15, maxDirectives: 20, maxCost: 5_000, introspection: false, suggestions: false }

/** A document of `n` fields the schema does not have, distinct by `seed`. */
const unknownFields = (n: number, seed: number) => `{ ${Array.from({ length: n }, (_, i) => `f${seed}_${i}`).join(' ')} }`

describe('the document cache', () => {
  afterEach(() => vi.restoreAllMocks())

  it('parses and validates a refused document once: a repeat is answered from the cache, alike', () => {
    const cache = new DocumentCache(schema, limits, 1_000_000)
    // Parsing and every rule run in this one (private) step.
    const checks = vi.spyOn(DocumentCache.prototype as unknown as { checkUncached(source: string): unknown }, 'checkUncached')
    const invalid = '{ viewer { id nope } }'
    const first = cache.check(invalid) as Refusal
    expect(isRefusal(first)).toBe(true)
    expect(first.stage).toBe('validate')
    for (let i = 0; i < 100; i++) expect(cache.check(invalid)).toBe(first)
    expect(checks).toHaveBeenCalledTimes(1)
  })

  it('keeps a refusal as its errors alone, so distinct invalid documents past its budget push each other out', () => {
    const cache = new DocumentCache(schema, limits, 200_000)
    const refusals = Array.from({ length: 2_000 }, (_, i) => cache.check(unknownFields(6, i)))
    for (const refusal of refusals) {
      expect(isRefusal(refusal)).toBe(true)
      expect(refusal).not.toHaveProperty('document')
    }
    // The first ones were forgotten: checking one again builds a new refusal.
    expect(cache.check(unknownFields(6, 0))).not.toBe(refusals[0])
    expect(cache.check(unknownFields(6, 1_999))).toBe(refusals[1_999])
  })
})
