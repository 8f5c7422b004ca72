/**
 * A server: accepts connections from any `SocketServer` (Node TCP in
 * production, the testkit's memory network in tests) and runs each one as a
 * supervised fiber.
 *
 * Stage: accept and admit. The server owns a `FiberSet` of connection fibers
 * inside its `Scope`. Closing that scope first stops accepting (the accept
 * loop is interrupted), then interrupts the connections, each of which
 * releases its own socket. Like mini-redis, the server takes an already
 * bound listener (the `SocketServer` service), which is what makes it
 * testable over any transport.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as NetAddress from "effect/net/NetAddress"
import * as SocketServer from "effect/socket/SocketServer"
import * as Connection from "./Connection.ts"

/**
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  /** The address the listener is bound to (with the real port when 0 was asked). */
  readonly address: NetAddress.SocketAddress
  /** Connections currently running. */
  readonly activeConnections: Effect.Effect<number>
  /** Completes when no connection is running (at once if none is). */
  readonly awaitIdle: Effect.Effect<void>
}

/**
 * Server options; the per-connection ones are passed to every connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Connection.Options {}

// Accept failures (EMFILE and the like) are retried after a growing pause,
// capped at one second, so the server neither spins nor stops serving.
const acceptRetry = Schedule.min([Schedule.exponential("10 millis"), Schedule.spaced("1 second")])

/**
 * Starts serving `handler` on the `SocketServer` in context. Runs until the
 * enclosing scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*<E, R>(
  handler: Connection.Handler<E, R>,
  options: Options = {}
): Effect.fn.Return<Server, never, Scope.Scope | SocketServer.SocketServer | R> {
  const listener = yield* SocketServer.SocketServer
  const connections = yield* FiberSet.make<Connection.ExitReason, never>()
  const lastId = yield* Ref.make(0)

  const accept = (socket: Parameters<Parameters<typeof listener.run>[0]>[0]) =>
    Ref.updateAndGet(lastId, (id) => id + 1).pipe(
      Effect.flatMap((id) => FiberSet.run(connections, Connection.run(socket, id, handler, options)))
    )

  yield* listener.run(accept).pipe(
    Effect.tapError((error) => Effect.logWarning("accept failed, retrying", error.message)),
    Effect.retry(acceptRetry),
    Effect.forkScoped
  )

  return {
    address: listener.address,
    activeConnections: FiberSet.size(connections),
    awaitIdle: FiberSet.awaitEmpty(connections)
  }
})

/**
 * Serves `handler` forever (until interrupted).
 *
 * @since 0.1.0
 * @category running
 */
export const serve = <E, R>(
  handler: Connection.Handler<E, R>,
  options?: Options
): Effect.Effect<never, never, SocketServer.SocketServer | R> =>
  Effect.scoped(Effect.andThen(make(handler, options), Effect.never))
