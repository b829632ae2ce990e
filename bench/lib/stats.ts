/** Latency and rate arithmetic shared by the load generator and the orchestrator. */

export interface LatencySummary {
  /** Samples the summary is over (delivered plus lost). */
  count: number
  /** Samples that never arrived within the grace period (counted as +∞ in the percentiles). */
  lost: number
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

/** Percentiles of `samples` (ms); `lost` samples count as +∞, so a p99 with >1% lost is ∞. */
export function summarize(samples: number[], lost = 0): LatencySummary {
  const sorted = Float64Array.from(samples).sort()
  const count = sorted.length + lost
  const at = (q: number): number => {
    if (count === 0) return NaN
    const index = Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))
    return index < sorted.length ? sorted[index]! : Infinity
  }
  let sum = 0
  for (const value of sorted) sum += value
  return {
    count,
    lost,
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: lost > 0 ? Infinity : round(sorted.length ? sorted[sorted.length - 1]! : NaN),
    mean: round(sorted.length ? sum / sorted.length : NaN),
  }
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** JSON cannot hold Infinity: it is written as the string "Infinity" and read back. */
export function jsonSafe(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)))
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
