/**
 * The hostile documents of issue 12, item 1, as a hostile user found them. Each is built from
 * its description alone: nothing here knows how the server refuses it.
 */

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** `n` aliased `chats { id }`: 1,000 of them is 19 KB (and about 6,000 tokens). */
export const aliasedChats = (n: number) => `query { ${range(n).map((i) => `a${i}: chats { id }`).join(' ')} }`

/** Aliases of `__typename` filling about `bytes` bytes: 1.9 MB is 100k of them. */
export function typenameAliases(bytes: number): string {
  const parts: string[] = []
  let length = 4
  for (let i = 0; length < bytes; i++) {
    const part = `t${i}: __typename`
    parts.push(part)
    length += part.length + 1
  }
  return `{ ${parts.join(' ')} }`
}

/** `n` aliases of `__typename`. */
export const typenameAliasCount = (n: number) => `{ ${range(n).map((i) => `t${i}: __typename`).join(' ')} }`

/**
 * `fields` unknown fields whose names carry `counter`, so that every document is distinct:
 * 5,000 of them is about 35 KB. Refused by tokens (as the spec's attack is).
 */
export const unknownFields = (fields: number, counter: number) =>
  `query { ${range(fields).map((j) => `f${j.toString(36)}${counter.toString(36)}`).join(' ')} }`

/** Fragments on Query that spread each other `links` deep, the last one selecting `tail` (a selection on Query). */
export function queryFragmentChain(links: number, tail: string, fragments = ''): string {
  const chain = range(links).map((i) => `fragment Q${i} on Query { ${i + 1 < links ? `...Q${i + 1}` : tail} }`)
  return `query { ...Q0 } ${chain.join(' ')} ${fragments}`
}

/** `__type(name:) { ofType { ofType … } }`, `levels` ofTypes deep, inline. */
export const ofTypeInline = (levels: number) => `query { __type(name: "Query") ${'{ ofType '.repeat(levels)}{ name }${' }'.repeat(levels)} }`

/** Fragments O0 … O(levels-1) on __Type, each adding one ofType and spreading the next. */
export const ofTypeFragmentChain = (levels: number) =>
  range(levels)
    .map((i) => `fragment O${i} on __Type { ofType { ${i + 1 < levels ? `...O${i + 1}` : 'name'} } }`)
    .join(' ')

/** `__type(name:)` nested `levels` ofTypes deep through that chain of fragments. */
export const ofTypeFragments = (levels: number) => `query { __type(name: "Query") { ...O0 } } ${ofTypeFragmentChain(levels)}`

/** `__schema { types { fields { type { fields { type … } } } } }`, `pairs` (fields, type) pairs deep. */
export const schemaIntrospection = (pairs: number) =>
  `query { __schema { types { ${'fields { type { '.repeat(pairs)}name${' } }'.repeat(pairs)} } } }`

/** Page sizes that multiply: 100 chats × 100 messages × a photo read each. */
export const costlyPages = 'query { chats(first: 100) { messages(last: 100) { photo { url } } } }'

/** The same with page sizes in variables, which count as the largest page whatever their value. */
export const costlyPagesByVariables = 'query Pages($chats: Int, $messages: Int) { chats(first: $chats) { messages(last: $messages) { photo { url } } } }'

/** The same through fragments. */
export const costlyPagesByFragments =
  'query { chats(first: 100) { ...ChatPage } } fragment ChatPage on Chat { messages(last: 100) { ...WithPhoto } } fragment WithPhoto on Message { photo { url } }'

/** One field under `n` directives. */
export const manyDirectives = (n: number) => `query { viewer { id ${'@include(if: true) '.repeat(n)}} }`
