/**
 * Reads a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --profile`)
 * and prints where the time went: the top functions by self time, and self
 * time per package/file, so a hot path can be found without a GUI.
 *
 * Usage: node bench/profile.ts FILE.cpuprofile [TOP] [--from SECONDS]
 * (--from skips the first seconds of the profile: start-up, module loading).
 */
import { readFileSync } from "node:fs"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)
// Piped into `head`: stop quietly when the reader has gone.
process.stdout.on("error", () => process.exit(0))

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const argv = process.argv.slice(2)
const fromIndex = argv.indexOf("--from")
const fromSeconds = fromIndex >= 0 ? Number(argv[fromIndex + 1]) : 0
if (fromIndex >= 0) argv.splice(fromIndex, 2)
const [file, topArg] = argv
if (file === undefined) {
  console.error("usage: node bench/profile.ts FILE.cpuprofile [TOP] [--from SECONDS]")
  process.exit(2)
}
const top = Number(topArg ?? 40)
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const self = new Map<number, number>()
let total = 0
let idle = 0
let elapsed = 0
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  elapsed += dt
  if (elapsed < fromSeconds * 1e6) return
  if (byId.get(id)?.callFrame.functionName === "(idle)") {
    idle += dt
    return
  }
  self.set(id, (self.get(id) ?? 0) + dt)
  total += dt
})

const shortUrl = (url: string) =>
  url
    .replace(/^file:\/\//, "")
    .replace(/.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "")
    .replace(/.*\/packages\//, "packages/")
const where = (frame: CallFrame) => (frame.url === "" ? "(native)" : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`)

const functions = new Map<string, number>()
const files = new Map<string, number>()
for (const [id, time] of self) {
  const frame = byId.get(id)!.callFrame
  const key = `${frame.functionName || "(anonymous)"}  ${where(frame)}`
  functions.set(key, (functions.get(key) ?? 0) + time)
  const group = frame.url === "" ? frame.functionName || "(native)" : shortUrl(frame.url)
  files.set(group, (files.get(group) ?? 0) + time)
}

// Coarse layers, to compare profiles of two builds at a glance.
const layer = (frame: CallFrame): string => {
  const url = frame.url
  if (url === "") {
    if (/^(writeBuffer|writev|writeUtf8String|writeLatin1String|read|readStart|readStop)$/.test(frame.functionName)) return "syscalls (native read/write)"
    if (frame.functionName === "(garbage collector)") return "garbage collector"
    return "other native / program"
  }
  if (url.includes("/packages/core/")) return "framework core"
  if (url.includes("/packages/apps/")) return "apps"
  if (url.includes("platform-node")) return "@effect/platform-node"
  if (/effect\/dist\/(Stream|Channel|Pull|Sink)\.js/.test(url)) return "effect Stream/Channel"
  if (/effect\/dist\/Queue\.js/.test(url)) return "effect Queue"
  if (/effect\/dist\/Metric\.js/.test(url)) return "effect Metric"
  if (url.includes("effect/dist/")) return "effect runtime (fibers, Effect)"
  if (url.startsWith("node:internal/modules") || url.includes("amaro") || url.includes("cjs-module-lexer")) return "module loading"
  if (url.startsWith("node:")) return "node streams/net/timers"
  return "other"
}
const layers = new Map<string, number>()
for (const [id, time] of self) {
  const key = layer(byId.get(id)!.callFrame)
  layers.set(key, (layers.get(key) ?? 0) + time)
}

const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`
print(`busy ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s; percentages are of busy time`)
print("\nself time by layer:")
for (const [key, t] of [...layers].sort((a, b) => b[1] - a[1])) print(`${pct(t)}  ${(t / 1e6).toFixed(2).padStart(6)} s  ${key}`)
print("\nself time by function:")
for (const [key, t] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) print(`${pct(t)}  ${key}`)
print("\nself time by file:")
for (const [key, t] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top)) print(`${pct(t)}  ${key}`)
