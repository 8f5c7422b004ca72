/**
 * `idle-memory-per-conn-5000`: server RSS per idle connection at 5,000
 * connections, after forced garbage collection, for our echo server, the
 * raw node:net echo and the plain Effect echo. Lower is better; the ratio
 * is ours/raw.
 *
 * Each window starts a fresh server, reads its memory with no connection,
 * at 1,000 and at 5,000 idle connections (each connection has sent one byte
 * and got it back, so the server has fully set it up, then stays silent),
 * and stops the server. Per connection at 5,000 is (RSS at 5,000 - RSS at
 * 0) / 5,000; the marginal cost is (RSS at 5,000 - RSS at 1,000) / 4,000.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import * as Processes from "../lib/processes.ts"
import * as Summary from "../lib/summary.ts"
import { alternate, type Context } from "./context.ts"
import * as Echo from "./echo.ts"

const spec = { name: "idle-memory-per-conn-5000", unit: "bytes/connection", better: "lower" as const, goal: 2.0 }

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Runs the idle memory figure. */
export const run = async (context: Context): Promise<Array<Summary.Figure>> => {
  if (!context.wanted(spec.name)) return []
  const start: Record<Summary.Side, () => Promise<Processes.Server>> = {
    ours: () => Echo.ours(false),
    raw: Echo.raw,
    effect: Echo.effect
  }
  const snapshot = async (server: Processes.Server, side: Summary.Side, round: number, connections: number) => {
    if (context.settings.heapSnapshots !== true || round > 0) return
    const dir = join(Processes.root, "bench/results/profiles")
    mkdirSync(dir, { recursive: true })
    await server.snapshot(join(dir, `idle-${side}-${connections}.heapsnapshot`))
  }
  try {
    const runs = await alternate(context, spec.name, ["ours", "raw", "effect"], async (side, round) => {
      const server = await start[side]()
      try {
        await sleep(300)
        const base = await server.memory()
        await context.client.request({ cmd: "idle-open", port: server.port, total: 1000 }, 60_000)
        await sleep(200)
        const at1000 = await server.memory()
        await snapshot(server, side, round, 1000)
        await context.client.request({ cmd: "idle-open", port: server.port, total: 5000 }, 60_000)
        await sleep(200)
        const at5000 = await server.memory()
        await snapshot(server, side, round, 5000)
        return {
          value: (at5000.rss - base.rss) / 5000,
          extra: {
            rssBase: base.rss,
            rss1000: at1000.rss,
            rss5000: at5000.rss,
            rssPerConn1000: (at1000.rss - base.rss) / 1000,
            rssMarginal: (at5000.rss - at1000.rss) / 4000,
            heapPerConn5000: (at5000.heapUsed - base.heapUsed) / 5000,
            heapMarginal: (at5000.heapUsed - at1000.heapUsed) / 4000
          }
        }
      } finally {
        await context.client.request({ cmd: "idle-close" }, 30_000).catch(() => undefined)
        await server.stop()
      }
    })
    return [Summary.summarize(spec, runs)]
  } catch (error) {
    context.log(`${spec.name}: failed: ${(error as Error).message}`)
    return [Summary.unavailable(spec, `failed: ${(error as Error).message.split("\n")[0]}`)]
  }
}
