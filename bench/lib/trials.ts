/**
 * Alternating runs and how a comparison is summed up: every ratio the bench reports comes from
 * `rounds` runs of each side, taken in alternating order (round 1 in one order, round 2 in the
 * reverse, round 3 as round 1: A B B A A B for two sides), and is reported as the median of the
 * per-round ratios with their spread (min–max), next to each side's own median and spread.
 */
import { round } from './stats.js'

/** The order of the runs: round r visits `sides` forwards when r is even, backwards when odd. */
export function alternating<T>(sides: readonly T[], rounds: number): Array<{ round: number; side: T }> {
  const out: Array<{ round: number; side: T }> = []
  for (let r = 0; r < rounds; r++) for (const side of r % 2 === 0 ? sides : [...sides].reverse()) out.push({ round: r, side })
  return out
}

/** A measured quantity over several runs. */
export interface Spread {
  median: number
  min: number
  max: number
  /** the runs, in round order */
  values: number[]
}

export function spreadOf(values: number[]): Spread {
  const finite = values.filter((v) => !Number.isNaN(v))
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, values }
  const sorted = [...finite].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median: round(median, 3), min: round(sorted[0]!, 3), max: round(sorted.at(-1)!, 3), values: values.map((v) => round(v, 3)) }
}

export interface Side {
  label: string
  runs: Spread
  /** Some run hit the top of its ladder: the figure is a lower bound. */
  lowerBound?: boolean
}

export interface Comparison {
  scenario: string
  metric: string
  /** Which way is better for this metric (for the reader; ratios are always A / B). */
  better: 'lower' | 'higher'
  a: Side
  b: Side
  /** A / B per round, then their median and spread. */
  ratio: Spread
  /** The two sides' ranges do not overlap: the difference is larger than the spread. */
  separated: boolean
  /** Runs of each side (1 in quick mode). */
  rounds: number
}

export function compare(
  scenario: string,
  metric: string,
  better: 'lower' | 'higher',
  a: { label: string; values: number[]; lowerBound?: boolean },
  b: { label: string; values: number[]; lowerBound?: boolean },
): Comparison {
  const n = Math.min(a.values.length, b.values.length)
  const ratios = Array.from({ length: n }, (_, i) => (b.values[i]! === 0 ? NaN : a.values[i]! / b.values[i]!))
  const sa = spreadOf(a.values)
  const sb = spreadOf(b.values)
  return {
    scenario,
    metric,
    better,
    a: { label: a.label, runs: sa, lowerBound: a.lowerBound },
    b: { label: b.label, runs: sb, lowerBound: b.lowerBound },
    ratio: spreadOf(ratios),
    separated: sa.max < sb.min || sb.max < sa.min,
    rounds: n,
  }
}
