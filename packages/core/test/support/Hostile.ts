/**
 * Helpers of the adversarial suite: servers that report each connection's
 * end as it happens, listeners that wrap (faults, probes) or fail (accept
 * errors), and a log capture so tests can assert what was (and was not)
 * logged. The clients are the testkit's `TestPeer`.
 *
 * Every helper works over any `TestTransport`, so one test body runs over
 * the memory network and real loopback TCP.
 */
import { assert } from "@effect/vitest"
import type * as Connection from "../../src/Connection.ts"
import type * as Server from "../../src/Server.ts"
import * as Transport from "../../src/Transport.ts"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"

/** One ended connection, as the server reported it. */
export interface Ended {
  readonly id: number
  readonly reason: Connection.ExitReason
}

/** A test server that also hands out connection ends as they happen. */
export interface WatchedServer extends TestTransport.TestServer {
  /** Waits for the next connection to end (in the order they ended). */
  readonly nextExit: Effect.Effect<Ended>
}

/**
 * `TestTransport.serve`, plus a queue of connection ends so a test can wait
 * for one connection to end while its bystanders keep running.
 */
export const serve = Effect.fnUntraced(function*<E, R>(
  transport: TestTransport.TestTransport,
  handler: Connection.Handler<E, R>,
  options: Server.Options = {}
): Effect.fn.Return<WatchedServer, never, Scope.Scope | R> {
  const ended = yield* Queue.unbounded<Ended>()
  const userOnEnd = options.onEnd
  const server = yield* TestTransport.serve(transport, handler, {
    ...options,
    onEnd: (info, reason, stats) =>
      Effect.andThen(
        Queue.offer(ended, { id: info.id, reason }),
        userOnEnd === undefined ? Effect.void : userOnEnd(info, reason, stats)
      )
  })
  return { ...server, nextExit: Queue.take(ended) }
})

/** Echoes every byte back: the handler of tests about the server, not the app. */
export const echo: Connection.Handler = (input) => input

/** Everything a test opened is gone: no connection fiber, no socket, no handle. */
export const assertClean = (server: WatchedServer) =>
  Effect.gen(function*() {
    yield* server.server.awaitIdle
    assert.strictEqual(yield* server.server.activeConnections, 0)
    yield* server.assertNoLeaks
  })

/**
 * What happened to one accepted socket, counted by `probe`: how often its
 * reader and writer were acquired and released, how many close events were
 * written, and the fate of every write.
 */
export interface SocketProbe {
  readerAcquired: number
  readerReleased: number
  writerAcquired: number
  writerReleased: number
  closeEvents: number
  writesStarted: number
  writesDone: number
  writesFailed: number
  writesInterrupted: number
  bytesWritten: number
}

const pendingWrites = (record: SocketProbe): number =>
  record.writesStarted - record.writesDone - record.writesFailed - record.writesInterrupted

/**
 * Wraps each accepted socket to count what is done to it (see
 * `SocketProbe`); the records are in accept order.
 */
export const probe = (transport: TestTransport.TestTransport) => {
  const sockets: Array<SocketProbe> = []
  const wrapped = TestTransport.mapAccepted(transport, (socket) =>
    Effect.sync(() => {
      const record: SocketProbe = {
        readerAcquired: 0,
        readerReleased: 0,
        writerAcquired: 0,
        writerReleased: 0,
        closeEvents: 0,
        writesStarted: 0,
        writesDone: 0,
        writesFailed: 0,
        writesInterrupted: 0,
        bytesWritten: 0
      }
      sockets.push(record)
      const sizeOf = (chunk: Uint8Array | string) => Bytes.from(chunk).byteLength
      const track = (write: Effect.Effect<void, Socket.SocketError>, size: number) =>
        Effect.suspend(() => {
          record.writesStarted++
          record.bytesWritten += size
          return Effect.onExit(write, (exit) =>
            Effect.sync(() => {
              if (exit._tag === "Success") record.writesDone++
              else if (Cause.hasInterruptsOnly(exit.cause)) record.writesInterrupted++
              else record.writesFailed++
            }))
        })
      // It keeps the failure reasons the transport declared, so that a
      // reset still reads as one through the probe.
      return Transport.wrapping(socket, Socket.make({
        reader: Effect.acquireRelease(
          Effect.tap(socket.reader, () => Effect.sync(() => record.readerAcquired++)),
          () => Effect.sync(() => record.readerReleased++)
        ),
        writer: Effect.acquireRelease(
          Effect.map(socket.writer, (writer): Socket.Writer => {
            record.writerAcquired++
            return {
              write: (chunk) =>
                Socket.isCloseEvent(chunk)
                  ? Effect.andThen(Effect.sync(() => record.closeEvents++), writer.write(chunk))
                  : track(writer.write(chunk), sizeOf(chunk)),
              writeAll: (chunks) => track(writer.writeAll(chunks), chunks.reduce((n, c) => n + sizeOf(c), 0))
            }
          }),
          () => Effect.sync(() => record.writerReleased++)
        )
      }))
    }))
  return { transport: wrapped, sockets }
}

// One turn of Node's event loop (I/O callbacks included), not a timer.
const eventLoopTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * Waits until a probed socket has a write that stays pending, unchanged, for
 * `turns` event-loop turns in a row: with a peer that never reads, that is a
 * write stuck on backpressure. Bounded (fails after `maxTurns`); no timer.
 */
export const awaitStuckWrite = (
  sockets: ReadonlyArray<SocketProbe>,
  options: { readonly turns?: number; readonly maxTurns?: number } = {}
): Effect.Effect<SocketProbe, Error> =>
  Effect.gen(function*() {
    const turns = options.turns ?? 50
    const maxTurns = options.maxTurns ?? 200_000
    let stable = 0
    let last = -1
    for (let turn = 0; turn < maxTurns; turn++) {
      const stuck = sockets.find((record) => pendingWrites(record) > 0)
      if (stuck !== undefined && stuck.writesStarted === last) {
        if (++stable >= turns) return stuck
      } else {
        stable = 0
        last = stuck?.writesStarted ?? -1
      }
      yield* eventLoopTurn
    }
    return yield* Effect.fail(new Error(`no write got stuck within ${maxTurns} event-loop turns`))
  })

/** One captured log line. */
export interface LogLine {
  readonly level: LogLevel.LogLevel
  readonly message: string
}

/**
 * A logger that records every line instead of printing it: the suite stays
 * quiet, and tests can assert on warnings (accept retries) and on the
 * absence of unhandled errors.
 */
export const captureLogs = (options: { readonly keep?: (level: LogLevel.LogLevel) => boolean } = {}) => {
  const lines: Array<LogLine> = []
  const keep = options.keep ?? (() => true)
  const logger = Logger.make<unknown, void>(({ cause, logLevel, message }) => {
    if (!keep(logLevel)) return
    const parts = (Array.isArray(message) ? message : [message]).map((part) =>
      part instanceof Error ? part.message : typeof part === "string" ? part : JSON.stringify(part)
    )
    const pretty = cause.reasons.length > 0 ? ` ${Cause.pretty(cause)}` : ""
    lines.push({ level: logLevel, message: parts.join(" ") + pretty })
  })
  const provide = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(self, Logger.CurrentLoggers, new Set([logger]))
  return { lines, provide }
}

/** Log lines at level Error or above, or that mention an unhandled error. */
export const troubles = (lines: ReadonlyArray<LogLine>): Array<LogLine> =>
  lines.filter((line) => line.level === "Error" || line.level === "Fatal" || /unhandled/i.test(line.message))

/**
 * Runs `self` with its logs captured (not printed), then fails if anything
 * was logged at Error level or as unhandled: a hostile peer must be handled,
 * never escape as an unhandled error.
 */
export const noTroubles = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | Error, R> =>
  Effect.suspend(() => {
    const logs = captureLogs()
    return Effect.tap(logs.provide(self), () => {
      const found = troubles(logs.lines)
      return found.length === 0
        ? Effect.void
        : Effect.fail(new Error(`unexpected log lines:\n${found.map((line) => `${line.level}: ${line.message}`).join("\n")}`))
    })
  })
