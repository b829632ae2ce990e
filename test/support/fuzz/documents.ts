import { readFileSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isNonNullType,
  isObjectType,
  isUnionType,
  Kind,
  Lexer,
  print,
  Source,
  TokenKind,
  type DocumentNode,
} from 'graphql'
import * as generated from '../../generated/graphql.js'

/**
 * GraphQL documents for the fuzz test: the project's real operations (operations/*.graphql,
 * as codegen compiled them), mutated token by token, and random documents from a small grammar
 * over the schema's own names, so that a fair share of them parse and validate and reach resolvers.
 */

const ROOT = path.resolve(import.meta.dirname, '../../..')

/** Every operation in operations/, printed with the fragments it uses. */
export const REAL_OPERATIONS: ReadonlyArray<{ name: string; text: string }> = Object.entries(generated)
  .filter(([name, value]) => name.endsWith('Document') && typeof value === 'object' && (value as DocumentNode).kind === Kind.DOCUMENT)
  .map(([name, value]) => ({ name: name.replace(/Document$/, ''), text: print(value as DocumentNode) }))
  .sort((a, b) => a.name.localeCompare(b.name))

/** Extra hand-written operations over fields operations/ never asks for (feed pages, comments, introspection). */
const EXTRA_OPERATIONS = [
  '{ feed(first: 3) { edges { cursor node { id body isMine comments(first: 2) { id authorAlias byPostAuthor } } } pageInfo { hasNextPage endCursor } } }',
  'query Nested { chats(first: 2) { id cursor post { id body comments { id body } } messages(last: 2) { seq photo { id url } } } }',
  '{ __schema { queryType { name } types { name kind } } }',
  '{ __type(name: "Chat") { name fields { name args { name type { name kind ofType { name } } } } } }',
  'query { __typename viewer { __typename id } }',
  'mutation { setTyping(chatId: "c", typing: true) }',
]

export const BASE_DOCUMENTS: readonly string[] = [...REAL_OPERATIONS.map((op) => op.text), ...EXTRA_OPERATIONS]

const schema = buildSchema(readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8'))

/** Names the schema knows: types, fields, arguments, enum values. */
export const SCHEMA_NAMES: readonly string[] = (() => {
  const names = new Set<string>()
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue
    names.add(type.name)
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        names.add(field.name)
        for (const arg of field.args) names.add(arg.name)
      }
    }
    if (isInputObjectType(type)) for (const field of Object.values(type.getFields())) names.add(field.name)
    if (isEnumType(type)) for (const value of type.getValues()) names.add(value.name)
  }
  return [...names].sort()
})()

/** Fields by their parent type, for the grammar: their arguments with their named type and whether they are required. */
interface FieldInfo {
  name: string
  args: Array<{ name: string; type: string; required: boolean }>
  composite: string | undefined
}
const FIELDS_OF: Record<string, FieldInfo[]> = (() => {
  const result: Record<string, FieldInfo[]> = {}
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue
    result[type.name] = Object.values(type.getFields()).map((field) => {
      const named = getNamedType(field.type)
      return {
        name: field.name,
        args: field.args.map((arg) => ({ name: arg.name, type: getNamedType(arg.type).name, required: isNonNullType(arg.type) })),
        composite: isObjectType(named) || isInterfaceType(named) || isUnionType(named) ? named.name : undefined,
      }
    })
  }
  return result
})()

/** Literal values of the right type for an argument, some of them out of range. */
const VALUES_OF: Record<string, string[]> = {
  ID: ['"c_1"', '""', '"01ARZ3NDEKTSV4RRFFQ69G5FAV"'],
  String: ['"x"', '""', '"msg"'],
  Int: ['1', '10', '0', '-1', '100', '101'],
  Boolean: ['true', 'false'],
  ChatCloseReason: ['LEFT'],
  File: ['null'],
}

/** The tokens of a document, each as its source text (strings keep their quotes). */
export function tokenize(text: string): string[] {
  const lexer = new Lexer(new Source(text))
  const tokens: string[] = []
  for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) tokens.push(text.slice(token.start, token.end))
  return tokens
}

const BASE_TOKENS: readonly string[][] = BASE_DOCUMENTS.map(tokenize)

/** Characters that parsers and JSON encoders treat specially. */
export const ODD_CHARS = [
  '\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\r', '\u000b', '\u001f', '\u007f', '\u0085', '\u00a0',
  '\u2028', '\u2029', '\ufeff', '\ufffd', '\uffff', '\ud800', '\udfff', '\u200b', '\u202e', 'é', 'ß', '漢',
  '😀', '👩‍👩‍👧', '"', "'", '\\', '`', '$', '@', '#', '{', '}', '[', ']', '(', ')', ':', '!', '=', '|', '&', '.', ',', '%',
]

/** Punctuators, keywords and literals to insert between tokens. */
const INSERTABLE = [
  '{', '}', '{', '}', '(', ')', '[', ']', ':', '$', '$x', '@', '...', '!', '=', '|', '&', ',',
  'query', 'mutation', 'subscription', 'fragment', 'on', 'true', 'false', 'null', 'schema', 'directive', 'type', 'extend',
  '0', '-1', '1.5e300', '2147483648', '99999999999999999999999999', '-0', '0x10', '1e', '"s"', '"""block\n"""', '"unterminated',
  '"\\u0000"', '"\\uD800"', '"\\uZZZZ"', '__typename', '__schema', '__type', '#comment\n', 'ID!', '[ID!]!', 'Int', 'String',
  '@include(if: true)', '@skip(if: false)', '@unknown', '$var: Int = 1', '\u00a0', '\ufeff', '\u0000', '😀',
]

/** Arguments for @include/@skip, most of them wrong. */
const DIRECTIVE_ARGS = ['(if: true)', '(if: false)', '(if: $x)', '(if: $flag)', '(if: "true")', '(if: 1)', '(if: null)', '(if: [true])', '(if: {a: true})', '(if: FALSE)', '', '()', '(if: true, if: false)', '(unless: true)', '(if: true) @skip(if: true)']
const DIRECTIVES = ['@include', '@skip', '@unknown', '@deprecated', '@specifiedBy(url: "x")', '@oneOf', '@defer', '@stream(initialCount: 1)', '@live']

/** Numbers around the edges of Int, of JavaScript numbers and of the schema's page sizes. */
export const ODD_NUMBERS = [
  '0', '-0', '1', '-1', '50', '100', '101', '2147483647', '2147483648', '-2147483648', '-2147483649', '4294967296',
  '9007199254740993', '99999999999999999999999999999', '1e308', '1e309', '-1e309', '1.5', '0.0000001', '1E2', '00', '01',
]

/** Lengths around the 64 KiB frame and body limit, and the 4,000 and 2,000 character text limits. */
export const LONG_LENGTHS = [1_999, 2_001, 3_999, 4_001, 16_384, 60_000, 65_000, 65_400, 65_536, 66_000]

/** A string of `length` UTF-16 units, 'a' and one odd character alternating (never a control character, quote, backslash or lone surrogate). */
export function longString(length: number, seed: number): string {
  const odd = ODD_CHARS[seed % ODD_CHARS.length]!
  const unit = [...odd].every((c) => c.codePointAt(0)! >= 0x20 && c !== '"' && c !== '\\' && !(c.charCodeAt(0) >= 0xd800 && c.charCodeAt(0) <= 0xdfff && c.length === 1)) ? odd : 'x'
  return ('a' + unit).repeat(Math.ceil(length / (1 + unit.length))).slice(0, length)
}

/** One step of a mutation; `a`, `b` and `c` pick positions and choices by modulo. */
export interface Mutation {
  kind: number
  a: number
  b: number
  c: number
}

export const MUTATION_KINDS = 17

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.nat({ max: MUTATION_KINDS - 1 }),
  a: fc.nat({ max: 10_000 }),
  b: fc.nat({ max: 10_000 }),
  c: fc.nat({ max: 10_000 }),
})

const pick = <T>(list: readonly T[], n: number): T => list[n % list.length]!

/** Indexes of name tokens that start a field in a selection set (best effort on broken documents). */
function fieldStarts(tokens: string[]): number[] {
  const starts: number[] = []
  for (let i = 1; i < tokens.length; i++) {
    if (!/^[_A-Za-z]/.test(tokens[i]!) || tokens[i] === 'on' || tokens[i] === 'fragment') continue
    const before = tokens[i - 1]!
    if (before === '{' || before === '}' || before === ')' || (/^[_A-Za-z]/.test(before) && tokens[i - 2] !== '...' && before !== 'on' && tokens[i - 2] !== 'fragment')) {
      starts.push(i)
    }
  }
  return starts
}

/** The index of the `}` that closes the `{` at `open`, or the last token. */
function matchingBrace(tokens: string[], open: number): number {
  let depth = 0
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i] === '{') depth++
    else if (tokens[i] === '}' && --depth === 0) return i
  }
  return tokens.length - 1
}

function applyMutation(tokens: string[], m: Mutation, step: number): string[] {
  const t = [...tokens]
  // Only insertions make sense in an empty document.
  if (t.length === 0 && ![3, 8, 12, 13, 16].includes(m.kind)) return t
  const at = t.length === 0 ? 0 : m.a % t.length
  const braces = t.flatMap((token, i) => (token === '{' ? [i] : []))
  const fields = fieldStarts(t)
  switch (m.kind) {
    case 0: // delete a token
      t.splice(at, 1)
      return t
    case 1: // duplicate a token
      t.splice(at, 0, t[at] ?? '{')
      return t
    case 2: {
      // swap two tokens
      const other = t.length === 0 ? 0 : m.b % t.length
      ;[t[at], t[other]] = [t[other]!, t[at]!]
      return t
    }
    case 3: // insert a punctuator, keyword or literal
      t.splice(at, 0, pick(INSERTABLE, m.b))
      return t
    case 4: // replace a token with another schema name
      t[at] = pick(SCHEMA_NAMES, m.b)
      return t
    case 5: {
      // flip one character of a token to an odd one
      const token = t[at] ?? ''
      const i = token.length === 0 ? 0 : m.b % token.length
      t[at] = token.slice(0, i) + pick(ODD_CHARS, m.c) + token.slice(i + 1)
      return t
    }
    case 6: {
      // alias a field (several times, past the alias limit sometimes)
      if (fields.length === 0) return t
      const field = pick(fields, m.a)
      const copies = m.c % 4 === 0 ? 20 : 1
      const name = t[field]!
      const aliased: string[] = []
      for (let k = 0; k < copies; k++) aliased.push(`a${step}_${k}`, ':', name)
      t.splice(field, 1, ...aliased)
      return t
    }
    case 7: {
      // nest a selection set inside inline fragments, or repeat it inside itself
      if (braces.length === 0) return t
      const open = pick(braces, m.a)
      const close = matchingBrace(t, open)
      const depth = 1 + (m.b % 20)
      const inner = t.slice(open + 1, close)
      if (m.c % 2 === 0) {
        t.splice(open + 1, close - open - 1, ...Array<string>(depth).fill('... {').flatMap((s) => s.split(' ')), ...inner, ...Array<string>(depth).fill('}'))
      } else {
        // the selection set repeated as a sub-selection of its own first field
        const field = inner.findIndex((token) => /^[_A-Za-z]/.test(token))
        if (field >= 0) inner.splice(field + 1, 0, '{', ...inner.slice(), '}')
        t.splice(open + 1, close - open - 1, ...inner)
      }
      return t
    }
    case 8: {
      // fragments: self-referencing, cyclic, on the wrong type, undefined, unused
      const name = `F${step}`
      const definitions = [
        `fragment ${name} on Query { ...${name} }`,
        `fragment ${name} on Query { viewer { id } ...${name}b } fragment ${name}b on Query { ...${name} }`,
        `fragment ${name} on Chat { id }`,
        `fragment ${name} on Nope { id }`,
        `fragment ${name} on Query { __typename }`,
        `fragment ${name} on Query { ...${name} ...${name} ...${name} }`,
        `fragment ${name} on Mutation { signUp { token } }`,
        '',
      ]
      const spreads = [`...${name}`, `... on Query { ...${name} }`, `...${name} @include(if: true)`, `...Undefined${step}`, '']
      if (braces.length > 0) t.splice(pick(braces, m.a) + 1, 0, ...pick(spreads, m.c).split(' ').filter(Boolean))
      t.push(...tokenizeLoose(pick(definitions, m.b)))
      return t
    }
    case 9: {
      // a directive on a field, with odd arguments, sometimes many of them
      if (fields.length === 0) return t
      const field = pick(fields, m.a)
      const directive = `${pick(DIRECTIVES, m.b)}${pick(DIRECTIVE_ARGS, m.c)}`
      const count = m.c % 5 === 0 ? 25 : 1
      const nextIsArgs = t[field + 1] === '('
      const insertAt = nextIsArgs ? matchingParen(t, field + 1) + 1 : field + 1
      t.splice(insertAt, 0, ...Array<string>(count).fill(directive))
      return t
    }
    case 10: {
      // an odd number: replace an Int token or add an argument
      const numbers = t.flatMap((token, i) => (/^-?\d/.test(token) ? [i] : []))
      if (numbers.length > 0 && m.c % 2 === 0) t[pick(numbers, m.a)] = pick(ODD_NUMBERS, m.b)
      else {
        const parens = t.flatMap((token, i) => (token === '(' ? [i] : []))
        const argument = [pick(['first', 'last', 'afterSeq', 'beforeSeq', 'seq', 'typing', 'viewOnce', 'nope'], m.c), ':', pick(ODD_NUMBERS, m.b)]
        if (parens.length > 0) t.splice(pick(parens, m.a) + 1, 0, ...argument)
        else if (fields.length > 0) t.splice(pick(fields, m.a) + 1, 0, '(', ...argument, ')')
      }
      return t
    }
    case 11: {
      // a long string near the limits, with unicode, as an argument or replacing a string
      const strings = t.flatMap((token, i) => (token.startsWith('"') ? [i] : []))
      const value = JSON.stringify(longString(pick(LONG_LENGTHS, m.b), m.c))
      if (strings.length > 0) t[pick(strings, m.a)] = value
      else {
        const parens = t.flatMap((token, i) => (token === '(' ? [i] : []))
        if (parens.length > 0) t.splice(pick(parens, m.a) + 1, 0, 'body', ':', value)
        else t.push('#', value.slice(1, -1), '\n')
      }
      return t
    }
    case 12: {
      // change the kind of the operation
      const kinds = t.flatMap((token, i) => (token === 'query' || token === 'mutation' || token === 'subscription' ? [i] : []))
      const kind = pick(['query', 'mutation', 'subscription', 'fragment', 'Query', ''], m.b)
      if (kinds.length > 0) t[pick(kinds, m.a)] = kind
      else t.unshift(kind)
      return t
    }
    case 13: {
      // a flood of tokens or fields: past the token, alias, cost or depth limits
      const flood = pick(
        [
          Array<string>(400 + (m.b % 800)).fill('__typename'),
          Array.from({ length: 30 }, (_, k) => `x${k}: __typename`).join(' ').split(' '),
          'chats(first: 100) { messages(last: 100) { id photo { id url } } post { comments(first: 100) { id } } }'.split(' '),
          Array<string>(60).fill('{').concat(Array<string>(60).fill('}')),
          '__schema { types { fields { type { fields { type { fields { name } } } } } } }'.split(' '),
          'feed(first: 100) { edges { node { comments(first: 100) { id body } } } }'.split(' '),
        ],
        m.c,
      )
      if (braces.length > 0) t.splice(pick(braces, m.a) + 1, 0, ...flood)
      else t.push(...flood)
      return t
    }
    case 14: {
      // variable definitions with odd types and defaults
      const definitions = pick(
        [
          '$x: [[Int!]!]!',
          '$x: Unknown = {a: 1}',
          '$flag: Boolean = "yes"',
          '$x: Int = 2147483648',
          '$x: ID! = null',
          '$x: File',
          '$chatId: ID! $chatId: ID!',
          '$x: Chat',
          '$x: Int @deprecated',
          '$x',
        ],
        m.b,
      )
      const paren = t.indexOf('(')
      const brace = t.indexOf('{')
      if (paren >= 0 && paren < brace) t.splice(paren + 1, 0, ...tokenizeLoose(definitions))
      else if (brace >= 0) t.splice(brace, 0, '(', ...tokenizeLoose(definitions), ')')
      return t
    }
    case 15: // truncate
      return t.slice(0, at)
    case 16: {
      // a whole other operation or a second copy, named or anonymous
      const other = pick(BASE_TOKENS, m.b)
      return m.c % 2 === 0 ? [...t, ...other] : [...other, ...t]
    }
    default:
      return t
  }
}

function matchingParen(tokens: string[], open: number): number {
  let depth = 0
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i] === '(') depth++
    else if (tokens[i] === ')' && --depth === 0) return i
  }
  return tokens.length - 1
}

/** Tokens of a snippet that may not lex: split on spaces then. */
function tokenizeLoose(text: string): string[] {
  try {
    return tokenize(text)
  } catch {
    return text.split(' ').filter(Boolean)
  }
}

export interface MutatedDocument {
  base: number
  mutations: Mutation[]
}

export function mutatedText({ base, mutations }: MutatedDocument): string {
  let tokens = pick(BASE_TOKENS, base)
  mutations.forEach((m, step) => (tokens = applyMutation(tokens, m, step).filter((token) => typeof token === 'string')))
  return tokens.join(' ')
}

export const mutatedDocumentArb: fc.Arbitrary<MutatedDocument> = fc.record({
  base: fc.nat({ max: BASE_DOCUMENTS.length - 1 }),
  mutations: fc.array(mutationArb, { minLength: 0, maxLength: 4 }),
})

/** Names: mostly the schema's, sometimes odd ones. */
const nameArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SCHEMA_NAMES) },
  { weight: 1, arbitrary: fc.constantFrom('__typename', '__schema', '__type', 'on', 'true', 'null', 'fragment', 'query', '_', '__proto__', 'constructor') },
  { weight: 1, arbitrary: fc.stringMatching(/^[_A-Za-z][_0-9A-Za-z]{0,12}$/) },
)

const valueLiteral: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...ODD_NUMBERS),
    fc.constantFrom('true', 'false', 'null', 'ACTIVE', 'AUTHOR', 'LEFT', 'NOPE', '$x', '$chatId', '$first', '""', '"c_1"', '"""\n  block\n"""'),
    fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    fc.array(fc.tuple(nameArb, tie('value')), { maxLength: 3 }).map((entries) => `{${entries.map(([k, v]) => `${k}: ${v}`).join(', ')}}`),
  ),
})).value

/**
 * A random document from a small GraphQL grammar over the schema's types. Noisy documents have
 * aliases, directives with odd arguments, fragments, variables and unknown names; clean ones only
 * the schema's fields with their required arguments, so that they validate and run.
 */
function grammar(noisy: boolean): fc.Arbitrary<string> {
  const plainValue = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('$x', '$chatId', '$first', '$flag', '$id', '"c_1"', '1', '10', 'true', 'null') },
    { weight: 1, arbitrary: valueLiteral },
  )
  const argumentsArb = (field: FieldInfo | undefined): fc.Arbitrary<string> => {
    const known = field?.args ?? []
    if (!noisy) {
      // Every required argument, and some optional ones, each with a value of its type.
      return fc
        .tuple(...known.map((arg) => fc.tuple(fc.boolean(), fc.constantFrom(...(VALUES_OF[arg.type] ?? ['null'])))))
        .map((choices) => {
          const args = known.flatMap((arg, i) => (arg.required || choices[i]![0] ? [`${arg.name}: ${choices[i]![1]}`] : []))
          return args.length === 0 ? '' : `(${args.join(', ')})`
        })
    }
    const names = known.map((arg) => arg.name)
    return fc
      .array(fc.tuple(names.length > 0 ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: nameArb }) : nameArb, plainValue), {
        maxLength: names.length > 0 ? 3 : 1,
      })
      .map((args) => (args.length === 0 ? '' : `(${args.map(([name, value]) => `${name}: ${value}`).join(', ')})`))
  }
  const directivesArb = noisy
    ? fc
        .option(fc.tuple(fc.constantFrom('@include', '@skip', '@include', '@skip', '@unknown', '@deprecated', '@defer', '@live'), fc.constantFrom(...DIRECTIVE_ARGS)), { freq: 4 })
        .map((d) => (d === null ? '' : `${d[0]}${d[1]}`))
    : fc.constantFrom('', '', '', '@include(if: true)', '@skip(if: false)')
  const aliasArb = noisy ? fc.option(nameArb, { freq: 6 }).map((alias) => (alias === null ? '' : `${alias}: `)) : fc.constant('')

  const selectionSet = (typeName: string | undefined, depth: number): fc.Arbitrary<string> => {
    const fields = (typeName && FIELDS_OF[typeName]) || []
    const fieldArb: fc.Arbitrary<string> =
      fields.length > 0
        ? fc
            .constantFrom(...fields)
            .chain((field) =>
              fc
                .tuple(
                  aliasArb,
                  argumentsArb(field),
                  directivesArb,
                  field.composite ? (depth > 0 && FIELDS_OF[field.composite] ? selectionSet(field.composite, depth - 1) : fc.constant('{ __typename }')) : fc.constant(''),
                )
                .map(([alias, args, directives, sub]) => `${alias}${field.name}${args} ${directives} ${sub}`),
            )
        : fc.tuple(aliasArb, nameArb, argumentsArb(undefined)).map(([alias, name, args]) => `${alias}${name}${args}`)
    const spreadArb = noisy
      ? fc.oneof(
          fc.constantFrom('...F0', '...F1', '...Undefined', '__typename'),
          depth > 0
            ? fc
                .tuple(fc.constantFrom('', 'on Query', 'on Chat', 'on MessageEvent', 'on Post', 'on Nope', 'on Mutation'), directivesArb, selectionSet(typeName, depth - 1))
                .map(([condition, directives, sub]) => `... ${condition} ${directives} ${sub}`)
            : fc.constant('__typename'),
        )
      : fc.constant('__typename')
    return fc
      .array(fc.oneof({ weight: 5, arbitrary: fieldArb }, { weight: 1, arbitrary: spreadArb }), { minLength: 1, maxLength: 3 })
      .map((selections) => `{ ${selections.join(' ')} }`)
  }

  const variableDefinitionsArb = noisy
    ? fc
        .array(
          fc.tuple(
            fc.constantFrom('x', 'chatId', 'first', 'flag', 'id'),
            fc.constantFrom('ID!', 'ID', 'Int', 'Int!', 'String', 'Boolean!', 'Boolean', '[ID!]', 'File', 'Chat', 'Nope'),
            fc.option(valueLiteral, { freq: 5 }),
          ),
          { maxLength: 3 },
        )
        .map((defs) => {
          const unique = defs.filter(([n], i) => i % 3 === 2 || defs.findIndex(([m]) => m === n) === i)
          return unique.length === 0 ? '' : `(${unique.map(([n, t, d]) => `$${n}: ${t}${d === null ? '' : ` = ${d}`}`).join(', ')})`
        })
    : fc.constant('')

  const operationArb = fc
    .tuple(fc.constantFrom('query', 'query', 'query', 'mutation', 'subscription', ''), fc.option(nameArb, { freq: 2 }), variableDefinitionsArb)
    .chain(([kind, name, vars]) => {
      const root = kind === 'mutation' ? 'Mutation' : kind === 'subscription' ? 'Subscription' : 'Query'
      return selectionSet(root, 3).map((selections) => (kind === '' ? selections : `${kind} ${noisy ? (name ?? '') : ''}${vars} ${selections}`))
    })
  const fragmentArb = fc
    .tuple(fc.constantFrom('F0', 'F1'), fc.constantFrom('Query', 'Query', 'Chat', 'Post', 'Message', 'Nope', 'Subscription'))
    .chain(([name, on]) => selectionSet(on === 'Nope' ? undefined : on, 2).map((sel) => `fragment ${name} on ${on} ${sel}`))
  return noisy
    ? fc.tuple(fc.array(operationArb, { minLength: 1, maxLength: 2 }), fc.array(fragmentArb, { maxLength: 2 })).map(([operations, fragments]) => [...operations, ...fragments].join('\n'))
    : operationArb
}

export const grammarDocumentArb: fc.Arbitrary<string> = fc.oneof(grammar(true), grammar(false))

/** Any document: mostly mutated real operations, some from the grammar, a few unchanged. */
export const documentArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: mutatedDocumentArb.map(mutatedText) },
  { weight: 3, arbitrary: grammarDocumentArb },
  { weight: 1, arbitrary: fc.constantFrom(...BASE_DOCUMENTS) },
)

/** The names of the variables a document text mentions, in order of first use. */
export function variableNames(text: string): string[] {
  return [...new Set([...text.matchAll(/\$([_A-Za-z][_0-9A-Za-z]*)/g)].map((match) => match[1]!))]
}

/** The operation names a document text defines, for `operationName`. */
export function operationNames(text: string): string[] {
  return [...new Set([...text.matchAll(/\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/g)].map((match) => match[1]!))]
}
