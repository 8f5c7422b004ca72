/**
 * Compares two V8 heap snapshots of one server (bench/run.ts
 * --heap-snapshots writes them at 1,000 and 5,000 idle connections) and
 * prints what each extra connection costs, by constructor: objects and
 * bytes per connection between the two.
 *
 * Usage: node bench/heap.ts SMALL.heapsnapshot LARGE.heapsnapshot CONNECTIONS [TOP]
 * (CONNECTIONS: how many more connections the second one holds, e.g. 4000).
 */
import { readFileSync } from "node:fs"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)
// Piped into `head`: stop quietly when the reader has gone.
process.stdout.on("error", () => process.exit(0))

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: ReadonlyArray<string>; readonly node_types: ReadonlyArray<unknown> } }
  readonly nodes: ReadonlyArray<number>
  readonly strings: ReadonlyArray<string>
}

const summarize = (file: string) => {
  const data = JSON.parse(readFileSync(file, "utf8")) as Snapshot
  const fields = data.snapshot.meta.node_fields
  const types = data.snapshot.meta.node_types[0] as ReadonlyArray<string>
  const width = fields.length
  const typeAt = fields.indexOf("type")
  const nameAt = fields.indexOf("name")
  const sizeAt = fields.indexOf("self_size")
  const out = new Map<string, { count: number; bytes: number }>()
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt]!] ?? "?"
    // Objects by constructor; strings, code, arrays and the like by kind.
    const key = type === "object" || type === "closure" ? `${type} ${data.strings[data.nodes[i + nameAt]!]}` : `(${type})`
    const entry = out.get(key) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += data.nodes[i + sizeAt]!
    out.set(key, entry)
  }
  return out
}

const [small, large, connectionsArg, topArg] = process.argv.slice(2)
if (small === undefined || large === undefined || connectionsArg === undefined) {
  print("usage: node bench/heap.ts SMALL.heapsnapshot LARGE.heapsnapshot CONNECTIONS [TOP]")
  process.exit(2)
}
const connections = Number(connectionsArg)
const a = summarize(small)
const b = summarize(large)
const rows = [...b].map(([key, { count, bytes }]) => {
  const before = a.get(key) ?? { count: 0, bytes: 0 }
  return { key, objects: (count - before.count) / connections, bytes: (bytes - before.bytes) / connections }
})
const total = rows.reduce((sum, row) => sum + row.bytes, 0)
print(`heap per connection: ${total.toFixed(0)} bytes in ${rows.reduce((n, r) => n + r.objects, 0).toFixed(1)} objects`)
for (const row of rows.sort((x, y) => y.bytes - x.bytes).slice(0, Number(topArg ?? 40))) {
  print(`${row.bytes.toFixed(0).padStart(7)} B  ${row.objects.toFixed(2).padStart(6)} objects  ${row.key}`)
}
