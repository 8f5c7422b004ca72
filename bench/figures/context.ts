/**
 * What every figure's section gets from the run, and the A B A B loop they
 * share.
 */
import type * as Processes from "../lib/processes.ts"
import type * as Proc from "../lib/proc.ts"
import type * as Summary from "../lib/summary.ts"

/** Run settings and shared processes. */
export interface Context {
  readonly settings: {
    readonly mode: "quick" | "full"
    readonly rounds: number
    readonly warmupMs: number
    readonly measureMs: number
    readonly profile: boolean
    /** Write heap snapshots of the idle-memory servers to bench/results/profiles. */
    readonly heapSnapshots?: boolean | undefined
    /** Only these sides (for profiling one server); all by default. */
    readonly sides?: ReadonlyArray<Summary.Side> | undefined
  }
  readonly client: Processes.Client
  readonly log: (line: string) => void
  /** Whether the figure was selected (`--only`). */
  readonly wanted: (name: string) => boolean
}

/** A window as reported by the load generator (see bench/load.ts). */
export interface Window {
  readonly count: number
  readonly seconds: number
  readonly usage: Proc.Usage
}

/**
 * Runs `measure` for each side in turn, `rounds` times, rotating the order
 * every round (A B C, B C A, C A B, ...), and collects the runs.
 *
 * `prime`: for servers that live through all the rounds, one window per
 * side first, not counted. A window's own warm-up does not bring a fresh
 * server to its steady state: V8 goes on optimizing hot code for several
 * seconds, and a server with more JavaScript on its hot path (ours, plain
 * Effect) takes longer; without it the first window of the run measured
 * the JIT (ours 1.8 ms of CPU per MB in its first window, 1.0 after).
 */
export const alternate = async (
  context: Context,
  name: string,
  sides: ReadonlyArray<Summary.Side>,
  measure: (side: Summary.Side, round: number) => Promise<Omit<Summary.Run, "round" | "server">>,
  options: { readonly prime?: boolean } = {}
): Promise<Array<Summary.Run>> => {
  const runs: Array<Summary.Run> = []
  const only = context.settings.sides
  if (only !== undefined) sides = sides.filter((side) => only.includes(side))
  if (options.prime === true) {
    for (const side of sides) {
      const run = await measure(side, -1)
      context.log(`${name} priming ${side} (not counted): ${formatValue(run.value)}`)
    }
  }
  for (let round = 0; round < context.settings.rounds; round++) {
    for (let i = 0; i < sides.length; i++) {
      const side = sides[(i + round) % sides.length]!
      const run = { round, server: side, ...await measure(side, round) }
      runs.push(run)
      const cpu = run.usage === undefined
        ? ""
        : ` (server ${run.usage.serverCpu.toFixed(2)}, client ${run.usage.clientCpu.toFixed(2)} core, steal ${(run.usage.steal * 100).toFixed(1)}%, other ${run.usage.otherCpu.toFixed(2)})`
      const cost = run.extra?.["cpuUsPerUnit"] === undefined ? "" : `, server CPU ${formatValue(run.extra["cpuUsPerUnit"])} us/unit`
      context.log(`${name} round ${round + 1} ${side}: ${formatValue(run.value)}${cpu}${cost}`)
    }
  }
  return runs
}

/** A number for the console: 4 significant digits, thousands separated. */
export const formatValue = (x: number) =>
  Number.isFinite(x) ? Number(x.toPrecision(4)).toLocaleString("en-US", { maximumFractionDigits: 2 }) : String(x)
