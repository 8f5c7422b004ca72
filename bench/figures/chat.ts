/**
 * `chat-fanout-c100`: room messages delivered per second with 100 clients
 * in one room, every client sending in turn, each message delivered to the
 * 99 others.
 *
 * - ours: the real CLI, `socket-to-me chat serve`, with flood control off
 *   (`--rate-limit 0`): at its default of 20 lines per second per client
 *   the figure would measure the rate limit, not the server.
 * - raw: a node:net relay that batches writes per client per event-loop
 *   turn (servers/raw-chat.ts).
 *
 * The load generator keeps at most 128 messages on their way to any one
 * client (half of ours' 256-line outbox), so no client is cut off as slow.
 */
import * as Processes from "../lib/processes.ts"
import * as Summary from "../lib/summary.ts"
import { alternate, type Context, type Window } from "./context.ts"

const spec = { name: "chat-fanout-c100", unit: "messages/s", better: "higher" as const, goal: 0.8 }

/** Runs the chat figure. */
export const run = async (context: Context): Promise<Array<Summary.Figure>> => {
  if (!context.wanted(spec.name)) return []
  let servers: Record<"ours" | "raw", Processes.Server> | undefined
  try {
    servers = {
      ours: await Processes.startServer(
        "ours",
        "packages/apps/src/bin.ts",
        ["chat", "serve", "--port", "0", "--rate-limit", "0", "--max-connections", "10000"],
        { nodeFlags: context.settings.profile ? ["--cpu-prof", "--cpu-prof-dir", "bench/results/profiles"] : [] }
      ),
      raw: await Processes.startServer("raw", "bench/servers/raw-chat.ts", ["0"])
    }
    const started = servers
    const runs = await alternate(context, spec.name, ["ours", "raw"], async (side) => {
      const server = started[side as "ours" | "raw"]
      const window = await context.client.request<Window>({
        cmd: "chat",
        port: server.port,
        serverPid: server.pid,
        clients: 100,
        window: 128,
        warmupMs: context.settings.warmupMs,
        measureMs: context.settings.measureMs
      }, context.settings.warmupMs + context.settings.measureMs + 60_000)
      const value = window.count / window.seconds
      return { value, seconds: window.seconds, usage: window.usage, extra: { cpuUsPerUnit: (window.usage.serverCpu * 1e6) / value } }
    }, { prime: true })
    return [Summary.summarize(spec, runs)]
  } catch (error) {
    context.log(`${spec.name}: failed: ${(error as Error).message}`)
    return [Summary.unavailable(spec, `failed: ${(error as Error).message.split("\n")[0]}`)]
  } finally {
    if (servers !== undefined) await Promise.all(Object.values(servers).map((server) => server.stop()))
  }
}
