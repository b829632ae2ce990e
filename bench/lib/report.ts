/** Renders a run's results as terminal tables and as the README "Performance" section. */
import { DDB_ALONE_LABEL, DDB_ALONE_SDK_LABEL } from '../scenarios/connect.js'
import { CROSS_LABELS, crossAdded } from '../scenarios/cross-process.js'
import { CONNECTS_AT_A_TIME } from './fleet.js'
import { kb, ms, num, spreadText, times } from './format.js'
import type { LadderResult } from './measure.js'
import type { ConnectResults, LiveResults, RateStep, Results } from './results.js'
import { labelOf, type Target } from './targets.js'
import { spreadOf } from './trials.js'
import type { LatencySummary } from './stats.js'

type Table = { title: string; headers: string[]; rows: string[][]; note?: string }

function renderText(t: Table): string {
  const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  const out = [`\n${t.title}`, line(t.headers), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)]
  if (t.note) out.push(t.note)
  return out.join('\n')
}

function renderMd(t: Table): string {
  const out = [`**${t.title}**`, '', `| ${t.headers.join(' | ')} |`, `|${t.headers.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`]
  for (const r of t.rows) out.push(`| ${r.join(' | ')} |`)
  if (t.note) out.push('', t.note)
  return out.join('\n')
}

const lat = (l: LatencySummary) => [ms(l.p50), ms(l.p99), ms(l.max)]
const cores = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–')
const runsText = (r: Results) => (r.rounds > 1 ? `${r.rounds} alternating runs each` : '1 run each (quick mode: no spread)')

function ladderRows(name: string, steps: RateStep[]): string[][] {
  return steps.map((s) => [
    name,
    num(s.target),
    num(s.achieved),
    ...lat(s.latency),
    num(s.latency.lost),
    num(s.errors + s.skipped),
    num(s.serverCpuUsPerEvent),
    stallText(s),
    cores(s.foreignCores),
    s.held ? 'yes' : s.drained === false ? 'no (backlog)' : 'no',
  ])
}

/** The step's longest stalls: the server's event loop (its longest GC pause) / the load generator's. */
const stallText = (s: RateStep) =>
  s.serverStalls ? `${ms(s.serverStalls.loopMaxMs)} (${ms(s.serverStalls.gcMaxMs)}) / ${ms(s.loadgenLoopMaxMs)}` : '–'

const LADDER_HEADERS = ['scenario', 'target/s', 'achieved/s', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'err+skip', 'srv CPU µs/ev', 'stall ms: srv (GC) / lg', 'other CPU', 'held']
const LADDER_NOTE =
  'Each sending user sends one event a second (Hush shows a chat side\'s typing changes at most once per 500 ms). ' +
  'held = achieved ≥ 95% of target, p99 ≤ 50 ms, nothing lost, no errors. Lost events (not delivered within the grace period) count as ∞ in the percentiles. ' +
  'err+skip = failed mutations plus sends skipped because 256 were already waiting for an answer. ' +
  "srv CPU = the server process's own CPU time per event sent. stall = the longest event-loop delay in the server (its longest GC pause) and in the load generator during the step. other CPU = cores used by processes outside this run during the step (a failed step with other CPU > 0.3 is re-run once in full mode)."

function heldText(results: LadderResult[]): string {
  const s = spreadOf(results.map((l) => l.held))
  const text = spreadText(s, num)
  return results.some((l) => l.top) ? `≥ ${text}` : text
}

function liveTables(r: Results, title: string, live: LiveResults | undefined): Table[] {
  if (!live) return []
  const out: Table[] = []
  const cpuRows = live.series.map((s) => {
    const steps = live.cpu.filter((c) => c.series === s.key).map((c) => c.step)
    return [
      s.label,
      spreadText(spreadOf(steps.map((x) => x.serverCpuUsPerEvent)), num),
      spreadText(spreadOf(steps.map((x) => x.latency.p99)), ms),
      `${steps.filter((x) => x.held).length}/${steps.length}`,
      spreadText(spreadOf(steps.map((x) => x.serverStalls?.loopMaxMs ?? NaN)), ms),
      cores(Math.max(...steps.map((x) => x.foreignCores))),
    ]
  })
  out.push({
    title: `${title}: server CPU per event at ${num(live.cpuRate)}/s (${num(live.conns)} connections per server; ${runsText(r)}; median (min–max))`,
    headers: ['series', 'srv CPU µs/ev', 'p99 ms', 'held', 'server stall ms', 'max other CPU'],
    rows: cpuRows,
    note: `Order of the runs: ${live.sequence.cpu.join(' → ')}.`,
  })
  out.push({
    title: `${title}: highest rate held at p99 ≤ 50 ms (events/s; ${runsText(r)}; median (min–max))`,
    headers: ['series', 'held', 'runs'],
    rows: live.series.map((s) => {
      const ladders = live.ladders.filter((l) => l.series === s.key).map((l) => l.result)
      return [s.label, heldText(ladders), ladders.map((l) => `${num(l.held)}${l.top ? '+' : ''}`).join(', ')]
    }),
    note: `≥ / +: the highest rate tried still held. Later runs of a series start at the rate it held before. Order: ${live.sequence.ladder.join(' → ')}.`,
  })
  const rows = live.series.flatMap((s) => ladderRows(s.label, live.ladders.find((l) => l.series === s.key && l.round === 0)?.result.steps ?? []))
  out.push({ title: `${title}: the first ladder of each series (latency = send issued → recipient's socket)`, headers: LADDER_HEADERS, rows, note: LADDER_NOTE })
  return out
}

function tables(r: Results): Table[] {
  const out: Table[] = []

  // Every ratio of the run.
  if (r.comparisons.length) {
    out.push({
      title: `Comparisons: every ratio of this run (${runsText(r)}; A / B per round, then its median (min–max))`,
      headers: ['scenario', 'metric', 'A', 'A', 'B', 'B', 'A / B', 'beyond spread'],
      rows: r.comparisons.map((c) => {
        const fmt = (v: number) => (Math.abs(v) >= 100 ? num(v) : v.toFixed(1))
        return [
          c.scenario,
          `${c.metric} (${c.better} is better)`,
          c.a.label,
          `${c.a.lowerBound ? '≥ ' : ''}${spreadText(c.a.runs, fmt)}`,
          c.b.label,
          `${c.b.lowerBound ? '≥ ' : ''}${spreadText(c.b.runs, fmt)}`,
          spreadText(c.ratio, times),
          c.rounds > 1 ? (c.separated ? 'yes' : 'no') : '–',
        ]
      }),
      note: 'beyond spread = the two sides\' ranges over their runs do not overlap. ≥: a ladder reached its top, so the figure is a lower bound.',
    })
  }

  // Memory
  const m = r.memory
  if (m) {
    const scaling: string[][] = []
    for (const target of m.targets) {
      const run = m.runs.find((x) => x.target === target && x.round === 0)
      for (const s of run?.steps ?? []) {
        scaling.push([
          labelOf(target),
          num(s.n),
          num(s.connect.connectRate),
          ms(s.connect.handshake.p50),
          ms(s.connect.handshake.p99),
          kb(s.perConnKB.rss),
          kb(s.perConnKB.heap),
          kb(s.marginalKB.rss),
          num(s.mem.rss / 2 ** 20),
          cores(s.idleCores),
          s.connect.failed > 0 ? `${s.connect.failed} failed` : s.connect.chatsSettled < s.connect.chatsTotal ? `${s.connect.chatsTotal - s.connect.chatsSettled} chats unsettled` : 'ok',
        ])
      }
    }
    out.push({
      title: `Memory per connection at ${num(m.goalConns)} connections, each user holding two subscriptions (fresh server per run, memory after full GC; ${runsText(r)}; median (min–max))`,
      headers: ['server', 'RSS KB/conn', 'heap KB/conn', 'connect/s (cold)'],
      rows: m.targets.map((target) => {
        const at = m.runs.filter((x) => x.target === target).map((x) => x.steps.find((s) => s.n === m.goalConns)).filter((s) => s !== undefined)
        return [
          labelOf(target),
          spreadText(spreadOf(at.map((s) => s.perConnKB.rss)), kb),
          spreadText(spreadOf(at.map((s) => s.perConnKB.heap)), kb),
          spreadText(spreadOf(at.map((s) => s.connect.connectRate)), num),
        ]
      }),
      note: `Hush: notifications + one chatEvents; peer: two chat subscriptions; floor: two rooms. Order of the runs: ${m.sequence.join(' → ')}.`,
    })
    out.push({
      title: 'Connections, scaling (the first run of each server)',
      headers: ['server', 'conns', 'connect/s', 'hs p50 ms', 'hs p99 ms', 'RSS KB/conn', 'heap KB/conn', 'marginal RSS KB', 'RSS MB', 'idle CPU', 'status'],
      rows: scaling,
      note:
        'hs = handshake: socket open → connection_ack (floor: → open). KB/conn = growth since the empty server / connections; marginal = growth since the previous step / new connections. ' +
        'idle CPU = cores the server used while its connections sat idle.',
    })
  }

  // Reconnects
  const c = r.connect
  if (c) {
    out.push({
      title: `Reconnects: ${num(c.conns)} clients of a warm server drop their sockets and connect again, both subscriptions (${runsText(r)}; median (min–max))`,
      headers: ['server', 'until live /s', 'to last subscribe /s', 'hs p50 ms', 'hs p99 ms', 'failed'],
      rows: c.targets.map((target) => {
        const runs = c.runs.filter((x) => x.target === target).map((x) => x.result)
        return [
          labelOf(target),
          spreadText(spreadOf(runs.map((x) => x.liveRate)), num),
          spreadText(spreadOf(runs.map((x) => x.connectRate)), num),
          spreadText(spreadOf(runs.map((x) => x.handshake.p50)), ms),
          spreadText(spreadOf(runs.map((x) => x.handshake.p99)), ms),
          num(runs.reduce((sum, x) => sum + x.failed, 0)),
        ]
      }).concat(
        ([[DDB_ALONE_LABEL, c.ddb], [DDB_ALONE_SDK_LABEL, c.ddbSdk ?? []]] as const)
          .filter(([, runs]) => runs.length > 0)
          .map(([label, runs]) => [label, spreadText(spreadOf(runs.map((d) => d.result.rate)), num), '', '', '', num(runs.reduce((sum, d) => sum + d.result.errors, 0))]),
      ),
      note:
        'until live: from the first socket opened until every chat saw its peer\'s presence (both users subscribed; Hush targets). The floor and the peer confirm nothing: ' +
        `their clock stops at the last subscribe sent. ${CONNECTS_AT_A_TIME} sockets open at a time. Order: ${c.sequence.join(' → ')}.` +
        reconnectCpuNote(c),
    })
  }

  out.push(...liveTables(r, 'Typing over the socket', r.typingSocket))
  out.push(...liveTables(r, 'Typing over HTTP', r.typingHttp))

  if (r.messages) {
    out.push({
      title: 'Hush messages over HTTP, stored (one ladder; no ratio is taken from it)',
      headers: LADDER_HEADERS,
      rows: ladderRows('Hush messages (HTTP, stored)', r.messages.steps),
    })
  }

  // Send path
  const sp = r.sendPath
  if (sp) {
    const rows: string[][] = []
    const cpu = (x: { cpuPerWrite?: { server: number; dynamodbLocal: number; loadgen: number } }) =>
      x.cpuPerWrite ? `${num(x.cpuPerWrite.server)} / ${num(x.cpuPerWrite.dynamodbLocal)} / ${num(x.cpuPerWrite.loadgen)}` : '–'
    let h = 0
    let d = 0
    for (const side of sp.sequence) {
      if (side === 'hush') {
        const run = sp.hush[h++]!
        rows.push([`Hush sendMessage → recipient event (run ${run.round + 1})`, num(run.result.concurrency), num(run.result.throughput), ...lat(run.result.latency), num(run.result.errors), cpu(run.result)])
      } else {
        const run = sp.ddb[d++]!
        rows.push([`DynamoDB Local alone, same writes (run ${run.round + 1})`, num(run.result.concurrency), num(run.result.throughput), ...lat(run.result.latency), num(run.result.errors), cpu(run.result)])
      }
    }
    const cmp = r.comparisons.find((x) => x.scenario === 'send-path')
    out.push({
      title: `Send path on DynamoDB Local (closed loop, one writer per chat; runs in the order made)`,
      headers: ['path', 'in flight', 'per s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'CPU µs/write: server / DynamoDB Local / load generator'],
      rows,
      note:
        (cmp ? `DynamoDB Local alone / Hush = ${spreadText(cmp.ratio, times)} (goal ≤ 1.3×). ` : '') +
        'DynamoDB alone sends the two writes Hush\'s store makes for a send (Put Message n if absent, then the conditional Update Chat), built by that store before the clock starts, ' +
        'through the same AWS SDK document client, to chats created by the store\'s startChat transaction. The cores are shared, so the CPU per write is what the ratio comes down to.',
    })
  }

  // Cross-process
  const x = r.cross
  if (x) {
    const rows: string[][] = []
    const added = crossAdded(x)
    for (const rate of x.rates) {
      for (const group of ['in-process', 'one-process-redis', 'two-processes'] as const) {
        const steps = x.steps.filter((s) => s.rate === rate && s.group === group).map((s) => s.step)
        if (!steps.length) continue
        rows.push([
          CROSS_LABELS[group],
          num(rate),
          spreadText(spreadOf(steps.map((s) => s.achieved)), num),
          spreadText(spreadOf(steps.map((s) => s.latency.p50)), ms),
          spreadText(spreadOf(steps.map((s) => s.latency.p99)), ms),
          num(steps.reduce((sum, s) => sum + s.latency.lost + s.errors + s.skipped, 0)),
          cores(Math.max(...steps.map((s) => s.foreignCores))),
        ])
      }
      const a = added.find((v) => v.rate === rate)
      if (a && a.added.values.length) rows.push(['  → p99 added by crossing processes', '', '', '', spreadText(a.added, (v) => `${v >= 0 ? '+' : ''}${ms(v)}`), '', ''])
    }
    if (x.messagesTwoProcesses) {
      const s = x.messagesTwoProcesses
      rows.push(['2 processes, messages (stored)', num(s.target), num(s.achieved), ms(s.latency.p50), ms(s.latency.p99), num(s.latency.lost + s.errors + s.skipped), cores(s.foreignCores)])
    }
    const p = x.publishes
    const per = (v: typeof p.typing) => (v ? `${v.perEvent.toFixed(2)} (${num(v.publishes)} for ${num(v.events)} events; INFO commandstats delta ${num(v.commandstatsDelta)})` : '–')
    out.push({
      title: `Across processes (typing over the socket; ${num(x.pairsPerGroup)} connected pairs per setup, all setups connected at once; ${runsText(r)}; median (min–max))`,
      headers: ['setup', 'target/s', 'achieved/s', 'p50 ms', 'p99 ms', 'lost+err', 'max other CPU'],
      rows,
      note:
        (x.busyAfterStartMs && x.busyAfterStartMs > 2_000 ? `The three fresh servers kept busy for ${(x.busyAfterStartMs / 1000).toFixed(1)} s after start before anything was measured. ` : '') +
        `The added p99 is taken per round (two processes − in-process). Redis PUBLISH per typing event: ${per(p.typing)} across two processes, ${per(p.typingOneProcess)} on one. ` +
        (p.messages
          ? `Messages: ${num(p.messages.byKind?.message ?? 0)} PUBLISH of kind message for ${num(p.messages.events)} messages; ` +
            `all PUBLISH by kind: ${Object.entries(p.messages.byKind ?? {})
              .map(([k, v]) => `${k} ${num(v)}`)
              .join(', ')} (a receipt is an event of its own: the recipient's device got the messages; at most one per chat side per 100 ms).`
          : ''),
    })
  }

  out.push({
    title: 'Goals (ratios within this run)',
    headers: ['goal', 'target', 'measured', 'met'],
    rows: r.goals.map((g) => [g.name, g.goal, g.measured, `${g.met === null ? 'n/a' : g.met ? 'yes' : 'NO'}${g.withinSpread ? ' (within spread)' : ''}`]),
    note: 'met: judged on the median; "within spread": the runs fall on both sides of the target.',
  })

  for (const [phase, profile] of Object.entries(r.profiles ?? {})) {
    out.push({
      title: `Hush server CPU profile, ${phase} phase (${profile.file}, ${num(profile.totalMs)} ms of CPU sampled): top self time`,
      headers: ['function', 'location', 'self ms', 'self %'],
      rows: profile.top.map((f) => [f.function, f.location, num(f.selfMs), f.selfPct.toFixed(1)]),
      note: `By area: ${profile.byArea.map((a) => `${a.area} ${a.selfPct}%`).join(', ')}`,
    })
  }
  return out
}

function machineLine(r: Results): string {
  const m = r.machine
  const code = r.code ? `; Hush at commit ${r.code.commit.slice(0, 7)}${r.code.srcDirty ? ' with uncommitted changes in src/' : ''}` : ''
  return `${m.nproc} cores (${m.cpuModel}), ${m.memTotalGiB} GiB RAM, Node ${m.node}, ${m.os}; load average at start ${m.loadavgStart.map((v) => v.toFixed(2)).join(' ')}, at end ${m.loadavgEnd.map((v) => v.toFixed(2)).join(' ')}, open-files limit ${m.openFilesLimit}${code}`
}

const versionsLine = (r: Results) => `Libraries: ${Object.entries(r.versions ?? {})
  .map(([k, v]) => `${k} ${v}`)
  .join(', ')}`

export function renderTerminal(r: Results): string {
  const head = [
    `Hush benchmark (${r.mode} mode, ${r.rounds} run${r.rounds > 1 ? 's' : ''} of each side of every comparison), ${r.startedAt}, ${r.durationS.toFixed(0)} s`,
    `command: ${r.command}`,
    machineLine(r),
    versionsLine(r),
    ...r.notes.map((n) => `note: ${n}`),
  ]
  return [...head, ...tables(r).map(renderText)].join('\n') + '\n'
}

export function renderMarkdown(r: Results): string {
  const lines = [
    '## Performance',
    '',
    '`npm run bench` measures Hush against baselines and against its own alternatives in the same run, on the',
    'same machine, with the same load generator (its own process per server, real graphql-ws over `ws` and',
    'GraphQL over HTTP):',
    '',
    '- **floor**: a bare `ws` server that routes raw JSON frames between the two users of a chat (`bench/floor-server.ts`);',
    '- **peer**: the chat as the GraphQL Yoga docs show it: `createYoga` + in-memory `createPubSub` + graphql-ws',
    '  `useServer` through `yoga.getEnveloped`, a `send(chatId, body)` mutation and a `chat(chatId)` subscription',
    '  (`bench/peer-server.ts`), no auth and no storage; as written there, each `send` reaches both users of the',
    "  chat (the generator ignores the sender's copy), where Hush sends typing to the other user only;",
    '- **Hush** itself (`src/main.ts` as its own process) on DynamoDB Local, with and without Redis;',
    '- **Hush on graphql-ws useServer** and **Hush on Yoga + graphql-jit**: Hush with one of its hand-written',
    '  replacements of a library (the socket core; the lean HTTP path) swapped back for the library',
    '  (`bench/servers/`; see `docs/decisions/`).',
    '',
    'Every ratio is taken from several runs of each side in alternating order (A B B A A B …) and reported as',
    'the median of the per-round ratios with its spread (min–max). All servers and the load generator run as',
    'JavaScript compiled by `tsc` into `bench/.build`, as `npm start` runs Hush, never through tsx (whose',
    'transform gives every closure a property store).',
    '',
    'Commands:',
    '',
    '```sh',
    'npm run bench -- --quick              # a few minutes: 1,000 connections, rates 250…1,000/s, 2 s steps, 1 run of each side (--rounds=3 for alternating runs)',
    'npm run bench                         # full: 3 alternating runs of each side; connections up to 15,000, 8,000 open for rates 500…8,000/s (and past, while held)',
    'npm run bench -- --only=hush,hush-graphql-ws,hush-yoga-jit   # some targets only (also floor, peer, cross)',
    'npm run bench -- --scenarios=memory,connect                  # some scenarios only (also typing-socket, typing-http, messages, send-path, cross-process)',
    'npm run bench -- --write-readme       # also rewrite this section from the run',
    'npm run bench -- --profile            # also CPU-profile the Hush server and list its hottest functions',
    'npm run bench -- --heap               # also heap snapshots before and after each connection step; then',
    'node --import tsx bench/heap-diff.ts bench/results/profile/hush-0.heapsnapshot bench/results/profile/hush-1000.heapsnapshot 1000',
    'npm run bench -- --report             # the last results again, ratios and goals taken again from its runs (add --write-readme to rewrite this section)',
    '```',
    '',
    'Every figure of the last run is in `bench/results/latest.json` (and `bench/results/<mode>.json`).',
    'Hush mutations go over HTTP as an Apollo/urql split link sends them; "socket" rows send them over the',
    'graphql-ws socket instead. Typing events are stamped on send and matched on arrival; messages carry',
    'their send time in the body. Users of the connection test hold minted tokens (no account item);',
    'their chats are created through the API beforehand (not timed).',
    '',
    `Latest figures (${r.mode} mode, \`${r.command}\`, ${r.startedAt}, ${r.durationS.toFixed(0)} s):`,
    `${machineLine(r)}. The load generators, the servers, DynamoDB Local (Java) and Redis share these cores.`,
    `${versionsLine(r)}.`,
    'On a shared 2-core VM single runs vary (steps a few seconds long; other processes): compare the ratios',
    'within one run, with their spread, and look at "other CPU" before trusting a failed step.',
    '',
    ...r.notes.map((n) => `- ${n}`),
    ...(r.notes.length ? [''] : []),
  ]
  return [...lines, ...tables(r).flatMap((t) => [renderMd(t), ''])].join('\n')
}

/** Where the CPU of a reconnect goes, Hush's against DynamoDB Local serving the same reads alone (medians). */
function reconnectCpuNote(c: ConnectResults): string {
  const cpuOf = (target: Target) => c.runs.filter((x) => x.target === target && x.cpu).map((x) => x.cpu!)
  const hush = cpuOf('hush')
  const sdkReads = cpuOf('hush-sdk-reads')
  if (!hush.length || !c.ddb.length) return ''
  const median = (values: number[]) => num(spreadOf(values).median)
  const alone = c.ddb.map((d) => d.result)
  const sdk = (c.ddbSdk ?? []).map((d) => d.result)
  return (
    ` ${DDB_ALONE_LABEL}: per user the requests Hush's store makes for both subscriptions (${alone[0]!.requestsPerConnect} per connect), built before the clock starts, ${CONNECTS_AT_A_TIME} users at a time, through the document client Hush uses (its reads on the lean path)` +
    (sdk.length ? `; ${DDB_ALONE_SDK_LABEL}: the same through the AWS SDK document client those reads replaced.` : '.') +
    ` CPU per connect (µs): through Hush, server ${median(hush.map((x) => x.server))} + DynamoDB Local ${median(hush.map((x) => x.dynamodbLocal))} + load generator ${median(hush.map((x) => x.loadgen))};` +
    ` DynamoDB alone, DynamoDB Local ${median(alone.map((x) => x.cpu.dynamodbLocal))} + load generator ${median(alone.map((x) => x.cpu.loadgen))}` +
    (sdk.length ? `; through the plain AWS SDK, DynamoDB Local ${median(sdk.map((x) => x.cpu.dynamodbLocal))} + load generator ${median(sdk.map((x) => x.cpu.loadgen))}` : '') +
    (sdkReads.length
      ? `; ${labelOf('hush-sdk-reads')}, server ${median(sdkReads.map((x) => x.server))} + DynamoDB Local ${median(sdkReads.map((x) => x.dynamodbLocal))} + load generator ${median(sdkReads.map((x) => x.loadgen))}.`
      : '.')
  )
}
