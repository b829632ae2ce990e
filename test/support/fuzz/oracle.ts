/**
 * What the fuzz test accepts from the server, and a record of everything it did not accept,
 * grouped by kind so that one bug hit a thousand times is reported once, with its smallest input.
 */

/** SPEC "Errors", plus the request errors Hush's own body limit gives. */
export const DOMAIN_CODES = ['UNAUTHENTICATED', 'NOT_FOUND', 'BAD_USER_INPUT', 'CHAT_CLOSED', 'CHAT_LIMIT', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE', 'BAD_REQUEST'] as const

/**
 * Codes of request errors Yoga words itself (not masked internal errors), found by reading
 * graphql-yoga's plugins and trying: OPERATION_RESOLUTION_FAILURE when no operation matches
 * `operationName`, GRAPHQL_PARSE_FAILED for a syntax error that reaches Yoga's parser.
 */
export const YOGA_REQUEST_CODES = ['OPERATION_RESOLUTION_FAILURE', 'GRAPHQL_PARSE_FAILED'] as const

export const KNOWN_CODES: ReadonlySet<string> = new Set([...DOMAIN_CODES, ...YOGA_REQUEST_CODES])

export const UNEXPECTED_MESSAGE = 'Unexpected error.'

/**
 * Close codes the server may use: the graphql-ws protocol's (bad message, unauthorized,
 * forbidden, subprotocol, init timeout, duplicate id, too many inits), a frame past the limit
 * (1009), a slow client (1013), normal and going away.
 */
export const PROTOCOL_CLOSE_CODES: ReadonlySet<number> = new Set([4400, 4401, 4403, 4406, 4408, 4409, 4429, 1009, 1013, 1000, 1001])

/** Problems with one GraphQL error object as a client sees it. */
export function errorProblems(error: unknown): string[] {
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return [`an error that is not an object: ${preview(error)}`]
  const { message, extensions } = error as { message?: unknown; extensions?: { code?: unknown } }
  const problems: string[] = []
  if (typeof message !== 'string') problems.push(`an error without a message: ${preview(error)}`)
  if (message === UNEXPECTED_MESSAGE) problems.push(`an unmasked internal error ("${UNEXPECTED_MESSAGE}")`)
  const code = extensions?.code
  if (code === 'INTERNAL_SERVER_ERROR') problems.push('an error with code INTERNAL_SERVER_ERROR')
  else if (code === undefined) problems.push(`an error without extensions.code: "${normalize(String(message))}"`)
  else if (typeof code !== 'string' || !KNOWN_CODES.has(code)) problems.push(`an error with unknown code ${preview(code)}: "${normalize(String(message))}"`)
  return problems
}

/** Problems with a GraphQL response body (an execution result, or a list of errors). */
export function resultProblems(result: unknown): string[] {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return [`a result that is not an object: ${preview(result)}`]
  const { errors, data } = result as { errors?: unknown; data?: unknown }
  const problems: string[] = []
  if (errors === undefined && data === undefined && !('incremental' in result) && !('hasNext' in result)) problems.push(`a result with neither data nor errors: ${preview(result)}`)
  if (errors !== undefined) {
    if (!Array.isArray(errors)) problems.push(`errors that are not a list: ${preview(errors)}`)
    else for (const error of errors) problems.push(...errorProblems(error))
  }
  return problems
}

/**
 * A message without what varies from case to case (names, numbers, quoted text), so that the
 * same failure from different inputs counts as one.
 */
export function normalize(message: string): string {
  return message
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/'(?:[^'\\]|\\.)*'/g, "'…'")
    .replace(/\d+/g, 'N')
    .slice(0, 160)
}

export function preview(value: unknown, max = 300): string {
  let text: string
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value)
  } catch {
    text = String(value)
  }
  if (text === undefined) text = String(value)
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text
}

export interface Violation {
  /** What went wrong, without what varies from input to input. */
  kind: string
  /** The smallest input (by its description's length) that showed it. */
  input: string
  detail: string
  count: number
}

/** Every violation seen, by kind; keeps the smallest input of each. */
export class Violations {
  readonly byKind = new Map<string, Violation>()

  add(kind: string, input: string, detail: string): void {
    const known = this.byKind.get(kind)
    if (!known) {
      this.byKind.set(kind, { kind, input, detail, count: 1 })
      return
    }
    known.count++
    if (input.length < known.input.length) {
      known.input = input
      known.detail = detail
    }
  }

  get size(): number {
    return this.byKind.size
  }

  report(): string {
    return [...this.byKind.values()]
      .map((v, i) => `#${i + 1} ${v.kind}  (seen ${v.count}×)\n    smallest input: ${v.input.length > 1500 ? `${v.input.slice(0, 1500)}… (${v.input.length} chars)` : v.input}\n    got: ${v.detail}`)
      .join('\n')
  }
}
