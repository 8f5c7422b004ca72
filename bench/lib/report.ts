/**
 * Publishing a run: the console table, the chart of ratios (an SVG drawn
 * here, no dependency) and the generated part of docs/performance.md.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { root } from "./processes.ts"
import * as Summary from "./summary.ts"

/** The content of bench/results/latest.json. */
export interface Results {
  readonly machine: Record<string, unknown> & {
    readonly cpuModel: string
    readonly cpus: number
    readonly node: string
    readonly effect: string
    readonly kernel: string
    readonly pinned: string
    readonly loadAverage: ReadonlyArray<number>
    readonly memoryBytes: number
  }
  readonly settings: {
    readonly mode: string
    readonly rounds: number
    readonly warmupMs: number
    readonly measureMs: number
    readonly durationSeconds: number
    readonly date: string
  }
  readonly figures: ReadonlyArray<Summary.Figure>
}

const num = (x: number | null | undefined) => {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-"
  const abs = Math.abs(x)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2
  return x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 })
}

const ratio = (x: number | null | undefined) => (x === null || x === undefined ? "-" : x.toFixed(2))

const span = (r: Summary.Range | undefined, format: (x: number) => string) =>
  r === undefined ? "" : ` (${format(r[0])}-${format(r[1])})`

const goalText = (figure: Summary.Figure) =>
  `${figure.better === "higher" ? ">=" : "<="} ${figure.goal.ratio.toFixed(2)} ${
    figure.goal.met === null ? "" : figure.goal.met ? "met" : "not met"
  }`.trim()

interface Row {
  readonly figure: string
  readonly unit: string
  readonly ours: string
  readonly raw: string
  readonly ratio: string
  readonly goal: string
  readonly effect: string
  readonly limited: string
}

const rows = (results: Results): Array<Row> =>
  results.figures.map((f) =>
    f.unavailable !== undefined
      ? { figure: f.name, unit: f.unit, ours: "unavailable", raw: "", ratio: "", goal: goalText(f), effect: "", limited: f.unavailable }
      : {
        figure: f.name,
        unit: f.unit,
        ours: `${num(f.ours)}${span(f.range?.ours, num)}`,
        raw: `${f.reference === undefined ? "" : `${f.reference}: `}${num(f.raw)}${span(f.range?.raw, num)}`,
        ratio: `${ratio(f.ratio)}${span(f.range?.ratio, ratio)}`,
        goal: goalText(f),
        effect: f.effectRatio === undefined ? "" : `${ratio(f.effectRatio)}${span(f.range?.effectRatio, ratio)}`,
        limited: Summary.limitedBy(f)
      }
  )

const headers: Row = {
  figure: "figure",
  unit: "unit",
  ours: "ours median (min-max)",
  raw: "raw node:net median (min-max)",
  ratio: "ours/raw (min-max)",
  goal: "goal",
  effect: "plain Effect/raw",
  limited: "what limited it"
}

/** The table printed at the end of a run. */
export const table = (results: Results): string => {
  const all = [headers, ...rows(results)]
  const keys = Object.keys(headers) as Array<keyof Row>
  const widths = keys.map((k) => Math.max(...all.map((r) => r[k].length)))
  const line = (r: Row) => keys.map((k, i) => (k === "limited" ? r[k] : r[k].padEnd(widths[i]!))).join("  ")
  return [line(all[0]!), keys.map((_, i) => "-".repeat(widths[i]!)).join("  "), ...all.slice(1).map(line)].join("\n")
}

/** The same table in Markdown. */
export const markdownTable = (results: Results): string => {
  const keys = Object.keys(headers) as Array<keyof Row>
  const line = (r: Row) => `| ${keys.map((k) => r[k].replace(/\|/g, "/")).join(" | ")} |`
  return [line(headers), `|${keys.map(() => "---").join("|")}|`, ...rows(results).map(line)].join("\n")
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/**
 * Horizontal bars of ours/raw per figure (and plain Effect/raw where it was
 * measured), with min-max whiskers, the goal as a tick and parity as a line.
 */
export const chart = (results: Results): string => {
  const figures = results.figures
  const left = 230
  const width = 760
  const plot = width - left - 40
  const rowHeight = 46
  const top = 50
  const height = top + figures.length * rowHeight + 50
  const values = figures.flatMap((f) => [f.ratio ?? 0, f.range?.ratio?.[1] ?? 0, f.effectRatio ?? 0, f.range?.effectRatio?.[1] ?? 0, f.goal.ratio])
  // Up to 2.5: a far larger ratio (idle memory) would squeeze every other
  // bar; its bar runs to the edge and its label gives the value.
  const max = Math.min(2.5, Math.max(1.25, Math.ceil(Math.max(...values) * 4) / 4))
  const x = (v: number) => left + (Math.max(0, Math.min(v, max)) / max) * plot
  const parts: Array<string> = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`)
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`)
  parts.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">Ours / raw node:net, same run (median, min-max)</text>`)
  parts.push(`<text x="${left}" y="36" fill="#555">${escape(`${results.machine.cpus} x ${results.machine.cpuModel}, Node ${results.machine.node}, effect ${results.machine.effect}, ${results.settings.date.slice(0, 10)}`)}</text>`)
  for (let t = 0; t <= max + 1e-9; t += max > 2 ? 0.5 : 0.25) {
    parts.push(`<line x1="${x(t)}" y1="${top - 4}" x2="${x(t)}" y2="${height - 40}" stroke="${Math.abs(t - 1) < 1e-9 ? "#333" : "#ddd"}" stroke-width="${Math.abs(t - 1) < 1e-9 ? 1.5 : 1}"/>`)
    parts.push(`<text x="${x(t)}" y="${height - 26}" text-anchor="middle" fill="#333">${t.toFixed(2)}</text>`)
  }
  figures.forEach((f, i) => {
    const y = top + i * rowHeight
    const label = `${f.name}${f.reference === undefined ? "" : ` (vs ${f.reference})`}${f.better === "lower" ? " (lower is better)" : ""}`
    parts.push(`<text x="${left - 8}" y="${y + 18}" text-anchor="end">${escape(label)}</text>`)
    if (f.unavailable !== undefined || f.ratio === null) {
      parts.push(`<text x="${left + 6}" y="${y + 18}" fill="#a00">unavailable</text>`)
      return
    }
    const met = f.goal.met === true
    const bar = (value: number, r: Summary.Range | undefined, yy: number, h: number, color: string, text: string) => {
      parts.push(`<rect x="${left}" y="${yy}" width="${Math.max(1, x(value) - left)}" height="${h}" fill="${color}"/>`)
      if (r !== undefined) {
        parts.push(`<line x1="${x(r[0])}" y1="${yy + h / 2}" x2="${x(r[1])}" y2="${yy + h / 2}" stroke="#222"/>`)
        parts.push(`<line x1="${x(r[0])}" y1="${yy + 2}" x2="${x(r[0])}" y2="${yy + h - 2}" stroke="#222"/>`)
        parts.push(`<line x1="${x(r[1])}" y1="${yy + 2}" x2="${x(r[1])}" y2="${yy + h - 2}" stroke="#222"/>`)
      }
      const past = Math.max(value, r?.[1] ?? 0) > max
      const labelX = past ? x(max) - 6 : x(Math.max(value, r?.[1] ?? 0)) + 6
      parts.push(`<text x="${labelX}" y="${yy + h - 3}" fill="${past ? "white" : "#222"}" font-size="11"${past ? ' text-anchor="end"' : ""}>${escape(past ? `${text} (off scale)` : text)}</text>`)
    }
    bar(f.ratio, f.range?.ratio, y + 4, 18, met ? "#3a7d44" : "#c9733a", `ours ${f.ratio.toFixed(2)}`)
    if (f.effectRatio !== undefined && f.effectRatio !== null) {
      bar(f.effectRatio, f.range?.effectRatio, y + 24, 12, "#8aa4c8", `plain Effect ${f.effectRatio.toFixed(2)}`)
    }
    parts.push(`<line x1="${x(f.goal.ratio)}" y1="${y}" x2="${x(f.goal.ratio)}" y2="${y + 26}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>`)
  })
  const ly = height - 12
  parts.push(`<rect x="${left}" y="${ly - 9}" width="10" height="10" fill="#3a7d44"/><text x="${left + 14}" y="${ly}">ours, goal met</text>`)
  parts.push(`<rect x="${left + 120}" y="${ly - 9}" width="10" height="10" fill="#c9733a"/><text x="${left + 134}" y="${ly}">ours, goal not met</text>`)
  parts.push(`<rect x="${left + 260}" y="${ly - 9}" width="10" height="10" fill="#8aa4c8"/><text x="${left + 274}" y="${ly}">plain Effect SocketServer</text>`)
  parts.push(`<line x1="${left + 440}" y1="${ly - 9}" x2="${left + 440}" y2="${ly + 1}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/><text x="${left + 446}" y="${ly}">goal</text>`)
  parts.push("</svg>")
  return `${parts.join("\n")}\n`
}

const start = "<!-- bench:results:start (generated by npm run bench; edit outside these markers) -->"
const end = "<!-- bench:results:end -->"

/** The generated section of docs/performance.md. */
export const docsSection = (results: Results): string => {
  const m = results.machine
  const s = results.settings
  return [
    start,
    "",
    `Run of ${s.date.slice(0, 16).replace("T", " ")} UTC (${s.mode}: ${s.rounds} rounds, ${s.warmupMs} ms warm-up + ${s.measureMs} ms measured per window, ${s.durationSeconds} s in all).`,
    "",
    `Machine: ${m.cpus} x ${m.cpuModel}, ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB, ${m.kernel}; Node ${m.node}, effect ${m.effect}; ${m.pinned}; load average at start ${m.loadAverage.join(" ")} (a shared machine).`,
    "",
    markdownTable(results),
    "",
    "![Ours / raw node:net per figure](performance-ratios.svg)",
    "",
    end
  ].join("\n")
}

/** Writes the chart and the generated section of docs/performance.md. */
export const writeDocs = (results: Results) => {
  writeFileSync(join(root, "docs/performance-ratios.svg"), chart(results))
  const path = join(root, "docs/performance.md")
  const section = docsSection(results)
  const text = existsSync(path) ? readFileSync(path, "utf8") : "# Performance\n\n## Latest results\n\n"
  const i = text.indexOf(start)
  const j = text.indexOf(end)
  const next = i >= 0 && j > i ? text.slice(0, i) + section + text.slice(j + end.length) : `${text.trimEnd()}\n\n${section}\n`
  writeFileSync(path, next)
}
