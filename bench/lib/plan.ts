/** Command-line options and the plan of a run (quick or full). */
import { DEFAULT_TARGETS, TARGETS, type Target } from './targets.js'

export const SCENARIOS = ['memory', 'connect', 'typing-socket', 'typing-http', 'messages', 'send-path', 'cross-process'] as const
export type Scenario = (typeof SCENARIOS)[number]

export interface Options {
  quick: boolean
  writeReadme: boolean
  profile: boolean
  heap: boolean
  report: boolean
  /** targets to measure; `cross` (the cross-process test) counts as one */
  targets: Set<Target>
  cross: boolean
  scenarios: Set<Scenario>
  /** Runs of each side, instead of the mode's (full: 3, quick: 1). */
  rounds: number | undefined
  argv: string[]
}

export const USAGE =
  'usage: npm run bench -- [--quick] [--rounds=N] [--write-readme] [--profile] [--heap] [--report]\n' +
  `         [--only=${[...TARGETS, 'cross'].join(',')}]\n` +
  `         [--scenarios=${SCENARIOS.join(',')}]`

export function parseOptions(argv: string[]): Options | { error: string } {
  const flags = new Set(['quick', 'write-readme', 'profile', 'heap', 'report'])
  const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
  for (const a of argv) {
    if (a.startsWith('--only=') || a.startsWith('--scenarios=') || a.startsWith('--rounds=')) continue
    if (!a.startsWith('--') || !flags.has(a.slice(2))) return { error: `unknown argument ${a}` }
  }
  const only = (option('only') ?? [...DEFAULT_TARGETS, 'cross'].join(',')).split(',').filter(Boolean)
  for (const name of only) if (name !== 'cross' && !(TARGETS as readonly string[]).includes(name)) return { error: `unknown target ${name}` }
  const scenarios = (option('scenarios') ?? SCENARIOS.join(',')).split(',').filter(Boolean)
  for (const name of scenarios) if (!(SCENARIOS as readonly string[]).includes(name)) return { error: `unknown scenario ${name}` }
  const rounds = option('rounds')
  if (rounds !== undefined && !(Number.isInteger(Number(rounds)) && Number(rounds) >= 1)) return { error: `--rounds must be a whole number from 1` }
  return {
    quick: argv.includes('--quick'),
    writeReadme: argv.includes('--write-readme'),
    profile: argv.includes('--profile'),
    heap: argv.includes('--heap'),
    report: argv.includes('--report'),
    targets: new Set(only.filter((name): name is Target => name !== 'cross')),
    cross: only.includes('cross'),
    scenarios: new Set(scenarios as Scenario[]),
    rounds: rounds === undefined ? undefined : Number(rounds),
    argv,
  }
}

export interface Plan {
  /**
   * Runs of each side of every comparison, in alternating order (A B B A A B …). Every ratio is
   * the median of the per-round ratios, with their spread. Quick mode: one run each.
   */
  rounds: number
  /** Connection steps of the first memory run of each target (the scaling table). */
  connSteps: number[]
  /** Connections every memory run reaches; the memory and connect comparisons are at this count. */
  goalConns: number
  /**
   * Connections open during the live scenarios. Each sending user sends one event a second (see
   * pairsFor), so a Hush typing step is measured up to rateConns events/s.
   */
  rateConns: number
  /** Ladder of event rates; a ladder stops at the first rate not held (and doubles past the last while held, up to extendTo). */
  rates: number[]
  extendTo: number
  /** The rate at which server CPU per event is compared (every series, every round). */
  cpuRate: number
  messageRates: number[]
  stepDownTo: number
  stepMs: number
  graceMs: number
  warmupMs: number
  settleMs: number
  /** re-runs of a failed step while other processes took the CPU */
  retries: number
  quietWaitMs: number
  idleWaitMs: number
  sendPath: { concurrency: number; durationMs: number }
  cross: { pairsPerGroup: number; rates: number[]; messageRate: number; stepMs: number; messageStepMs: number }
}

export function makePlan(quick: boolean): Plan {
  return quick
    ? {
        rounds: 1,
        connSteps: [1_000],
        goalConns: 1_000,
        rateConns: 1_000,
        rates: [250, 500, 1_000],
        extendTo: 1_000,
        cpuRate: 500,
        messageRates: [125, 250, 500],
        stepDownTo: 60,
        stepMs: 2_000,
        graceMs: 750,
        warmupMs: 750,
        settleMs: 500,
        // No second try of a failed step: it keeps the quick run short.
        retries: 0,
        quietWaitMs: 5_000,
        idleWaitMs: 5_000,
        sendPath: { concurrency: 16, durationMs: 2_000 },
        cross: { pairsPerGroup: 50, rates: [100], messageRate: 50, stepMs: 2_000, messageStepMs: 2_000 },
      }
    : {
        rounds: 3,
        connSteps: [1_000, 4_000, 8_000, 15_000],
        goalConns: 4_000,
        rateConns: 8_000,
        rates: [500, 1_000, 2_000, 4_000, 8_000],
        extendTo: 32_000,
        cpuRate: 2_000,
        messageRates: [500, 1_000, 2_000, 4_000, 8_000],
        stepDownTo: 60,
        stepMs: 5_000,
        graceMs: 2_000,
        warmupMs: 2_000,
        settleMs: 1_000,
        // One re-run of a failed step: the alternating runs and their median already absorb a stall.
        retries: 1,
        quietWaitMs: 30_000,
        idleWaitMs: 90_000,
        sendPath: { concurrency: 32, durationMs: 10_000 },
        cross: { pairsPerGroup: 500, rates: [200, 400], messageRate: 50, stepMs: 5_000, messageStepMs: 5_000 },
      }
}
