import {
  getNamedType,
  GraphQLError,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  type ASTVisitor,
  type FieldNode,
  type GraphQLNamedType,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql'
import type { FieldCost } from '../../schema/cost.js'

/**
 * A validation rule that refuses an operation whose static cost passes `maxCost`. The cost is
 * the most work the operation may cause, known from its text alone, so it is computed once per
 * document (the document cache keeps the verdict), never per request:
 * - each field costs its declared `extensions.cost` (see src/schema/cost.ts), else 1 for an
 *   object and 0 for a scalar;
 * - what a paged list selects counts once per item of its page: the literal page size, the
 *   default when omitted, the maximum when it is a variable (its value is not known yet);
 * - fragments count wherever they are spread, each computed once (a fragment spread in many
 *   places costs no more work to count than to write), and every branch of a union counts.
 */
export function costRule(maxCost: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragmentCosts = new Map<string, number>()
    const costOfSelections = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined): number => {
      let total = 0
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) total += costOfField(selection, parent)
        else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const type = selection.typeCondition ? context.getSchema().getType(selection.typeCondition.name.value) : parent
          total += costOfSelections(selection.selectionSet, type)
        } else total += costOfFragment(selection.name.value)
      }
      return total
    }
    const costOfFragment = (name: string): number => {
      const known = fragmentCosts.get(name)
      if (known !== undefined) return known
      // A cycle (reported by NoFragmentCyclesRule) counts nothing more.
      fragmentCosts.set(name, 0)
      const fragment = context.getFragment(name)
      const cost = fragment ? costOfSelections(fragment.selectionSet, context.getSchema().getType(fragment.typeCondition.name.value)) : 0
      fragmentCosts.set(name, cost)
      return cost
    }
    const costOfField = (node: FieldNode, parent: GraphQLNamedType | undefined): number => {
      // Unknown fields are other rules' errors; meta fields (__typename, introspection) cost nothing here.
      const field = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[node.name.value] : undefined
      if (!field) return 0
      const declared = field.extensions.cost as FieldCost | undefined
      const type = getNamedType(field.type)
      const own = declared?.cost ?? (isCompositeType(type) ? 1 : 0)
      return own + (node.selectionSet ? pageSize(node, declared) * costOfSelections(node.selectionSet, type) : 0)
    }
    return {
      OperationDefinition(operation) {
        const root = context.getSchema().getRootType(operation.operation) ?? undefined
        const cost = costOfSelections(operation.selectionSet, root)
        if (cost > maxCost) {
          context.reportError(
            new GraphQLError(`The operation costs ${cost}, over the limit of ${maxCost}: ask for smaller pages or fewer fields.`, {
              nodes: operation,
            }),
          )
        }
      },
    }
  }
}

/** The largest page a paged field may return in this selection (1 for anything else). */
function pageSize(node: FieldNode, declared: FieldCost | undefined): number {
  const page = declared?.page
  if (!page) return 1
  const argument = node.arguments?.find((arg) => arg.name.value === page.arg)
  if (!argument || argument.value.kind === Kind.NULL) return page.default
  if (argument.value.kind === Kind.INT) return Math.min(page.max, Math.max(1, Number(argument.value.value)))
  return page.max
}
