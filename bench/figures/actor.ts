/**
 * `actor-ask`: asks per second through `Actor.ask`, one asker with one ask
 * in flight, against the same round trip built from bare Effect primitives
 * (a fiber taking `{ reply }` from a bounded `Queue` and completing the
 * `Deferred`): what an actor adds over the least an ask must do. No
 * sockets; both loops run in one worker process on the servers' core
 * (servers/actor-ask.ts), the figure's "raw" side being the bare round trip.
 * Per ask in us is 10^6 / the figure.
 */
import * as Processes from "../lib/processes.ts"
import * as Summary from "../lib/summary.ts"
import { alternate, type Context, type Window } from "./context.ts"

const spec = { name: "actor-ask", unit: "asks/s", better: "higher" as const, goal: 0.5 }

/** Runs the actor figure. */
export const run = async (context: Context): Promise<Array<Summary.Figure>> => {
  if (!context.wanted(spec.name)) return []
  const worker = Processes.startWorker("actor-ask worker", Processes.serverCore, "./bench/servers/actor-ask.ts", {
    nodeFlags: context.settings.profile ? ["--cpu-prof", "--cpu-prof-dir", "bench/results/profiles"] : []
  })
  try {
    const runs = await alternate(context, spec.name, ["ours", "raw"], async (side) => {
      const window = await worker.request<Window>({
        cmd: "window",
        side,
        warmupMs: context.settings.warmupMs,
        measureMs: context.settings.measureMs
      }, context.settings.warmupMs + context.settings.measureMs + 30_000)
      const value = window.count / window.seconds
      return {
        value,
        seconds: window.seconds,
        usage: window.usage,
        extra: { usPerAsk: 1e6 / value, cpuUsPerUnit: (window.usage.serverCpu * 1e6) / value }
      }
    }, { prime: true }) // one worker for every round: its JIT warms up once
    return [Summary.summarize(spec, runs)]
  } catch (error) {
    context.log(`${spec.name}: failed: ${(error as Error).message}`)
    return [Summary.unavailable(spec, `failed: ${(error as Error).message.split("\n")[0]}`)]
  } finally {
    await worker.stop()
  }
}
