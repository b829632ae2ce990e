/**
 * What a field costs in a document's static cost (see src/server/documents/cost.ts), declared on
 * the field as `extensions: { cost }`. A field without one costs 1 when it returns an object, 0
 * for a scalar.
 */
export interface FieldCost {
  /** The field's own cost: about one per storage read it may make. */
  cost: number
  /** A paged list: what it selects is counted once per item of the largest page it may return. */
  page?: {
    /** The page-size argument. */
    arg: string
    /** The page size when the argument is omitted. */
    default: number
    /** The largest page; also what a variable page size counts as, whatever its value. */
    max: number
  }
}

/** One read of an item or a page (a GetItem, a Query). */
export const READ = 5
/** A mutation or a subscription: its own writes are rate-limited, this bounds a document's count of them. */
export const WRITE = 10

/** The `extensions` of a field that costs `cost`. */
export const costs = (cost: FieldCost): { cost: FieldCost } => ({ cost })
