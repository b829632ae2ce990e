/**
 * The project's performance goals, judged on the run's comparisons: each from `rounds` alternating
 * runs of each side, met when the median ratio meets the target; "within spread" when the runs'
 * per-round ratios fall on both sides of it.
 */
import { DDB_ALONE_LABEL } from '../scenarios/connect.js'
import { crossAdded } from '../scenarios/cross-process.js'
import { ms, spreadText } from './format.js'
import type { Goal, Results } from './results.js'
import { round } from './stats.js'
import type { Comparison, Spread } from './trials.js'

const find = (r: Results, scenario: string, metricStart: string, a: string, b: string) =>
  r.comparisons.find((c) => c.scenario === scenario && c.metric.startsWith(metricStart) && c.a.label === a && c.b.label === b)

const x = (v: number) => `${v.toFixed(2)}×`

function ratioGoal(name: string, goal: string, c: Comparison | undefined, unit: string, test: (v: number) => boolean, format = (v: number) => String(round(v, 1))): Goal | undefined {
  if (!c) return undefined
  const r = c.ratio
  const median = test(r.median)
  const straddles = test(r.min) !== test(r.max)
  const bound = c.a.lowerBound || c.b.lowerBound ? ' (a ladder reached its top: a bound, not a figure)' : ''
  return {
    name,
    goal,
    measured:
      `${c.a.label} ${spreadText(c.a.runs, format)}${unit}, ${c.b.label} ${spreadText(c.b.runs, format)}${unit} → ${spreadText(r, x)}` +
      `${c.rounds > 1 ? ` over ${c.rounds} alternating runs` : ' (1 run each: quick mode)'}${straddles ? '; within the spread' : ''}${bound}`,
    met: Number.isNaN(r.median) ? null : median,
    withinSpread: straddles,
  }
}

/** A goal judged on one comparison, for Hush and, where the run measured it, for Hush's alternative. */
interface RatioGoalSpec {
  name: string
  goal: string
  scenario: string
  metricStart: string
  /** Hush's label, then its alternative's (the side A of the comparison) */
  subjects: string[]
  against: string
  unit: string
  test: (v: number) => boolean
  format?: (v: number) => string
}

const whole = (v: number) => String(Math.round(v))

export function evaluateGoals(r: Results): Goal[] {
  const goals: Array<Goal | undefined> = []
  const conns = r.memory?.goalConns.toLocaleString('en-US')
  const specs: RatioGoalSpec[] = [
    {
      name: `memory per connection, two subscriptions (${conns} conns, RSS after GC)`,
      goal: '≤ 0.5× peer',
      scenario: 'memory',
      metricStart: 'RSS',
      subjects: ['Hush', 'Hush on graphql-ws useServer'],
      against: 'peer (Yoga)',
      unit: ' KB',
      test: (v) => v <= 0.5,
    },
    {
      name: `memory per connection, two subscriptions (${conns} conns, RSS after GC)`,
      goal: '≤ 1.5× floor',
      scenario: 'memory',
      metricStart: 'RSS',
      subjects: ['Hush', 'Hush on graphql-ws useServer'],
      against: 'floor (ws)',
      unit: ' KB',
      test: (v) => v <= 1.5,
    },
    {
      name: `server CPU per typing event over the socket (at ${r.typingSocket?.cpuRate.toLocaleString('en-US')}/s)`,
      goal: '≤ 2× floor',
      scenario: 'typing-socket',
      metricStart: 'server CPU',
      subjects: ['Hush typing (socket)', 'Hush on graphql-ws useServer, typing (socket)'],
      against: 'floor frame',
      unit: ' µs',
      test: (v) => v <= 2,
      format: whole,
    },
    {
      name: `reconnects until live (${r.connect?.conns.toLocaleString('en-US')} clients at once)`,
      goal: '≥ 1× peer',
      scenario: 'connect',
      metricStart: 'reconnects',
      subjects: ['Hush', 'Hush on graphql-ws useServer'],
      against: 'peer (Yoga)',
      unit: '/s',
      test: (v) => v >= 1,
      format: whole,
    },
    {
      name: `reconnects until live against DynamoDB Local serving the same reads alone (${r.connect?.conns.toLocaleString('en-US')} clients)`,
      goal: 'DynamoDB / Hush ≤ 1.3× (if not ≥ 1× peer)',
      scenario: 'connect',
      metricStart: 'reconnects',
      subjects: [DDB_ALONE_LABEL],
      against: 'Hush',
      unit: '/s',
      test: (v) => v <= 1.3,
      format: whole,
    },
    {
      name: 'typing events/s held at p99 ≤ 50 ms (mutations over HTTP)',
      goal: '≥ 4× peer',
      scenario: 'typing-http',
      metricStart: 'highest',
      subjects: ['Hush typing (HTTP)', 'Hush on Yoga + graphql-jit, typing (HTTP)'],
      against: 'peer send (HTTP)',
      unit: '',
      test: (v) => v >= 4,
      format: whole,
    },
    {
      name: 'typing events/s held at p99 ≤ 50 ms (over the socket, as a Hush client sends typing; peer over HTTP, as its docs show)',
      goal: '≥ 4× peer',
      scenario: 'typing-socket',
      metricStart: 'highest',
      subjects: ['Hush typing (socket)', 'Hush on graphql-ws useServer, typing (socket)'],
      against: 'peer send (HTTP)',
      unit: '',
      test: (v) => v >= 4,
      format: whole,
    },
    {
      name: 'messages with storage vs DynamoDB Local alone (same write set)',
      goal: 'DynamoDB / Hush ≤ 1.3×',
      scenario: 'send-path',
      metricStart: 'messages',
      subjects: ['DynamoDB Local alone (same write set)'],
      against: 'Hush sendMessage → recipient event',
      unit: '/s',
      test: (v) => v <= 1.3,
      format: whole,
    },
  ]
  for (const spec of specs) {
    spec.subjects.forEach((subject, i) => {
      const goal = ratioGoal(spec.name, spec.goal, find(r, spec.scenario, spec.metricStart, subject, spec.against), spec.unit, spec.test, spec.format)
      // The alternative's row: what Hush would measure without its replacement (a decision, not a goal of Hush).
      if (goal && i > 0) goal.name = `  … the same for the alternative (${subject.split(',')[0]})`
      goals.push(goal)
    })
  }
  if (r.cross) {
    const added = crossAdded(r.cross).filter((a) => a.added.values.length > 0)
    if (added.length) {
      const text = (s: Spread) => spreadText(s, (v) => `${v >= 0 ? '+' : ''}${ms(v)}`)
      goals.push({
        name: 'p99 added by crossing processes (typing, vs one process with in-process events)',
        goal: '≤ +5 ms',
        measured:
          added.map((a) => `${text(a.added)} ms at ${a.rate}/s${a.baseHeld ? '' : ' (inconclusive: a one-process step did not hold)'}`).join(', ') +
          (r.rounds > 1 ? ` (median and spread of ${r.rounds} alternating runs)` : ' (1 run: quick mode)'),
        met: added.some((a) => a.baseHeld && a.added.median > 5) ? false : added.every((a) => a.baseHeld) ? true : null,
      })
    }
    const p = r.cross.publishes
    if (p.typing || p.messages) {
      const perMessage = p.messages && round((p.messages.byKind?.message ?? 0) / Math.max(1, p.messages.events), 3)
      const receipts = p.messages?.byKind?.receipt ?? 0
      goals.push({
        name: 'Redis PUBLISH per event (two processes)',
        goal: 'exactly 1',
        measured: [p.typing && `typing ${p.typing.perEvent}`, p.messages && `message ${perMessage} (+ ${receipts} receipt events for ${p.messages.events} messages, 1 PUBLISH each)`]
          .filter(Boolean)
          .join(', '),
        met: [p.typing?.perEvent, perMessage].every((v) => v === undefined || Math.abs(v - 1) < 0.01),
      })
    }
  }
  return goals.filter((g): g is Goal => g !== undefined)
}
