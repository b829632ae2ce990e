import fc from 'fast-check'
import { LONG_LENGTHS, longString, ODD_CHARS, ODD_NUMBERS } from './documents.js'

/**
 * Variables and other JSON for the fuzz test, built as JSON *text*: JSON.stringify cannot write an
 * own "__proto__" key or an integer past 2^53, and a hostile client can.
 */

/** The ids of the few posts, comments and chats the fuzz test may touch. */
export interface Fixtures {
  postIds: string[]
  commentIds: string[]
  chatIds: string[]
  /** A chat the fuzzing users are not part of. */
  foreignChatId: string
}

const json = (value: unknown) => JSON.stringify(value)

/** A JSON text nested `depth` levels deep, objects or arrays. */
export function deeplyNested(depth: number, kind: 'object' | 'array' | 'proto'): string {
  if (kind === 'array') return '['.repeat(depth) + '1' + ']'.repeat(depth)
  const key = kind === 'proto' ? '"__proto__"' : '"a"'
  return `{${key}:`.repeat(depth) + 'null' + '}'.repeat(depth)
}

const PROTOTYPE_VALUES = [
  '{"__proto__":{"polluted":"yes","isAdmin":true}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"__proto__":null}',
  '{"prototype":{"x":1},"toString":"x","valueOf":1,"hasOwnProperty":"x"}',
  '{"__proto__":{"toString":"x"},"constructor":"c"}',
]

/** One variable value as JSON text: right-looking values for the schema's types, and wrong ones. */
export function valueTextArb(fixtures: Fixtures): fc.Arbitrary<string> {
  const ids = [...fixtures.postIds, ...fixtures.commentIds, ...fixtures.chatIds, fixtures.foreignChatId]
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...ids).map(json) },
    { weight: 2, arbitrary: fc.constantFrom(...ids).chain((id) => fc.nat({ max: id.length }).map((i) => json(id.slice(0, i) + 'x' + id.slice(i + 1)))) },
    { weight: 3, arbitrary: fc.constantFrom(...ODD_NUMBERS) },
    { weight: 2, arbitrary: fc.integer({ min: -5, max: 120 }).map(String) },
    { weight: 2, arbitrary: fc.constantFrom('true', 'false', 'null', '""', '"true"', '"1"', '"ACTIVE"', '"AUTHOR"') },
    { weight: 2, arbitrary: fc.string({ maxLength: 30, unit: 'grapheme' }).map(json) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30, unit: 'binary' }).map(json) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...ODD_CHARS), { minLength: 1, maxLength: 10 }).map((chars) => json(chars.join(''))) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...LONG_LENGTHS.filter((n) => n < 20_000)), fc.nat()).map(([n, seed]) => json(longString(n, seed))) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(json) },
    { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_VALUES) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(10, 100, 1_000, 5_000), fc.constantFrom<'object' | 'array' | 'proto'>('object', 'array', 'proto')).map(([depth, kind]) => deeplyNested(depth, kind)),
    },
    { weight: 1, arbitrary: fc.constantFrom('[]', '{}', '[null]', '[1,2,3]', `[${json(fixtures.chatIds[0])}]`, '{"id":"x"}', '1.0', '-0', '1e2') },
  )
}

/** Keys beside the document's own variables. */
const extraKeyArb = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'x', '', ' ', 'chatId', '\u0000', '😀', 'a'.repeat(300))

/** The `variables` member: an object for the document's variables (by position), or something that is no object. */
export interface VariablesPlan {
  shape: number
  values: string[]
  extras: Array<[string, string]>
  /** Leave out some of the document's variables. */
  drop: number
}

export function variablesPlanArb(fixtures: Fixtures): fc.Arbitrary<VariablesPlan> {
  const value = valueTextArb(fixtures)
  return fc.record({
    shape: fc.nat({ max: 19 }),
    values: fc.array(value, { maxLength: 6 }),
    extras: fc.array(fc.tuple(extraKeyArb, value), { maxLength: 3 }),
    drop: fc.nat({ max: 7 }),
  })
}

/**
 * The JSON text of `variables` for a document with these variable names, or undefined to leave the
 * member out. Most plans give an object; some give null, an array, a string, a number, or an
 * object whose values hide behind "__proto__".
 */
export function variablesText(plan: VariablesPlan, names: string[]): string | undefined {
  const entries: string[] = []
  names.forEach((name, i) => {
    if (plan.drop > 0 && i % (plan.drop + 1) === plan.drop) return
    const valueText = plan.values.length === 0 ? 'null' : plan.values[i % plan.values.length]!
    entries.push(`${json(name)}:${valueText}`)
  })
  for (const [key, valueText] of plan.extras) entries.push(`${json(key)}:${valueText}`)
  const object = `{${entries.join(',')}}`
  switch (plan.shape) {
    case 0:
      return undefined
    case 1:
      return 'null'
    case 2:
      return `[${object}]`
    case 3:
      return json(object)
    case 4:
      return '42'
    case 5:
      // The real values only through the prototype: never to be taken as given.
      return `{"__proto__":${object}}`
    case 6:
      return `{"constructor":{"prototype":${object}}}`
    case 7:
      return '{}'
    case 8:
      // Duplicate keys: the last one wins in JSON.parse.
      return `{${entries.join(',')}${entries.length > 0 ? ',' : ''}${entries.join(',')}}`
    default:
      return object
  }
}
