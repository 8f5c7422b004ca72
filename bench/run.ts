/**
 * `npm run bench` (full) and `npm run bench -- --quick`: our servers against
 * raw `node:net` servers doing the same job, in one run, alternating.
 *
 * Method (docs/performance.md and /work/shared/BENCHMARKING.md):
 * - Servers run on one core, the load generator (bench/load.ts) on the
 *   other, each a separate process, over 127.0.0.1.
 * - Every figure is measured for each server in turn, round after round,
 *   the order rotating each round (A B C, B C A, ...): what the shared
 *   machine does to one round it does to every server in it. Each window is
 *   warmed up first. The ratio of a round is ours/raw in that round; a
 *   figure reports the median ratio with its min-max and the medians.
 * - Server and client CPU and the machine's steal are sampled at the edges
 *   of every window, to say what limited each figure.
 * - Every loop is bounded in count and time: deadlines on every exchange,
 *   a hard exit timer for the whole run.
 *
 * Options: --quick, --rounds N, --only NAME[,NAME], --warmup-ms MS,
 * --measure-ms MS, --sides ours[,raw,effect] (for profiling), --profile (write CPU profiles of our server to
 * bench/results/profiles; read them with bench/profile.ts), --heap-snapshots
 * (heap snapshots of the idle-memory servers at 1,000 and 5,000
 * connections, same folder; compare them with bench/heap.ts), --no-docs.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Actor from "./figures/actor.ts"
import * as Chat from "./figures/chat.ts"
import * as ChatServers from "./figures/chat-servers.ts"
import * as Echo from "./figures/echo.ts"
import * as Files from "./figures/files.ts"
import * as IdleMemory from "./figures/idle.ts"
import * as Tls from "./figures/tls.ts"
import type { Context } from "./figures/context.ts"
import * as Processes from "./lib/processes.ts"
import * as Proc from "./lib/proc.ts"
import * as Report from "./lib/report.ts"
import type * as Summary from "./lib/summary.ts"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

const quick = flag("--quick")
const only = option("--only")?.split(",").map((s) => s.trim()).filter((s) => s !== "")
const settings = {
  mode: (quick ? "quick" : "full") as "quick" | "full",
  rounds: Number(option("--rounds") ?? (quick ? 2 : 5)),
  warmupMs: Number(option("--warmup-ms") ?? (quick ? 500 : 1500)),
  measureMs: Number(option("--measure-ms") ?? (quick ? 1500 : 4000)),
  profile: flag("--profile"),
  heapSnapshots: flag("--heap-snapshots"),
  sides: option("--sides")?.split(",") as ReadonlyArray<Summary.Side> | undefined
}

// The whole run is bounded: past this, every child is killed and the run fails.
const hardLimitMs = (quick ? 170 : 1500) * 1000 *
  Math.max(1, settings.rounds / (quick ? 2 : 5)) *
  Math.max(1, (settings.warmupMs + settings.measureMs) / (quick ? 2000 : 5500))
const hardTimer = setTimeout(() => {
  console.error(`bench: hard time limit of ${hardLimitMs / 1000} s reached; stopping`)
  Processes.killAll()
  process.exit(1)
}, hardLimitMs)
hardTimer.unref()
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    Processes.killAll()
    process.exit(130)
  })
}

const started = performance.now()
const log = (line: string) => print(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`)

const machine = {
  ...Proc.describeMachine(),
  effect: (JSON.parse(readFileSync(join(Processes.root, "packages/apps/node_modules/effect/package.json"), "utf8")) as {
    version: string
  }).version,
  pinned: Processes.pinning(Proc.describeMachine().cpus)
    ? `servers on cpu ${Processes.serverCore}, load generator on cpu ${Processes.clientCore} (taskset)`
    : "not pinned (taskset missing or a single CPU)"
}
if (!Processes.pinning(machine.cpus)) Processes.disablePinning()

const wanted = (name: string) => only === undefined || only.some((o) => name.startsWith(o))

const main = async () => {
  log(`${settings.mode} run: ${settings.rounds} rounds, windows of ${settings.warmupMs} ms warm-up + ${settings.measureMs} ms`)
  log(`machine: ${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}, effect ${machine.effect}; ${machine.pinned}; load average ${machine.loadAverage.join(" ")}`)
  const client = Processes.startClient()
  const context: Context = { settings, client, log, wanted }
  const figures: Array<Summary.Figure> = []
  try {
    for (const section of [Echo.run, Tls.run, IdleMemory.run, Chat.run, ChatServers.run, Files.run, Actor.run]) {
      figures.push(...await section(context))
    }
  } finally {
    await client.stop()
  }
  const durationSeconds = Math.round((performance.now() - started) / 100) / 10
  const result: Report.Results = {
    machine: { ...machine, loadAverageAfter: Proc.describeMachine().loadAverage },
    settings: { ...settings, durationSeconds, date: new Date().toISOString() },
    figures
  }
  const dir = join(Processes.root, "bench/results")
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "latest.json"), `${JSON.stringify(result, null, 2)}\n`)
  // The docs show the last full run with every figure; a quick run or a
  // partial one only updates latest.json.
  if (!quick && only === undefined && settings.rounds >= 3 && !flag("--no-docs")) {
    writeFileSync(join(dir, "full.json"), `${JSON.stringify(result, null, 2)}\n`)
    Report.writeDocs(result)
    log("updated docs/performance.md and docs/performance-ratios.svg")
  }
  print("")
  print(Report.table(result))
  print("")
  print(`bench: ${settings.mode} run took ${durationSeconds} s; results in bench/results/latest.json`)
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench: ${(error as Error)?.stack ?? String(error)}`)
    Processes.killAll()
    process.exit(1)
  }
)
