/**
 * The client side: connect (scoped, retried on a Schedule) and talk to a
 * server with the same byte streams and codecs the server uses.
 *
 * Stage: read and write, on the dialing side. Core does not know how to
 * dial: the caller passes the effect that makes a `Socket` (Node's
 * `NodeSocket.makeNet`, or the testkit's memory dialer).
 *
 * @example
 * ```ts
 * import { Client } from "@socket-to-me/core"
 * import { NodeTransport } from "@socket-to-me/node"
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 *
 * // Send one line to an echo server on 127.0.0.1:7001 and read the reply.
 * export const reply = Effect.gen(function*() {
 *   const duplex = yield* Client.connect(NodeTransport.dial({ host: "127.0.0.1", port: 7001 }), {
 *     address: "127.0.0.1:7001",
 *     retries: 3
 *   })
 *   return yield* Client.exchange(duplex, Stream.make(new TextEncoder().encode("hello\n"))).pipe(
 *     Stream.decodeText,
 *     Stream.mkString
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Config from "./Config.ts"
import type * as ConnectionError from "./ConnectionError.ts"
import { describeCause } from "./ConnectionError.ts"
import * as Duplex from "./Duplex.ts"

/**
 * The connection could not be established (after the retries allowed).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly address: string
  readonly cause: ConnectionError.ConnectionError
}> {
  override get message(): string {
    const reason = this.cause.reason
    if (reason._tag === "NoListener") return `no server at ${this.address} (is it running?)`
    return `cannot connect to ${this.address}: ${"cause" in reason ? describeCause(reason.cause) : reason.message}`
  }
}

/**
 * Connect options.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** Shown in errors, e.g. `127.0.0.1:7001`. */
  readonly address: string
  /** Retries after the first attempt. Default `Config.connectRetries`. */
  readonly retries?: number | undefined
  /** First pause between attempts, doubled each time. Default `Config.connectRetryBaseMillis`. */
  readonly retryBaseMillis?: number | undefined
}

/**
 * Opens a connection in the current scope, retrying failed attempts with
 * exponential backoff. Each failed attempt's socket is released at once.
 * `makeSocket` runs once per attempt, in that attempt's scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = <R>(
  makeSocket: Effect.Effect<Socket.Socket, ConnectionError.ConnectionError, R>,
  options: ConnectOptions
): Effect.Effect<Duplex.Duplex, ConnectError, Scope.Scope | R> => {
  const attempt = Effect.gen(function*() {
    const scope = yield* Scope.fork(yield* Effect.scope)
    return yield* makeSocket.pipe(
      Effect.flatMap(Duplex.open),
      Scope.provide(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
  })
  return attempt.pipe(
    Effect.retry({
      schedule: Schedule.exponential(options.retryBaseMillis ?? Config.connectRetryBaseMillis),
      times: options.retries ?? Config.connectRetries
    }),
    Effect.mapError((cause: ConnectionError.ConnectionError) => new ConnectError({ address: options.address, cause }))
  )
}

/**
 * Sends `output`, then half-closes, while streaming what the server sends
 * back until it closes: the shape of a request/response exchange such as an
 * echo client. A write failure fails the returned stream.
 *
 * @since 0.1.0
 * @category running
 */
export const exchange = <E, R>(
  duplex: Duplex.Duplex,
  output: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E | ConnectionError.ConnectionError, R> =>
  Stream.merge(
    duplex.input,
    Stream.fromEffectDrain(
      output.pipe(Stream.runForEachArray(duplex.write), Effect.andThen(duplex.end))
    )
  )
