/** Top self-time functions of a V8 .cpuprofile (as written by `node --cpu-prof`). */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { ROOT } from './procs.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface HotFunction {
  function: string
  location: string
  selfMs: number
  selfPct: number
}

export interface ProfileSummary {
  file: string
  totalMs: number
  top: HotFunction[]
  /** self time by area: Hush's src/, graphql, yoga/envelop, ws, aws-sdk, … */
  byArea: Array<{ area: string; selfPct: number }>
}

function areaOf(url: string, name: string): string {
  if (!url) return name === '(garbage collector)' ? 'GC' : name === '(idle)' || name === '(program)' ? name : 'native/other'
  if (url.includes(`${ROOT}/src/`) || url.includes(`${ROOT}/bench/.build/src/`)) return 'hush src/'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) {
    const pkg = m[1]!
    if (pkg.startsWith('@aws-sdk') || pkg.startsWith('@smithy')) return 'aws-sdk'
    if (pkg.startsWith('@envelop') || pkg.startsWith('@graphql-yoga') || pkg === 'graphql-yoga' || pkg.startsWith('@whatwg-node')) return 'yoga/envelop/whatwg-node'
    return pkg
  }
  if (url.startsWith('node:')) return 'node core'
  return 'other'
}

export async function summarizeProfile(file: string, topN = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const byFunction = new Map<string, HotFunction & { us: number }>()
  const byArea = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0
    if (us === 0) continue
    const { functionName, url, lineNumber } = node.callFrame
    const area = areaOf(url, functionName)
    if (functionName === '(idle)') continue
    total += us
    byArea.set(area, (byArea.get(area) ?? 0) + us)
    const location = url ? `${path.relative(ROOT, url.replace(/^file:\/\//, ''))}:${lineNumber + 1}` : ''
    const key = `${functionName}@${location}`
    const entry = byFunction.get(key) ?? { function: functionName || '(anonymous)', location, selfMs: 0, selfPct: 0, us: 0 }
    entry.us += us
    byFunction.set(key, entry)
  }
  const top = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map(({ us, ...rest }) => ({ ...rest, selfMs: Math.round(us / 1000), selfPct: Math.round((us / total) * 1000) / 10 }))
  return {
    file: path.relative(ROOT, file),
    totalMs: Math.round(total / 1000),
    top,
    byArea: [...byArea.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([area, us]) => ({ area, selfPct: Math.round((us / total) * 1000) / 10 })),
  }
}
