/**
 * `chat-fanout-2-servers`: room messages delivered per second with 100
 * clients in one room split over two chat servers sharing the chat through
 * one Redis (`chat serve --redis`), against the same load on one chat
 * server (no Redis), in the same run. "ours" is the pair, "raw" here is the
 * single server: the ratio is what sharing a chat through Redis costs (or
 * gains) on the same hardware.
 *
 * Both sides run on the server core (the two chat servers and redis-server
 * share it), the load generator on the other: a two-core machine cannot
 * give the second server a core of its own, so this measures the cost of
 * the link, not the capacity of more machines. Each message is delivered
 * once per other client (99 per message), as in `chat-fanout-c100`; the
 * load generator keeps at most 128 messages on their way to any client, so
 * no client is cut off as slow. Needs redis-server; without it the figure
 * is reported unavailable.
 *
 * The goal, half of one server: on one shared core every message passes
 * through two event loops and Redis, and each hop wakes another process on
 * that core; Redis itself takes about 3% of the side's CPU (`redisCpuShare`,
 * warm-up included), so the rest is the two servers' own work and the
 * switches between them. `--profile` writes the three servers' profiles.
 */
import * as Proc from "../lib/proc.ts"
import * as Processes from "../lib/processes.ts"
import * as Summary from "../lib/summary.ts"
import { alternate, type Context, type Window } from "./context.ts"

const spec = { name: "chat-fanout-2-servers", unit: "messages/s", better: "higher" as const, goal: 0.5 }

const chatArgs = ["chat", "serve", "--port", "0", "--rate-limit", "0", "--max-connections", "10000"]

/** Runs the two-server chat figure. */
export const run = async (context: Context): Promise<Array<Summary.Figure>> => {
  if (!context.wanted(spec.name)) return []
  if (!Processes.hasRedis()) {
    context.log(`${spec.name}: redis-server is not installed; skipped`)
    return [Summary.unavailable(spec, "needs redis-server (apt-get install redis-server)")]
  }
  const stops: Array<() => Promise<void>> = []
  try {
    const redis = await Processes.startRedis()
    stops.push(redis.stop)
    const profile = context.settings.profile ? ["--cpu-prof", "--cpu-prof-dir", "bench/results/profiles"] : []
    const start = async (name: string, args: ReadonlyArray<string>) => {
      const server = await Processes.startServer(name, "packages/apps/src/bin.ts", args, { nodeFlags: profile })
      stops.unshift(server.stop)
      return server
    }
    const one = await start("one", chatArgs)
    const pair = [
      await start("pair-0", [...chatArgs, "--redis", redis.url]),
      await start("pair-1", [...chatArgs, "--redis", redis.url])
    ]
    const runs = await alternate(context, spec.name, ["ours", "raw"], async (side) => {
      const ports = side === "ours" ? pair.map((server) => server.port) : [one.port]
      const serverPids = side === "ours" ? [...pair.map((server) => server.pid), redis.pid] : [one.pid]
      const before = serverPids.map((pid) => Proc.processTicks(pid) ?? Number.NaN)
      const window = await context.client.request<Window>({
        cmd: "chat",
        port: ports[0],
        serverPid: serverPids[0],
        ports,
        serverPids,
        clients: 100,
        window: 128,
        warmupMs: context.settings.warmupMs,
        measureMs: context.settings.measureMs
      }, context.settings.warmupMs + context.settings.measureMs + 60_000)
      const value = window.count / window.seconds
      // Redis's share of the server side's CPU (warm-up included), to say where the link's cost goes.
      const spent = serverPids.map((pid, i) => (Proc.processTicks(pid) ?? Number.NaN) - before[i]!)
      const redisShare = side === "ours" ? spent[2]! / spent.reduce((a, b) => a + b, 0) : Number.NaN
      return {
        value,
        seconds: window.seconds,
        usage: window.usage,
        extra: { cpuUsPerUnit: (window.usage.serverCpu * 1e6) / value, ...(side === "ours" ? { redisCpuShare: redisShare } : {}) }
      }
    }, { prime: true })
    return [{ ...Summary.summarize(spec, runs), reference: "one chat server, no Redis" }]
  } catch (error) {
    context.log(`${spec.name}: failed: ${(error as Error).message}`)
    return [Summary.unavailable(spec, `failed: ${(error as Error).message.split("\n")[0]}`)]
  } finally {
    for (const stop of stops) await stop()
  }
}
