/**
 * From measured windows to figures: medians, ranges, the pairwise ratio of
 * ours to the raw reference in the same round, and what limited each side.
 */
import type * as Proc from "./proc.ts"

/** Which servers a figure compares: ours, the raw node:net reference, and for echo plain Effect. */
export type Side = "ours" | "raw" | "effect"

/** One measured window. */
export interface Run {
  readonly round: number
  readonly server: Side
  readonly value: number
  readonly seconds?: number | undefined
  readonly usage?: Proc.Usage | undefined
  readonly extra?: Record<string, number> | undefined
}

/** A range, as [min, max]. */
export type Range = readonly [number, number]

/** Whether a figure's ratio is good when high (throughput) or low (memory). */
export type Better = "higher" | "lower"

/** A figure as published in latest.json. */
export interface Figure {
  readonly name: string
  readonly unit: string
  readonly better: Better
  /** Median of our server's windows. */
  readonly ours: number | null
  /** Median of the raw node:net reference's windows. */
  readonly raw: number | null
  /** Median of the pairwise ratios ours/raw (same round). */
  readonly ratio: number | null
  /** Plain Effect SocketServer reference (echo figures): median, and median of effect/raw. */
  readonly effect?: number | null | undefined
  readonly effectRatio?: number | null | undefined
  readonly range?: Partial<Record<"ours" | "raw" | "ratio" | "effect" | "effectRatio", Range>> | undefined
  readonly goal: { readonly ratio: number; readonly met: boolean | null }
  /** Median CPU (cores) of server and load generator, steal and other load, per side. */
  readonly limits?: Partial<Record<Side, Proc.Usage>> | undefined
  /** Figure-specific medians (marginal memory, peak RSS...). */
  readonly extra?: Record<string, number> | undefined
  readonly runs: ReadonlyArray<Run>
  /** Why the figure could not be measured. */
  readonly unavailable?: string | undefined
  /** What "raw" is when it is not a raw node:net server (e.g. one chat server against two). */
  readonly reference?: string | undefined
}

/** The median (mean of the middle two for an even count). */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const range = (values: ReadonlyArray<number>): Range | undefined => {
  const finite = values.filter((x) => Number.isFinite(x))
  return finite.length === 0 ? undefined : [Math.min(...finite), Math.max(...finite)]
}

const significant = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(4)) : null)

const ratiosOf = (runs: ReadonlyArray<Run>, side: Side) => {
  const out: Array<number> = []
  for (const run of runs) {
    if (run.server !== side) continue
    const raw = runs.find((r) => r.server === "raw" && r.round === run.round)
    if (raw !== undefined && raw.value > 0) out.push(run.value / raw.value)
  }
  return out
}

const usageOf = (runs: ReadonlyArray<Run>): Proc.Usage | undefined => {
  const usages = runs.flatMap((run) => (run.usage === undefined ? [] : [run.usage]))
  if (usages.length === 0) return undefined
  const m = (key: keyof Proc.Usage) => Math.round(median(usages.map((u) => u[key])) * 1000) / 1000
  return { serverCpu: m("serverCpu"), clientCpu: m("clientCpu"), steal: m("steal"), otherCpu: m("otherCpu") }
}

/** Summarizes the runs of one figure. */
export const summarize = (
  spec: { readonly name: string; readonly unit: string; readonly better: Better; readonly goal: number },
  runs: ReadonlyArray<Run>,
  extra?: Record<string, number>
): Figure => {
  const values = (side: Side) => runs.filter((run) => run.server === side).map((run) => run.value)
  const ratios = ratiosOf(runs, "ours")
  const ratio = median(ratios)
  const hasEffect = runs.some((run) => run.server === "effect")
  const effectRatios = ratiosOf(runs, "effect")
  const rangeOf: NonNullable<Figure["range"]> = {}
  const set = (key: keyof NonNullable<Figure["range"]>, xs: ReadonlyArray<number>) => {
    const r = range(xs)
    if (r !== undefined) (rangeOf as Record<string, Range>)[key] = [significant(r[0])!, significant(r[1])!]
  }
  set("ours", values("ours"))
  set("raw", values("raw"))
  set("ratio", ratios)
  if (hasEffect) {
    set("effect", values("effect"))
    set("effectRatio", effectRatios)
  }
  // Figure-specific measures of each run, as medians per side.
  const medians: Record<string, number> = {}
  const keys = new Set(runs.flatMap((run) => Object.keys(run.extra ?? {})))
  for (const side of ["ours", "raw", "effect"] as const) {
    for (const key of keys) {
      const m = median(runs.filter((run) => run.server === side).map((run) => run.extra?.[key] ?? Number.NaN))
      if (Number.isFinite(m)) medians[`${side}.${key}`] = significant(m)!
    }
  }
  const allExtra = { ...medians, ...extra }
  const limits: Partial<Record<Side, Proc.Usage>> = {}
  for (const side of ["ours", "raw", "effect"] as const) {
    const u = usageOf(runs.filter((run) => run.server === side))
    if (u !== undefined) limits[side] = u
  }
  return {
    name: spec.name,
    unit: spec.unit,
    better: spec.better,
    ours: significant(median(values("ours"))),
    raw: significant(median(values("raw"))),
    ratio: significant(ratio),
    ...(hasEffect ? { effect: significant(median(values("effect"))), effectRatio: significant(median(effectRatios)) } : {}),
    range: rangeOf,
    goal: {
      ratio: spec.goal,
      met: Number.isFinite(ratio) ? (spec.better === "higher" ? ratio >= spec.goal : ratio <= spec.goal) : null
    },
    limits,
    ...(Object.keys(allExtra).length === 0 ? {} : { extra: allExtra }),
    runs
  }
}

/** A figure that could not be measured, and why. */
export const unavailable = (
  spec: { readonly name: string; readonly unit: string; readonly better: Better; readonly goal: number },
  reason: string,
  runs: ReadonlyArray<Run> = []
): Figure => ({
  name: spec.name,
  unit: spec.unit,
  better: spec.better,
  ours: null,
  raw: null,
  ratio: null,
  goal: { ratio: spec.goal, met: null },
  runs,
  unavailable: reason
})

/**
 * What limited a figure, from its CPU samples: a side whose server used
 * most of a core was CPU-bound; a busy load generator bounds everyone; other
 * load or steal on a shared machine means the figure is noisy.
 */
export const limitedBy = (figure: Figure): string => {
  if (figure.unavailable !== undefined) return "unavailable"
  if (figure.limits === undefined || Object.keys(figure.limits).length === 0) return "memory after forced GC; no CPU limit"
  const notes: Array<string> = []
  const ours = figure.limits?.ours
  const raw = figure.limits?.raw
  if (ours !== undefined) notes.push(ours.serverCpu >= 0.85 ? "ours: server CPU" : `ours: server at ${ours.serverCpu.toFixed(2)} core`)
  if (raw !== undefined) {
    notes.push(
      raw.clientCpu >= 0.85
        ? "raw: load generator CPU"
        : raw.serverCpu >= 0.85
        ? "raw: server CPU"
        : `raw: server at ${raw.serverCpu.toFixed(2)}, client at ${raw.clientCpu.toFixed(2)} core`
    )
  }
  const noise = Math.max(ours?.otherCpu ?? 0, raw?.otherCpu ?? 0)
  const steal = Math.max(ours?.steal ?? 0, raw?.steal ?? 0)
  if (noise >= 0.2) notes.push(`other load ${noise.toFixed(2)} core`)
  if (steal >= 0.02) notes.push(`steal ${(steal * 100).toFixed(0)}%`)
  return notes.join("; ")
}
