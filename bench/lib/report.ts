/** Renders a run's results as terminal tables and as the README "Performance" section. */
import type { ConnectResult, DdbResult, RateResult, SendPathResult } from '../loadgen.js'
import type { ProfileSummary } from './cpuprofile.js'
import type { LatencySummary } from './stats.js'

export interface MemSnapshot {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export interface ConnStep {
  n: number
  connect: ConnectResult
  mem: MemSnapshot
  /** (mem at this step − mem before the first connection) / connections, in KB */
  perConnKB: { rss: number; heap: number; external: number }
  /** (mem at this step − mem at the previous step) / new connections, in KB */
  marginalKB: { rss: number; heap: number }
  /** the server's own CPU while the connections sit idle (cores) */
  idleCores: number
}

export interface RateStep extends RateResult {
  held: boolean
  serverCpuMs: number
  /** server CPU time per sent event (µs) */
  serverCpuUsPerEvent: number
  /** cores' worth of CPU used by processes outside this run during the step */
  foreignCores: number
  /** runs of this step (a failed step is re-run when other processes took the CPU) */
  attempts: number
  /** Redis PUBLISH calls during the step (cross-process test) */
  publishes?: PublishCount
}

export interface TargetResults {
  /** how long the server kept busy after it started (background work), before anything was measured */
  busyAfterStartMs?: number
  baseline?: MemSnapshot
  connections: ConnStep[]
  /** floor and peer: typing and messages are the same event on their side */
  events?: RateStep[]
  /** peer: its send mutation over its graphql-ws socket */
  eventsWs?: RateStep[]
  typing?: RateStep[]
  typingWs?: RateStep[]
  messages?: RateStep[]
  sendPath?: SendPathResult
  error?: string
}

export interface PublishCount {
  events: number
  publishes: number
  perEvent: number
  commandstatsDelta: number
  byKind?: Record<string, number>
}

export interface CrossResults {
  /** how long the three fresh servers kept busy after start, before anything was measured */
  busyAfterStartMs?: number
  pairsPerGroup: number
  rates: number[]
  /** pairs on one process with in-process events (no Redis) */
  inProcess: RateStep[]
  /** pairs on one process with Redis */
  oneProcessRedis: RateStep[]
  /** pairs split across two processes on one Redis */
  twoProcesses: RateStep[]
  messagesTwoProcesses?: RateStep
  publishes: { typing?: PublishCount; typingOneProcess?: PublishCount; messages?: PublishCount }
  error?: string
}

export interface Goal {
  name: string
  goal: string
  measured: string
  met: boolean | null
}

export interface Results {
  mode: 'quick' | 'full'
  startedAt: string
  finishedAt: string
  durationS: number
  machine: {
    nproc: number
    cpuModel: string
    memTotalGiB: number
    node: string
    os: string
    loadavgStart: number[]
    loadavgEnd: number[]
    openFilesLimit: number
  }
  /** the code measured: git commit of the working tree, and whether src/ had uncommitted changes */
  code: { commit: string; srcDirty: boolean }
  command: string
  plan: Record<string, unknown>
  floor?: TargetResults
  peer?: TargetResults
  hush?: TargetResults
  ddb?: DdbResult
  cross?: CrossResults
  /** Hush server CPU profiles by phase (with --profile) */
  profiles?: Record<string, ProfileSummary>
  goals: Goal[]
  notes: string[]
}

// --- formatting ------------------------------------------------------------------------------

export const ms = (v: number | undefined): string =>
  v === undefined || Number.isNaN(v) ? '–' : !Number.isFinite(v) ? '∞' : v >= 100 ? v.toFixed(0) : v.toFixed(1)
export const num = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : Math.round(v).toLocaleString('en-US'))
export const kb = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(1))
export const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '–' : `${(a / b).toFixed(2)}×`

export function highestHeld(steps: RateStep[] | undefined): number | undefined {
  if (!steps || steps.length === 0) return undefined
  const held = steps.filter((s) => s.held).map((s) => s.target)
  return held.length ? Math.max(...held) : 0
}

/** "≥ 2,000" when the highest step tried still held (a lower bound), else the number. */
function heldText(steps: RateStep[] | undefined): string {
  const h = highestHeld(steps)
  if (h === undefined) return '–'
  if (h === 0) return `none (< ${num(Math.min(...steps!.map((s) => s.target)))})`
  const top = Math.max(...steps!.map((s) => s.target))
  return h === top ? `≥ ${num(h)}` : num(h)
}

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

function tables(r: Results): Table[] {
  const out: Table[] = []
  const targets = [
    ['Hush', r.hush],
    ['peer (Yoga)', r.peer],
    ['floor (ws)', r.floor],
  ] as const

  // Connections
  const connRows: string[][] = []
  for (const [name, t] of targets) {
    for (const s of t?.connections ?? []) {
      connRows.push([
        name,
        num(s.n),
        num(s.connect.connectRate),
        ms(s.connect.handshake.p50),
        ms(s.connect.handshake.p99),
        kb(s.perConnKB.rss),
        kb(s.perConnKB.heap),
        kb(s.marginalKB.rss),
        num(s.mem.rss / 2 ** 20),
        Number.isFinite(s.idleCores) ? s.idleCores.toFixed(2) : '–',
        s.connect.failed > 0 ? `${s.connect.failed} failed` : s.connect.chatsSettled < s.connect.chatsTotal ? `${s.connect.chatsTotal - s.connect.chatsSettled} chats unsettled` : 'ok',
      ])
    }
  }
  out.push({
    title: 'Connections: each user holds notifications + one chat subscription (memory after full GC)',
    headers: ['server', 'conns', 'connect/s', 'hs p50 ms', 'hs p99 ms', 'RSS KB/conn', 'heap KB/conn', 'marginal RSS KB', 'RSS MB', 'idle CPU', 'status'],
    rows: connRows,
    note:
      'hs = handshake: socket open → connection_ack (floor: → open). KB/conn = growth since the empty server / connections; marginal = growth since the previous step / new connections. ' +
      'idle CPU = cores the server used while its connections sat idle.' +
      (r.hush?.busyAfterStartMs && r.hush.busyAfterStartMs > 2_000 ? ` The Hush server kept busy for ${(r.hush.busyAfterStartMs / 1000).toFixed(1)} s after it started (background work) before anything was measured.` : ''),
  })

  // Throughput ladders
  const ladderRows: string[][] = []
  const addLadder = (name: string, steps: RateStep[] | undefined) => {
    for (const s of steps ?? []) {
      ladderRows.push([
        name,
        num(s.target),
        num(s.achieved),
        ...lat(s.latency),
        num(s.latency.lost),
        num(s.errors + s.skipped),
        num(s.serverCpuUsPerEvent),
        Number.isFinite(s.foreignCores) ? s.foreignCores.toFixed(2) : '–',
        s.held ? 'yes' : s.drained === false ? 'no (backlog)' : 'no',
      ])
    }
  }
  addLadder('Hush typing (HTTP)', r.hush?.typing)
  addLadder('Hush typing (socket)', r.hush?.typingWs)
  addLadder('Hush messages (HTTP, stored)', r.hush?.messages)
  addLadder('peer send (HTTP)', r.peer?.events)
  addLadder('peer send (socket)', r.peer?.eventsWs)
  addLadder('floor frame', r.floor?.events)
  out.push({
    title: `Live throughput and delivery latency (${num(Number(r.plan.rateConns))} connections open; latency = send issued → recipient's socket)`,
    headers: ['scenario', 'target/s', 'achieved/s', 'p50 ms', 'p99 ms', 'max ms', 'lost', 'err+skip', 'srv CPU µs/ev', 'other CPU', 'held'],
    rows: ladderRows,
    note:
      'held = achieved ≥ 95% of target, p99 ≤ 50 ms, nothing lost, no errors. Lost events (not delivered within the grace period) count as ∞ in the percentiles. ' +
      'err+skip = failed mutations plus sends skipped because 256 were already waiting for an answer. ' +
      'srv CPU = the server process\'s own CPU time per event sent. other CPU = cores used by processes outside this run during the step (a failed step with other CPU > 0.3 is re-run, up to twice).',
  })

  // Highest held and ratios
  const peerHeld = highestHeld(r.peer?.events)
  const floorHeld = highestHeld(r.floor?.events)
  const heldRows: string[][] = []
  const addHeld = (name: string, steps: RateStep[] | undefined) => {
    if (!steps) return
    const h = highestHeld(steps)
    heldRows.push([name, heldText(steps), ratio(h, peerHeld), ratio(h, floorHeld)])
  }
  addHeld('Hush typing (HTTP)', r.hush?.typing)
  addHeld('Hush typing (socket)', r.hush?.typingWs)
  addHeld('Hush messages (stored)', r.hush?.messages)
  addHeld('peer (Yoga + PubSub)', r.peer?.events)
  addHeld('peer, send over its socket', r.peer?.eventsWs)
  addHeld('floor (ws)', r.floor?.events)
  out.push({ title: 'Highest rate held at p99 ≤ 50 ms (events/s)', headers: ['scenario', 'held', '÷ peer', '÷ floor'], rows: heldRows })

  // Send path
  if (r.hush?.sendPath || r.ddb) {
    const sp = r.hush?.sendPath
    const rows: string[][] = []
    if (sp) rows.push(['Hush sendMessage → recipient event', num(sp.concurrency), num(sp.throughput), ...lat(sp.latency), num(sp.errors)])
    if (sp) rows.push(['Hush sendMessage → mutation answer', num(sp.concurrency), '', ...lat(sp.response), ''])
    if (r.ddb) rows.push(['DynamoDB Local TransactWriteItems (same 3 items)', num(r.ddb.concurrency), num(r.ddb.throughput), ...lat(r.ddb.latency), num(r.ddb.errors)])
    out.push({
      title: 'Send path on DynamoDB Local (closed loop, one writer per chat)',
      headers: ['path', 'in flight', 'per s', 'p50 ms', 'p99 ms', 'max ms', 'errors'],
      rows,
      note: [
        sp && r.ddb ? `DynamoDB Local's own throughput / Hush's = ${ratio(r.ddb.throughput, sp.throughput)} (goal ≤ 1.3×)` : undefined,
        sp?.cpuPerWrite && r.ddb?.cpuPerWrite
          ? `CPU per write (the cores are shared, so this is what the ratio comes down to): through Hush, server ${num(sp.cpuPerWrite.server)} µs + ` +
            `DynamoDB Local ${num(sp.cpuPerWrite.dynamodbLocal)} µs + load generator ${num(sp.cpuPerWrite.loadgen)} µs; DynamoDB alone, ` +
            `DynamoDB Local ${num(r.ddb.cpuPerWrite.dynamodbLocal)} µs + load generator (AWS SDK) ${num(r.ddb.cpuPerWrite.loadgen)} µs`
          : undefined,
      ]
        .filter(Boolean)
        .join('\n') || undefined,
    })
  }

  // Cross-process
  if (r.cross) {
    const c = r.cross
    const rows: string[][] = []
    for (const rate of c.rates) {
      const find = (steps: RateStep[]) => steps.find((s) => s.target === rate)
      const one = find(c.inProcess)
      const oneR = find(c.oneProcessRedis)
      const two = find(c.twoProcesses)
      for (const [name, s] of [
        ['1 process, in-process events', one],
        ['1 process + Redis', oneR],
        ['2 processes + Redis (every event crosses)', two],
      ] as const) {
        if (s) rows.push([name, num(rate), num(s.achieved), ...lat(s.latency), num(s.latency.lost + s.errors + s.skipped), Number.isFinite(s.foreignCores) ? s.foreignCores.toFixed(2) : '–'])
      }
      if (one && two) rows.push(['  → p99 added by crossing processes', '', '', '', `${two.latency.p99 >= one.latency.p99 ? '+' : ''}${ms(two.latency.p99 - one.latency.p99)}`, '', '', ''])
    }
    if (c.messagesTwoProcesses) {
      const s = c.messagesTwoProcesses
      rows.push(['2 processes, messages (stored)', num(s.target), num(s.achieved), ...lat(s.latency), num(s.latency.lost + s.errors + s.skipped), s.foreignCores.toFixed(2)])
    }
    const p = c.publishes
    const per = (x: PublishCount | undefined) => (x ? `${x.perEvent.toFixed(2)} (${num(x.publishes)} for ${num(x.events)} events; INFO commandstats delta ${num(x.commandstatsDelta)})` : '–')
    out.push({
      title: `Across processes (typing over the socket; ${num(c.pairsPerGroup)} connected pairs per setup, all setups connected at once${r.mode === 'full' ? '; each setup measured twice, in alternating order, its better step shown' : ''})`,
      headers: ['setup', 'target/s', 'achieved/s', 'p50 ms', 'p99 ms', 'max ms', 'lost+err', 'other CPU'],
      rows,
      note:
        (c.busyAfterStartMs && c.busyAfterStartMs > 2_000 ? `The three fresh servers kept busy for ${(c.busyAfterStartMs / 1000).toFixed(1)} s after start before anything was measured. ` : '') +
        `Redis PUBLISH per typing event: ${per(p.typing)} across two processes, ${per(p.typingOneProcess)} on one. ` +
        (p.messages
          ? `Messages: ${num(p.messages.byKind?.message ?? 0)} PUBLISH of kind message for ${num(p.messages.events)} messages; ` +
            `all PUBLISH by kind: ${Object.entries(p.messages.byKind ?? {})
              .map(([k, v]) => `${k} ${num(v)}`)
              .join(', ')} (a receipt is an event of its own: the recipient's device got the messages; ` +
            `at most one per chat side per 100 ms).`
          : ''),
    })
  }

  // Goals
  out.push({
    title: 'Goals (ratios within this run)',
    headers: ['goal', 'target', 'measured', 'met'],
    rows: r.goals.map((g) => [g.name, g.goal, g.measured, g.met === null ? 'n/a' : g.met ? 'yes' : 'NO']),
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
  return `${m.nproc} cores (${m.cpuModel}), ${m.memTotalGiB} GiB RAM, Node ${m.node}, ${m.os}; load average at start ${m.loadavgStart.map((v) => v.toFixed(2)).join(' ')}, open-files limit ${m.openFilesLimit}${code}`
}

export function renderTerminal(r: Results): string {
  const head = [
    `Hush benchmark (${r.mode} mode), ${r.startedAt}, ${r.durationS.toFixed(0)} s`,
    machineLine(r),
    ...r.notes.map((n) => `note: ${n}`),
  ]
  return [...head, ...tables(r).map(renderText)].join('\n') + '\n'
}

export function renderMarkdown(r: Results): string {
  const lines = [
    '## Performance',
    '',
    '`npm run bench` measures Hush against two baselines in the same run, on the same machine, with the',
    'same load generator (its own process, real graphql-ws over `ws` and GraphQL over HTTP):',
    '',
    '- **floor**: a bare `ws` server that routes raw JSON frames between the two users of a chat (`bench/floor-server.ts`);',
    '- **peer**: the chat as the GraphQL Yoga docs show it: `createYoga` + in-memory `createPubSub` + graphql-ws',
    '  `useServer` through `yoga.getEnveloped`, a `send(chatId, body)` mutation and a `chat(chatId)` subscription',
    '  (`bench/peer-server.ts`), no auth and no storage; as written there, each `send` reaches both users of the',
    '  chat (the generator ignores the sender\'s copy), where Hush sends typing to the other user only;',
    '- **Hush** itself (`src/main.ts` as its own process) on DynamoDB Local, with and without Redis.',
    '',
    'All three servers and the load generator run as JavaScript compiled by `tsc` into `bench/.build`, as',
    '`npm start` runs Hush, never through tsx (whose transform gives every closure a property store).',
    '',
    'Commands:',
    '',
    '```sh',
    'npm run bench -- --quick              # under 2 min: 1,000 connections, rates 500…2,000/s, 2 s steps',
    'npm run bench                         # full: connections up to 15,000, rates 500…8,000/s (and past, while held)',
    'npm run bench -- --write-readme       # also rewrite this section from the run',
    'npm run bench -- --profile            # also CPU-profile the Hush server and list its hottest functions',
    'npm run bench -- --heap               # also heap snapshots before and after each connection step; then',
    'node --import tsx bench/heap-diff.ts bench/results/profile/hush-0.heapsnapshot bench/results/profile/hush-1000.heapsnapshot 1000',
    'npm run bench -- --report             # print the last results again (add --write-readme to rewrite this section)',
    '```',
    '',
    'Every figure of the last run is in `bench/results/latest.json` (and `bench/results/<mode>.json`).',
    'Hush mutations go over HTTP as an Apollo/urql split link sends them; "socket" rows send them over the',
    'graphql-ws socket instead. Typing events are stamped on send and matched on arrival; messages carry',
    'their send time in the body. Users of the connection test hold minted tokens (no account item);',
    'their chats are created through the API beforehand (not timed).',
    '',
    `Latest figures (${r.mode} mode, \`${r.command}\`, ${r.startedAt}, ${r.durationS.toFixed(0)} s):`,
    `${machineLine(r)}. The load generator, the servers, DynamoDB Local (Java) and Redis share these cores.`,
    'On a shared 2-core VM single runs vary (steps a few seconds long; other processes): compare the ratios',
    'within one run, and look at "other CPU" before trusting a failed step.',
    '',
    ...r.notes.map((n) => `- ${n}`),
    ...(r.notes.length ? [''] : []),
  ]
  return [...lines, ...tables(r).flatMap((t) => [renderMd(t), ''])].join('\n')
}
