/**
 * Echo figures: `echo-stream-c1`, `echo-stream-c100` (MB/s of 64 KiB writes
 * echoed back, 1 and 100 connections) and `echo-rr-c50` (round trips per
 * second of 32-byte messages, 50 connections, one in flight each).
 *
 * Three servers doing the same job, each started once for the section:
 * - ours: the real CLI, `socket-to-me echo serve` (what users run);
 * - raw: `node:net` piping each socket into itself (servers/raw-echo.ts);
 * - effect: a plain Effect `NodeSocketServer` piping each socket into
 *   itself, no framework (servers/effect-echo.ts).
 */
import * as Processes from "../lib/processes.ts"
import * as Summary from "../lib/summary.ts"
import { alternate, type Context, type Window } from "./context.ts"

/** Our echo server as users start it, with the connection limit raised for the memory figure. */
export const ours = (profile: boolean) =>
  Processes.startServer(
    "ours",
    "packages/apps/src/bin.ts",
    ["echo", "serve", "--port", "0", "--max-connections", "10000"],
    { nodeFlags: profile ? ["--cpu-prof", "--cpu-prof-dir", "bench/results/profiles"] : [] }
  )

/** The raw node:net echo. */
export const raw = () => Processes.startServer("raw", "bench/servers/raw-echo.ts", ["0"])

/** The plain Effect SocketServer echo. */
export const effect = () => Processes.startServer("effect", "bench/servers/effect-echo.ts", ["0"])

const MB = 1e6

const specs = [
  {
    name: "echo-stream-c1",
    unit: "MB/s",
    better: "higher" as const,
    goal: 0.9,
    command: { cmd: "stream", connections: 1, chunkBytes: 64 * 1024 },
    scale: 1 / MB
  },
  {
    name: "echo-stream-c100",
    unit: "MB/s",
    better: "higher" as const,
    goal: 0.9,
    command: { cmd: "stream", connections: 100, chunkBytes: 64 * 1024 },
    scale: 1 / MB
  },
  {
    name: "echo-rr-c50",
    unit: "round trips/s",
    better: "higher" as const,
    goal: 0.85,
    command: { cmd: "rr", connections: 50, messageBytes: 32 },
    scale: 1
  }
]

/** Runs the echo figures. */
export const run = async (context: Context): Promise<Array<Summary.Figure>> => {
  const selected = specs.filter((spec) => context.wanted(spec.name))
  if (selected.length === 0) return []
  const servers = {
    ours: await ours(context.settings.profile),
    raw: await raw(),
    effect: await effect()
  }
  const figures: Array<Summary.Figure> = []
  try {
    for (const spec of selected) {
      try {
        const runs = await alternate(context, spec.name, ["ours", "raw", "effect"], async (side) => {
          const server = servers[side]
          const window = await context.client.request<Window>({
            ...spec.command,
            port: server.port,
            serverPid: server.pid,
            warmupMs: context.settings.warmupMs,
            measureMs: context.settings.measureMs
          }, context.settings.warmupMs + context.settings.measureMs + 30_000)
          const value = (window.count / window.seconds) * spec.scale
          // Server CPU per unit (round trip, MB): on a shared machine a
          // steadier measure of cost than throughput, which also moves with
          // what the neighbours do.
          const cpuUsPerUnit = (window.usage.serverCpu * 1e6) / value
          return { value, seconds: window.seconds, usage: window.usage, extra: { cpuUsPerUnit } }
        }, { prime: spec === selected[0] }) // the servers serve every echo figure: primed once
        figures.push(Summary.summarize(spec, runs))
      } catch (error) {
        context.log(`${spec.name}: failed: ${(error as Error).message}`)
        figures.push(Summary.unavailable(spec, `failed: ${(error as Error).message.split("\n")[0]}`))
      }
    }
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()))
  }
  return figures
}
