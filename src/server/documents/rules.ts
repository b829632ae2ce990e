import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases'
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth'
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives'
import {
  GraphQLError,
  Kind,
  MaxIntrospectionDepthRule,
  NoSchemaIntrospectionCustomRule,
  OperationTypeNode,
  type ASTVisitor,
  type SelectionNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql'
import { costRule } from './cost.js'

/** What any GraphQL document must stay within, on every path (lean HTTP, Yoga, socket). */
export interface DocumentLimits {
  /** Largest document text in bytes (and so any request that carries one). */
  maxBytes: number
  /** Lexical tokens; parsing stops at the first past it. */
  maxTokens: number
  /** Nesting of selections, through fragments and introspection alike. */
  maxDepth: number
  /** Aliased fields, __typename included. */
  maxAliases: number
  maxDirectives: number
  /** Static cost (see cost.ts). */
  maxCost: number
  /** Whether __schema and __type may be asked. */
  introspection: boolean
  /** Whether validation errors may suggest names ("Did you mean …?"), which reveal the schema. */
  suggestions: boolean
}

/**
 * The limit rules, run before the specification's own (which are costlier: unknown fields are
 * compared with every known name for suggestions), so that a hostile document is refused cheaply.
 * graphql-armor's rules report through the context rather than throw, so that all problems come
 * back as validation errors.
 */
export function limitRules(limits: DocumentLimits): ValidationRule[] {
  const report = [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)]
  const armor = { propagateOnRejection: false, onReject: report, exposeLimits: true }
  const rules: ValidationRule[] = [
    maxDepthRule({ ...armor, n: limits.maxDepth, ignoreIntrospection: false, flattenFragments: true }),
    maxAliasesRule({ ...armor, n: limits.maxAliases, allowList: [] }),
    maxDirectivesRule({ ...armor, n: limits.maxDirectives }),
    // Nested introspection lists (fields → type → fields …) grow the answer exponentially.
    MaxIntrospectionDepthRule,
    noConditionalSubscriptionRoot,
    costRule(limits.maxCost),
  ]
  if (!limits.introspection) rules.push(NoSchemaIntrospectionCustomRule)
  return rules
}

/** graphql-js words most "unknown name" errors with a suggestion of known ones. */
const SUGGESTION = / ?Did you mean .*\?$/

/** A validation message without its suggestion, when suggestions are off. */
export function withoutSuggestion(message: string): string {
  return message.replace(SUGGESTION, '')
}

/**
 * A subscription's root field may not be skipped or included by a directive (the GraphQL spec has
 * said so since its 2021 edition: a subscription has exactly one root field, known from its text).
 * graphql-js 16 does not check it, and its own rules and executor throw on some such documents.
 */
function noConditionalSubscriptionRoot(context: ValidationContext): ASTVisitor {
  const conditional = (selections: readonly SelectionNode[], seen: Set<string>): boolean =>
    selections.some((selection) => {
      if (selection.directives?.some((directive) => directive.name.value === 'skip' || directive.name.value === 'include')) return true
      if (selection.kind === Kind.INLINE_FRAGMENT) return conditional(selection.selectionSet.selections, seen)
      if (selection.kind !== Kind.FRAGMENT_SPREAD || seen.has(selection.name.value)) return false
      seen.add(selection.name.value)
      const fragment = context.getFragment(selection.name.value)
      return fragment != null && conditional(fragment.selectionSet.selections, seen)
    })
  return {
    OperationDefinition(operation) {
      if (operation.operation !== OperationTypeNode.SUBSCRIPTION || !conditional(operation.selectionSet.selections, new Set())) return
      context.reportError(new GraphQLError('A subscription’s root field cannot be skipped or included by a directive.', { nodes: operation }))
    },
  }
}
