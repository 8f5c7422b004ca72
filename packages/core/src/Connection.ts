/**
 * The life of one accepted connection: open the socket in a scope of its own,
 * run the app's handler between its input and output, and end with exactly
 * one typed exit reason, logged with the connection id and reported.
 *
 * Stage: connection scope. Whatever the exit (success, typed failure, defect,
 * interrupt), the scope closes and releases the socket, then everything the
 * handler acquired. On success the write side is half-closed first, after the
 * pending output; on any other exit the socket is closed at once, unsent
 * output dropped (see `Duplex.open`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Config from "./Config.ts"
import * as ConnectionError from "./ConnectionError.ts"
import * as Duplex from "./Duplex.ts"
import * as IdleSweeper from "./IdleSweeper.ts"
import * as Outbound from "./Outbound.ts"
import { SocketAddresses } from "./SocketAddresses.ts"

/**
 * What a handler knows about its connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionInfo {
  /** Unique per server, increasing from 1. */
  readonly id: number
  readonly localAddress: string
  readonly remoteAddress: string
  /** When the connection was accepted, in epoch milliseconds (from `Clock`). */
  readonly startedAt: number
  /**
   * Completes when the server starts draining. An app may watch it to say
   * goodbye and end its output; otherwise the connection runs until the
   * grace period ends and is then interrupted.
   */
  readonly draining: Effect.Effect<void>
}

/**
 * An app over raw bytes: given the connection's input, the stream of bytes to
 * send back. The output ending closes the connection (after writing it all).
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<E = never, R = never> = (
  input: Stream.Stream<Uint8Array, ConnectionError.ConnectionError>,
  info: ConnectionInfo
) => Stream.Stream<Uint8Array, E | ConnectionError.ConnectionError, R>

/**
 * The app's output ended and the connection was closed by the server side.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export class Completed extends Data.TaggedClass("Completed")<{}> {}

/**
 * The connection's fiber was interrupted (server shut down, or a supervisor
 * stopped it).
 *
 * @since 0.1.0
 * @category exit reasons
 */
export class Interrupted extends Data.TaggedClass("Interrupted")<{}> {}

/**
 * The connection ended on its own (app or peer closed) after the server
 * started draining.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export class Drained extends Data.TaggedClass("Drained")<{}> {}

/**
 * The connection was refused: the server was at its connection limit
 * (`why: "limit"`) or draining (`why: "draining"`).
 *
 * @since 0.1.0
 * @category exit reasons
 */
export class Refused extends Data.TaggedClass("Refused")<{
  readonly why: "limit" | "draining"
  readonly limit: number
}> {}

/**
 * How a connection ended: `Completed`, `Drained`, `Refused`, `Interrupted`, or one of the
 * `ConnectionError` reasons (a peer that closes in order ends with
 * `PeerClosed`).
 *
 * @since 0.1.0
 * @category exit reasons
 */
export type ExitReason = Completed | Drained | Refused | Interrupted | ConnectionError.ConnectionErrorReason

/**
 * The reason an orderly close by the peer is reported with.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export const closedByPeer: ExitReason = new ConnectionError.PeerClosed({ detail: "end of stream" })

/**
 * Turns the exit of a connection's effect into its exit reason: typed
 * `ConnectionError`s keep their reason, any other failure or defect is a
 * `HandlerFailed`, interruption is `Interrupted`.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export const exitReason = <E>(exit: Exit.Exit<ExitReason, E>): ExitReason => {
  if (Exit.isSuccess(exit)) return exit.value
  const cause = exit.cause
  const error = Cause.findError(cause)
  if (Result.isSuccess(error)) {
    const failure = error.success
    return failure instanceof ConnectionError.ConnectionError
      ? failure.reason
      : new ConnectionError.HandlerFailed({ cause: failure })
  }
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) return new ConnectionError.HandlerFailed({ cause: defect.success })
  return new Interrupted()
}

/**
 * Options for running one connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Capacity of the outbound queue, in chunks. Default `Config.outboundQueueChunks`. */
  readonly outboundQueueChunks?: number | undefined
  /**
   * Close a connection with no traffic in either direction for this long
   * (`IdleTimeout`). Default `Config.idleTimeout`; `Duration.infinity` disables it.
   */
  readonly idleTimeout?: Duration.Input | undefined
  /**
   * The sweeper that keeps the idle timeout (a server shares one between its
   * connections, see `IdleSweeper`); it replaces `idleTimeout`. Without one,
   * a connection with a finite `idleTimeout` starts a sweeper of its own.
   */
  readonly idleSweeper?: IdleSweeper.IdleSweeper | undefined
  /**
   * When the app fails, how long its queued output may still take to be
   * written before the connection is closed at once. Default `Config.failureFlushTimeout`.
   */
  readonly failureFlushTimeout?: Duration.Input | undefined
  /** Completed by the server when it starts draining (see `ConnectionInfo.draining`). Default: never. */
  readonly draining?: Deferred.Deferred<void> | undefined
  /** Called once with the exit reason when the connection has ended and its scope is closed. */
  readonly onEnd?: ((info: ConnectionInfo, reason: ExitReason, stats: Duplex.Stats) => Effect.Effect<void>) | undefined
}

const unknownAddresses = { local: "unknown", remote: "unknown" }

/**
 * Runs `handler` on one accepted socket until it ends and returns its exit
 * reason. Never fails: every failure becomes the exit reason. A connection
 * aborted while writing (idle timeout, failure-flush cut-off) is reported
 * with that reason, and its fiber then ends interrupted.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E, R>(
  socket: Socket.Socket,
  id: number,
  handler: Handler<E, R>,
  options: Options = {}
): Effect.Effect<ExitReason, never, R> =>
  Effect.gen(function*() {
    const addresses = Option.getOrElse(yield* Effect.serviceOption(SocketAddresses), () => unknownAddresses)
    const draining = options.draining
    const info: ConnectionInfo = {
      id,
      localAddress: addresses.local,
      remoteAddress: addresses.remote,
      startedAt: yield* Clock.currentTimeMillis,
      draining: draining === undefined ? Effect.never : Deferred.await(draining)
    }
    const idleTimeout = Duration.fromInputUnsafe(options.idleTimeout ?? Config.idleTimeout)
    const flushTimeout = Duration.fromInputUnsafe(options.failureFlushTimeout ?? Config.failureFlushTimeout)
    // Set once the socket is open; stays at zero for a peer gone before that.
    let stats: Duplex.Stats = { bytesIn: 0, bytesOut: 0, peerEnded: false, lastActivity: info.startedAt }
    let reason: ExitReason = new Interrupted()
    // Why the connection was aborted (idle timeout, flush cut-off), if it
    // was: an abort interrupts the writer, which is this fiber, so the
    // connection ends interrupted, but reports this.
    let abortedWith: Cause.Cause<unknown> | undefined
    // Reported in `onExit`, so that an interrupted connection (drain, server
    // shutdown) is logged and counted like any other.
    const report = (result: Exit.Exit<ExitReason, unknown>) =>
      Effect.gen(function*() {
        const exit = abortedWith !== undefined && Exit.isFailure(result) && Cause.hasInterruptsOnly(result.cause)
          ? Exit.failCause(abortedWith)
          : result
        const ended = exitReason(exit)
        reason = (ended._tag === "Completed" || ended === closedByPeer) && draining !== undefined &&
            (yield* Deferred.isDone(draining))
          ? new Drained()
          : ended
        yield* logEnd(info, reason, stats, exit)
        if (options.onEnd !== undefined) yield* options.onEnd(info, reason, stats)
      })
    yield* Effect.scoped(Effect.gen(function*() {
      const duplex = yield* Duplex.open(socket)
      stats = duplex.stats
      // The outbound queue: the app's output is pulled by one fiber into at
      // most `outboundQueueChunks` chunks (it waits when the queue is full),
      // and the writer drains it into the socket in batches,
      // waiting on the socket. The app's end or failure is queued after its
      // output, so its last words (an error reply) are written before the
      // failure ends the connection. A writer that cannot flush them (a peer
      // that does not read) is cut off after `failureFlushTimeout`. The
      // queue hands a chunk to a waiting writer at once (see `Outbound`), so
      // a chunk costs no extra turn of the event loop.
      const outbound = Outbound.make<E | ConnectionError.ConnectionError>(
        options.outboundQueueChunks ?? Config.outboundQueueChunks
      )
      const write: Effect.Effect<void, E | ConnectionError.ConnectionError> = Effect.flatMap(
        outbound.take,
        (chunks) => chunks === undefined ? Effect.void : Effect.flatMap(duplex.write(chunks), () => write)
      )
      // The writer is this fiber: once the app runs in a fiber of its own,
      // this one drains the queue into the socket. What must end the
      // connection while the writer may be blocked on the socket interrupts
      // this fiber, with a reason, while it writes: the idle timeout (kept by
      // the server's `IdleSweeper`), and the cut-off of an app that failed
      // and whose last words could not be written within the flush timeout.
      // The cut-off is armed only when the app fails, and nothing races the
      // writer: an idle connection holds two fibers (this one and the app's).
      const self = yield* Effect.fiber
      let writing = false
      const abortUnsafe = (cause: Cause.Cause<E | ConnectionError.ConnectionError>) => {
        if (!writing || abortedWith !== undefined) return
        abortedWith = cause
        self.interruptUnsafe()
      }
      yield* handler(duplex.input, info).pipe(
        Stream.runForEachArray(outbound.offer),
        Effect.onExit((exit) =>
          Exit.isSuccess(exit)
            ? outbound.end()
            : Effect.andThen(
              outbound.failCause(exit.cause),
              Cause.hasInterruptsOnly(exit.cause)
                ? Effect.void
                : Effect.forkScoped(
                  Effect.andThen(Effect.sleep(flushTimeout), Effect.sync(() => abortUnsafe(exit.cause))),
                  { startImmediately: true }
                )
            )
        ),
        Effect.forkScoped
      )
      const sweeper = options.idleSweeper ??
        (Duration.isFinite(idleTimeout) ? yield* IdleSweeper.make(idleTimeout) : undefined)
      const watch = sweeper?.watch(
        duplex.stats,
        () => abortUnsafe(Cause.fail(ConnectionError.make(new ConnectionError.IdleTimeout({ after: sweeper.timeout }))))
      )
      writing = true
      const written = yield* Effect.exit(write)
      writing = false
      if (watch !== undefined) sweeper!.unwatch(watch)
      if (Exit.isFailure(written)) {
        // An abort interrupts this fiber; the interruption is turned here
        // into the abort's reason (unless the write failed of itself), the
        // scope closes with it, and the report tells it rather than the
        // interruption this fiber then ends with.
        if (abortedWith !== undefined && !Cause.hasInterruptsOnly(written.cause)) abortedWith = written.cause
        return yield* Effect.failCause(abortedWith ?? written.cause)
      }
      yield* duplex.end
      return duplex.stats.peerEnded ? closedByPeer : new Completed()
    })).pipe(Effect.onExit(report), Effect.catchCause(() => Effect.void))
    return reason
  }).pipe(
    Effect.annotateLogs({ connection: id })
  )

const logEnd = Effect.fnUntraced(function*(
  info: ConnectionInfo,
  reason: ExitReason,
  stats: Duplex.Stats,
  exit: Exit.Exit<unknown, unknown>
) {
  const durationMs = (yield* Clock.currentTimeMillis) - info.startedAt
  const fields = {
    peer: info.remoteAddress,
    reason: reason._tag,
    durationMs,
    bytesIn: stats.bytesIn,
    bytesOut: stats.bytesOut
  }
  const log = reason._tag === "HandlerFailed" && Exit.isFailure(exit)
    ? Effect.logWarning("connection closed", Cause.pretty(exit.cause))
    : Effect.logInfo("connection closed")
  yield* Effect.annotateLogs(log, fields)
})
