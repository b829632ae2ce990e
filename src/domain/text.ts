import { badInput } from './errors.js'

/** Length in user-perceived characters (code points), so an emoji counts once, not twice. */
export const textLength = (value: string): number => {
  let length = 0
  for (const _ of value) length++
  return length
}

/** A body of 1 to `max` characters that is not only white space. */
export function validateBody(field: string, value: string, max: number): string {
  if (value.trim().length === 0) throw badInput(`${field} must not be empty.`)
  const length = textLength(value)
  if (length > max) throw badInput(`${field} must be at most ${max} characters (got ${length}).`)
  return value
}

/** A page size from 1 to `max`; `fallback` when the caller gave none. */
export function validatePageSize(field: string, value: number | null | undefined, fallback: number, max: number): number {
  if (value === null || value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1 || value > max) throw badInput(`${field} must be from 1 to ${max}.`)
  return value
}
