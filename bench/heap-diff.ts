/**
 * `node --import tsx bench/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [connections]`
 *
 * What grew between two heap snapshots (as `npm run bench -- --heap` writes them), by object
 * kind: V8's node type and constructor or closure name, with bytes per connection when their
 * number is given. Shallow sizes only: it answers "which objects are there per connection", the
 * question a memory-per-connection figure raises.
 */
import { readFile } from 'node:fs/promises'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

async function totals(file: string): Promise<Map<string, { bytes: number; count: number }>> {
  const snapshot = JSON.parse(await readFile(file, 'utf8')) as Snapshot
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const stride = fields.length
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number]
  const byKind = new Map<string, { bytes: number; count: number }>()
  const { nodes, strings } = snapshot
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + typeAt]!]!
    let name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '' : strings[nodes[i + nameAt]!]!
    if (name.length > 60) name = `${name.slice(0, 57)}...`
    const key = `${type} ${name}`
    const entry = byKind.get(key) ?? { bytes: 0, count: 0 }
    entry.bytes += nodes[i + sizeAt]!
    entry.count++
    byKind.set(key, entry)
  }
  return byKind
}

const [beforeFile, afterFile, connArg] = process.argv.slice(2)
if (!beforeFile || !afterFile) {
  console.error('usage: node --import tsx bench/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [connections]')
  process.exit(2)
}
const per = Number(connArg ?? 1) || 1
const [before, after] = await Promise.all([totals(beforeFile), totals(afterFile)])
const rows = [...after].map(([kind, a]) => {
  const b = before.get(kind) ?? { bytes: 0, count: 0 }
  return { kind, bytes: (a.bytes - b.bytes) / per, count: (a.count - b.count) / per }
})
rows.sort((x, y) => y.bytes - x.bytes)
const total = rows.reduce((sum, row) => sum + row.bytes, 0)
console.log(`grown: ${(total / 1024).toFixed(2)} KB${per > 1 ? ' per connection' : ''}`)
console.log('bytes'.padStart(9), 'objects'.padStart(8), ' kind')
for (const row of rows.slice(0, Number(process.env.TOP ?? 40))) {
  console.log(row.bytes.toFixed(0).padStart(9), row.count.toFixed(2).padStart(8), '', row.kind)
}
