/** Number formatting for the logs and the tables. */
import type { Spread } from './trials.js'

export const ms = (v: number | undefined): string =>
  v === undefined || Number.isNaN(v) ? '–' : !Number.isFinite(v) ? '∞' : v >= 100 ? v.toFixed(0) : v.toFixed(1)
export const num = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : !Number.isFinite(v) ? '∞' : Math.round(v).toLocaleString('en-US'))
export const kb = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(1))
export const times = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(2)}×`)

/** "12.3 (11.9–12.8)": a median and its spread; one run: the value alone. */
export function spreadText(s: Spread, format: (v: number) => string): string {
  if (s.values.length <= 1 || s.min === s.max) return format(s.median)
  return `${format(s.median)} (${format(s.min)}–${format(s.max)})`
}
