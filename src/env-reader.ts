import type { RateConfig } from './config.js'

/**
 * Reads environment variables for config.ts: each read parses and checks one variable and notes
 * every problem, so that the whole configuration is judged in one pass and all its problems are
 * reported at once.
 */

export type Env = Record<string, string | undefined>

const unit = (suffix: string | undefined): number => ({ kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 })[suffix?.toLowerCase() as 'kb'] ?? 1

export class Reader {
  readonly problems: string[] = []
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string
  string(name: string): string | undefined
  string(name: string, fallback?: string): string | undefined {
    const value = this.env[name]?.trim()
    return value === undefined || value === '' ? fallback : value
  }

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`)
      return fallback
    }
    return value
  }

  /** A count from min to max, or "auto" for the caller's `auto` count (kept within min and max); unset: undefined. */
  countOrAuto(name: string, auto: number, { min, max }: { min: number; max: number }): number | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    if (raw.toLowerCase() === 'auto') return Math.min(Math.max(auto, min), max)
    const value = Number(raw)
    if (Number.isInteger(value) && value >= min && value <= max) return value
    this.problems.push(`${name} must be "auto" or an integer from ${min} to ${max} (got "${raw}")`)
    return undefined
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    if (/^(1|true|yes|on)$/i.test(raw)) return true
    if (/^(0|false|no|off)$/i.test(raw)) return false
    this.problems.push(`${name} must be true or false (got "${raw}")`)
    return fallback
  }

  url(name: string, protocols: string[]): string | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    try {
      const parsed = new URL(raw)
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol')
      return raw
    } catch {
      this.problems.push(`${name} must be a ${protocols.join(' or ')} URL (got "${raw}")`)
      return undefined
    }
  }

  /** A rate as "<n>/<s|min|h> burst <n>", counts optionally in KB, MB or GB. */
  rate(name: string, fallback: RateConfig): RateConfig {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    const match = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB)?\s*\/\s*(s|min|h)\s+burst\s+(\d+)\s*(KB|MB|GB)?$/i.exec(raw)
    const per = { s: 1, min: 60, h: 3600 }[match?.[3]?.toLowerCase() as 's' | 'min' | 'h']
    if (!match || !per) {
      this.problems.push(`${name} must look like "5/s burst 20" (per s, min or h; counts may end in KB, MB or GB) (got "${raw}")`)
      return fallback
    }
    const perSecond = (Number(match[1]) * unit(match[2])) / per
    const burst = Number(match[4]) * unit(match[5])
    if (!(perSecond > 0) || !(burst >= 1)) {
      this.problems.push(`${name} needs a rate above 0 and a burst of at least 1 (got "${raw}")`)
      return fallback
    }
    return { perSecond, burst }
  }

  /** A comma-separated list of host:port. */
  hostPorts(name: string): Array<{ host: string; port: number }> | undefined {
    const items = this.list(name)
    if (items.length === 0) return undefined
    const parsed = items.map((item) => /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(item))
    if (parsed.some((match) => !match || Number(match[2]) > 65_535)) {
      this.problems.push(`${name} must be comma-separated host:port pairs (got "${this.string(name)}")`)
      return undefined
    }
    return parsed.map((match) => ({ host: match![1]!.replace(/^\[|\]$/g, ''), port: Number(match![2]) }))
  }

  list(name: string): string[] {
    return (this.string(name) ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '')
  }

  require(condition: boolean, problem: string): void {
    if (!condition) this.problems.push(problem)
  }
}

