/**
 * Transfer progress for the files commands: a bar redrawn in place on a
 * terminal (bytes, percent, rate, ETA), or an occasional plain line when
 * the output is a file or a pipe, so logs stay readable.
 *
 * Stage: CLI only. It renders `FilesClient.Event`s; it never decides
 * anything about the transfer.
 *
 * @since 0.1.0
 */
import * as ByteSize from "effect/ByteSize"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as FilesClient from "../files/FilesClient.ts"

// A terminal is redrawn at most 10 times a second: smooth to the eye,
// negligible next to the transfer.
const redrawMillis = 100
// Plain output: a line per 10% step, at most one every 2 seconds (and the last).
const plainStepPercent = 10
const plainMinMillis = 2000
const barWidth = 24

/**
 * `1536` as `1.5 KiB`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatBytes = (bytes: number): string =>
  ByteSize.format(ByteSize.bytes(Math.max(0, Math.round(bytes))), { precision: 1, trailingZeros: true })

/**
 * Seconds as `42s`, `3m05s` or `1h02m`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatDuration = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}

/**
 * A bar of `width` cells, `fraction` of them filled.
 *
 * @since 0.1.0
 * @category formatting
 */
export const bar = (fraction: number, width: number = barWidth): string => {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`
}

/**
 * What one progress line says.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly done: number
  readonly total: number
  /** Bytes moved in this session (excludes a resumed prefix). */
  readonly moved: number
  readonly elapsedMillis: number
}

const percentOf = (done: number, total: number): number => total === 0 ? 100 : (done / total) * 100

const rateAndEta = (snapshot: Snapshot): { readonly rate: string; readonly eta: string } => {
  if (snapshot.elapsedMillis <= 0 || snapshot.moved <= 0) return { rate: "-", eta: "-" }
  const perSecond = snapshot.moved / (snapshot.elapsedMillis / 1000)
  return {
    rate: `${formatBytes(perSecond)}/s`,
    eta: formatDuration((snapshot.total - snapshot.done) / perSecond)
  }
}

/**
 * The line a terminal shows: `name  45.2% [###---]  463.0 MiB / 1.0 GiB  210.4 MiB/s  ETA 3s`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const terminalLine = (label: string, snapshot: Snapshot): string => {
  const percent = percentOf(snapshot.done, snapshot.total)
  const { eta, rate } = rateAndEta(snapshot)
  return `${label}  ${percent.toFixed(1).padStart(5)}% ${bar(percent / 100)}  ${formatBytes(snapshot.done)} / ${
    formatBytes(snapshot.total)
  }  ${rate}  ETA ${eta}`
}

/**
 * The line plain output gets: `name: 45% (463.0 MiB of 1.0 GiB), 210.4 MiB/s, ETA 3s`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const plainLine = (label: string, snapshot: Snapshot): string => {
  const { eta, rate } = rateAndEta(snapshot)
  return `${label}: ${Math.floor(percentOf(snapshot.done, snapshot.total))}% (${formatBytes(snapshot.done)} of ${
    formatBytes(snapshot.total)
  }), ${rate}, ETA ${eta}`
}

/**
 * A progress display.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly onEvent: (event: FilesClient.Event) => Effect.Effect<void>
  /** Ends a bar in progress with a newline (before an error is printed, for instance). */
  readonly close: Effect.Effect<void>
}

/**
 * A progress display writing bars or lines with `write` (stderr), and the
 * `resumed at N bytes` note with `note` (stdout). Events come from the one
 * fiber running the transfer; the display's state is that fiber's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly label: string
  readonly terminal: boolean
  readonly write: (text: string) => Effect.Effect<void>
  readonly note: (line: string) => Effect.Effect<void>
}): Progress => {
  const { label, terminal, write } = options
  let drawn = false
  let lastDrawAt = -Infinity
  let lastStep = 0
  let phase: "Hashing" | "Progress" | undefined
  let startedAt = 0
  let startedFrom = 0

  const clear = Effect.suspend(() => {
    if (!drawn) return Effect.void
    drawn = false
    return write("\r\u001b[2K")
  })

  const show = (event: { readonly _tag: "Hashing" | "Progress"; readonly done: number; readonly total: number }) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (phase !== event._tag) {
        if (terminal && drawn) yield* write("\n")
        drawn = false
        phase = event._tag
        startedAt = now
        startedFrom = event.done
        lastDrawAt = -Infinity
        // The first plain line comes at the next 10% step.
        lastStep = Math.floor(percentOf(event.done, event.total) / plainStepPercent)
      }
      const finished = event.done >= event.total
      const name = event._tag === "Hashing" ? `hashing ${label}` : label
      const snapshot: Snapshot = {
        done: event.done,
        total: event.total,
        moved: event.done - startedFrom,
        elapsedMillis: now - startedAt
      }
      if (terminal) {
        if (!finished && now - lastDrawAt < redrawMillis) return
        lastDrawAt = now
        drawn = true
        yield* write(`\r\u001b[2K${terminalLine(name, snapshot)}${finished ? "\n" : ""}`)
        if (finished) drawn = false
        return
      }
      // Plain output: hashing is not worth lines of its own.
      if (event._tag === "Hashing") return
      const step = Math.floor(percentOf(event.done, event.total) / plainStepPercent)
      if (finished || (step > lastStep && now - lastDrawAt >= plainMinMillis)) {
        if (finished && lastStep === Number.MAX_SAFE_INTEGER) return
        lastStep = finished ? Number.MAX_SAFE_INTEGER : step
        lastDrawAt = now
        yield* write(`${plainLine(name, snapshot)}\n`)
      }
    })

  return {
    onEvent: (event) => {
      switch (event._tag) {
        case "Resumed":
          return Effect.andThen(clear, options.note(`resumed at ${event.offset} bytes`))
        case "Hashing":
        case "Progress":
          return show(event)
      }
    },
    close: Effect.suspend(() => drawn ? Effect.andThen(write("\n"), Effect.sync(() => (drawn = false))) : Effect.void)
  }
}
