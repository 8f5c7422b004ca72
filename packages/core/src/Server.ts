/**
 * A server: accepts connections from any `SocketServer` (Node TCP in
 * production, the testkit's memory network in tests) and runs each one as a
 * supervised fiber.
 *
 * Stage: accept and admit. The server owns a `FiberSet` of connection fibers
 * inside its `Scope` and a connection limit. Like mini-redis, it takes an
 * already bound listener (the `SocketServer` service), which is what makes
 * it testable over any transport.
 *
 * Shutdown is a drain, in this order: stop admitting at once (a connection
 * that arrives during the drain is refused and closed, not left waiting in
 * the listener), tell every connection (`ConnectionInfo.draining`), wait up
 * to the grace period for them to finish, then interrupt the rest, whose
 * finalizers release their sockets, and finally stop the accept loop.
 * Closing the server's scope drains, so an interrupted program (SIGINT)
 * shuts down gracefully by default.
 *
 * @example
 * ```ts
 * import { Framing, LineCodec, Server } from "@socket-to-me/core"
 * import { MemoryNetwork } from "@socket-to-me/testkit"
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 * import * as SocketServer from "effect/socket/SocketServer"
 *
 * const shout = Framing.handler(LineCodec.lines, (lines) => Stream.map(lines, (line) => `${line}!`))
 *
 * // Any SocketServer will do: here the testkit's memory network.
 * export const program = Effect.gen(function*() {
 *   const network = yield* MemoryNetwork.make()
 *   const listener = yield* Effect.orDie(network.listen)
 *   const server = yield* Server.make(shout, { name: "shout", maxConnections: 100, shutdownGrace: "2 seconds" }).pipe(
 *     Effect.provideService(SocketServer.SocketServer, listener)
 *   )
 *   yield* Effect.log(`serving at most ${server.maxConnections} connections`)
 *   // Closing the scope drains: stop accepting, tell, wait, then interrupt.
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as NetAddress from "effect/net/NetAddress"
import type * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import * as AcceptError from "./AcceptError.ts"
import * as Config from "./Config.ts"
import * as Connection from "./Connection.ts"
import { describeCause } from "./ConnectionError.ts"
import * as Duplex from "./Duplex.ts"
import * as IdleSweeper from "./IdleSweeper.ts"
import * as Metrics from "./Metrics.ts"

/**
 * What a drain did: connections that finished within the grace period, and
 * connections interrupted when it ran out (or when the stop was forced).
 *
 * @since 0.1.0
 * @category models
 */
export interface DrainSummary {
  readonly drained: number
  readonly interrupted: number
}

/**
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  /** The address the listener is bound to (with the real port when 0 was asked). */
  readonly address: NetAddress.SocketAddress
  /** Connections currently admitted and running. */
  readonly activeConnections: Effect.Effect<number>
  /** The connection limit. */
  readonly maxConnections: number
  /** Completes when no connection is running (at once if none is). */
  readonly awaitIdle: Effect.Effect<void>
  /**
   * Drains the server (see the module docs) and reports what happened.
   * Idempotent: later calls wait for the first drain and return its summary.
   */
  readonly drain: Effect.Effect<DrainSummary>
}

/**
 * Server options; the per-connection ones are passed to every connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<Connection.Options, "draining" | "idleSweeper"> {
  /** Name for logs and the `server` attribute of metrics, e.g. `"echo"`. Default `"server"`. */
  readonly name?: string | undefined
  /** Connections served at once; more are refused. Default `Config.maxConnections`. */
  readonly maxConnections?: number | undefined
  /** Bytes sent to a refused connection before it is closed (e.g. a "server full" line). Default none. */
  readonly refusal?: Uint8Array | undefined
  /** How long a drain waits for connections before interrupting them. Default `Config.shutdownGrace`. */
  readonly shutdownGrace?: Duration.Input | undefined
  /** Completes when the stop must be immediate (e.g. a second SIGINT): the drain stops waiting. */
  readonly forceStop?: Effect.Effect<void> | undefined
}

// Accept failures (out of file descriptors and the like) are retried after
// a growing pause, capped at one second, so the server neither spins nor
// stops serving, and logs at most one line per pause.
// The pause after an accept failure: 10 ms, doubling with each failure that
// follows a run shorter than the cap, at most 1 s. A run that lasted at
// least the cap was a recovery, so the next failure starts again at 10 ms.
const acceptPauseFirstMillis = 10
const acceptPauseCapMillis = 1_000

/**
 * Starts serving `handler` on the `SocketServer` in context. Runs until the
 * enclosing scope closes, which drains it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*<E, R>(
  handler: Connection.Handler<E, R>,
  options: Options = {}
): Effect.fn.Return<Server, never, Scope.Scope | SocketServer.SocketServer | R> {
  const listener = yield* SocketServer.SocketServer
  const maxConnections = options.maxConnections ?? Config.maxConnections
  const shutdownGrace = options.shutdownGrace ?? Config.shutdownGrace
  const connections = yield* FiberSet.make<Connection.ExitReason, never>()
  const permits = yield* Semaphore.make(maxConnections)
  const active = yield* Ref.make(0)
  const lastId = yield* Ref.make(0)
  const draining = yield* Deferred.make<void>()
  const name = options.name ?? "server"
  // One attribute set for the server's life. A metric caches its series key
  // for the last attribute set it saw, by identity: a fresh object per
  // connection made every byte and frame counter update on the hot path
  // (several per chunk) merge attributes and rebuild its key.
  const attributes = { server: name }
  const userOnEnd = options.onEnd
  // One sweeper keeps the idle timeout of every connection (see
  // `IdleSweeper`), rather than a watchdog fiber per connection. It lives in
  // the server's scope and outlives the drain, which it may shorten.
  const idleTimeout = Duration.fromInputUnsafe(options.idleTimeout ?? Config.idleTimeout)
  const idleSweeper = Duration.isFinite(idleTimeout) ? yield* IdleSweeper.make(idleTimeout) : undefined
  const connectionOptions: Connection.Options = {
    ...options,
    draining,
    idleSweeper,
    onEnd: (info, reason, stats) =>
      Effect.gen(function*() {
        yield* Metric.update(Metric.withAttributes(Metrics.connectionsClosed, { reason: reason._tag }), 1)
        if (reason._tag === "HandlerFailed") yield* Metric.update(Metrics.handlerFailures, 1)
        if (userOnEnd !== undefined) yield* userOnEnd(info, reason, stats)
      })
  }

  // Built once, shared by every connection (an effect is only a
  // description): a connection's fiber then holds no copy of them.
  const enter = Effect.andThen(Ref.update(active, (n) => n + 1), Metric.modify(Metrics.connectionsActive, 1))
  const leave = Effect.all([
    Ref.update(active, (n) => n - 1),
    Metric.modify(Metrics.connectionsActive, -1),
    Semaphore.release(permits, 1)
  ], { discard: true })
  const run = Connection.runner(handler, connectionOptions)
  const leaveAfter = () => leave
  const admit = (socket: Socket.Socket, id: number) => Effect.andThen(enter, Effect.onExit(run(socket, id), leaveAfter))

  // The limit is checked when the socket is accepted, before anything is
  // read from it: over the limit, or while draining, the socket is closed at
  // once. The accept loop keeps running during a drain for exactly this: a
  // client that arrives then learns at once that it is not served.
  const accept = (socket: Socket.Socket) =>
    Effect.gen(function*() {
      const id = yield* Ref.updateAndGet(lastId, (n) => n + 1)
      yield* Metric.update(Metrics.connectionsAccepted, 1)
      const refusal = (why: "limit" | "draining") =>
        refuse(socket, id, new Connection.Refused({ why, limit: maxConnections }), connectionOptions, options.refusal)
      const connection = (yield* Deferred.isDone(draining))
        ? refusal("draining")
        : (yield* Semaphore.takeIfAvailable(permits, 1))
        ? admit(socket, id)
        : refusal("limit")
      yield* FiberSet.run(connections, connection)
    })

  yield* Metric.update(Metrics.connectionsLimit, maxConnections).pipe(
    Effect.provideService(Metric.CurrentMetricAttributes, attributes)
  )

  // A listener reports accept failures by failing `run`. Each report is
  // counted by reason and logged on one line: a typed `AcceptError` says
  // which failure and how many occurrences it stands for (a listener that
  // keeps accepting during the back-off, as Node's does, counts for its
  // next report), any other failure counts once. The error's own message is
  // only its reason's tag ("Unknown", "Open"); what an operator needs (the
  // errno: EMFILE, ENFILE, ...) is in its cause. The back-off between runs
  // is what limits these lines.
  const reportAcceptFailure = (error: SocketServer.SocketServerError, pauseMillis: number) => {
    const cause = error.reason.cause
    const typed = AcceptError.isAcceptError(cause) ? cause : undefined
    const reason = typed?.reason._tag ?? "AcceptFailed"
    const occurrences = typed?.occurrences ?? 1
    return Effect.andThen(
      Metric.update(Metric.withAttributes(Metrics.acceptErrors, { reason }), occurrences),
      Effect.logWarning(`${typed?.message ?? `accept failed: ${describeCause(cause)}`}; accepting again in ${pauseMillis} ms`).pipe(
        Effect.annotateLogs({ server: name, reason, occurrences })
      )
    )
  }

  // The server's metric attributes are in the context the listener runs
  // `accept` with, rather than provided per connection: every service added
  // to a connection's context deepens it, and past a few such additions
  // effect copies the whole context into a new map, per connection.
  const acceptLoop = yield* Effect.gen(function*() {
    let pause = acceptPauseFirstMillis
    while (true) {
      const startedAt = yield* Clock.currentTimeMillis
      const error = yield* Effect.flip(listener.run(accept))
      if ((yield* Clock.currentTimeMillis) - startedAt >= acceptPauseCapMillis) pause = acceptPauseFirstMillis
      yield* reportAcceptFailure(error, pause)
      yield* Effect.sleep(pause)
      pause = Math.min(pause * 2, acceptPauseCapMillis)
    }
  }).pipe(Effect.provideService(Metric.CurrentMetricAttributes, attributes), Effect.forkScoped)

  const awaitIdle = FiberSet.awaitEmpty(connections)
  const summary = yield* Deferred.make<DrainSummary>()
  const started = yield* Ref.make(false)
  const drain: Effect.Effect<DrainSummary> = Effect.uninterruptible(Effect.gen(function*() {
    if (yield* Ref.getAndSet(started, true)) return yield* Deferred.await(summary)
    // Counted before the connections are told: one that ends as soon as it
    // hears (its goodbye written at once) still counts as drained.
    const before = yield* Ref.get(active)
    yield* Deferred.succeed(draining, undefined)
    yield* Effect.raceFirst(
      Effect.timeoutOrElse(Effect.interruptible(awaitIdle), { duration: shutdownGrace, orElse: () => Effect.void }),
      Effect.interruptible(options.forceStop ?? Effect.never)
    )
    const interrupted = yield* Ref.get(active)
    yield* FiberSet.clear(connections)
    yield* awaitIdle
    yield* Fiber.interrupt(acceptLoop)
    const result: DrainSummary = { drained: before - interrupted, interrupted }
    yield* Effect.logInfo(`drained ${result.drained}, interrupted ${result.interrupted}`).pipe(
      Effect.annotateLogs({ server: name })
    )
    yield* Deferred.succeed(summary, result)
    return result
  }))
  yield* Effect.addFinalizer(() => drain)

  return {
    address: listener.address,
    activeConnections: Ref.get(active),
    maxConnections,
    awaitIdle,
    drain
  }
})

// A refused connection is still a supervised fiber: it writes the refusal,
// closes, and reports its exit reason like any other.
const refuse = (
  socket: Socket.Socket,
  id: number,
  reason: Connection.Refused,
  options: Connection.Options,
  refusal: Uint8Array | undefined
) =>
  Effect.gen(function*() {
    const stats = yield* Effect.scoped(Effect.gen(function*() {
      const duplex = yield* Duplex.open(socket)
      if (refusal !== undefined) yield* duplex.write([refusal])
      yield* duplex.end
      return duplex.stats
    })).pipe(Effect.orElseSucceed(() => ({ bytesIn: 0, bytesOut: 0, peerEnded: false, lastActivity: 0 })))
    yield* Effect.logWarning(
      reason.why === "draining"
        ? "connection refused: the server is draining"
        : `connection refused: limit of ${reason.limit} connections reached`
    )
    if (options.onEnd !== undefined) {
      yield* options.onEnd(
        { id, localAddress: "", remoteAddress: "", startedAt: 0, draining: Effect.never, abort: () => Effect.void },
        reason,
        stats
      )
    }
    return reason
  }).pipe(Effect.annotateLogs({ connection: id }))

/**
 * Serves `handler` until interrupted, then drains.
 *
 * @since 0.1.0
 * @category running
 */
export const serve = <E, R>(
  handler: Connection.Handler<E, R>,
  options?: Options
): Effect.Effect<never, never, SocketServer.SocketServer | R> =>
  Effect.scoped(Effect.andThen(make(handler, options), Effect.never))
