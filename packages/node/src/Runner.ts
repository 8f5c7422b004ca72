/**
 * Running a server on Node: bind a TCP listener, serve a handler on it with
 * the default supervision, limits and drain, print `<name> listening on
 * HOST:PORT` on stdout, and stop on a signal (the first SIGINT or SIGTERM
 * drains, saying so on stdout with `draining N connections (up to 5s;
 * Ctrl-C again to force)`; a second forces). The `socket-to-me` CLI runs
 * every app's server through exactly this module.
 *
 * Stage: accept and admit, at the program's edge.
 *
 * @example
 * ```ts
 * import { Framing, LineCodec } from "@socket-to-me/core"
 * import { Runner } from "@socket-to-me/node"
 * import * as Stream from "effect/Stream"
 *
 * const upper = Framing.handler(LineCodec.lines, (lines) => Stream.map(lines, (line) => line.toUpperCase()))
 *
 * Runner.runMain(Runner.serve(upper, { name: "upper", host: "127.0.0.1", port: 7010 }))
 * ```
 *
 * @since 0.1.0
 */
import * as CoreConfig from "@socket-to-me/core/Config"
import type * as Connection from "@socket-to-me/core/Connection"
import * as Server from "@socket-to-me/core/Server"
import type * as ServerError from "@socket-to-me/core/ServerError"
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as References from "effect/References"
import type * as Scope from "effect/Scope"
import * as SocketServer from "effect/socket/SocketServer"
import * as MetricsHttp from "./MetricsHttp.ts"
import * as NodeTransport from "./NodeTransport.ts"
import * as Shutdown from "./Shutdown.ts"

/**
 * Where and how to serve: the listener's endpoint, the server's options
 * (limits, idle timeout, grace period; see core's `Server.Options`), and an
 * optional metrics endpoint.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions extends Server.Options {
  /** Name for the `listening on` line, logs and metrics, e.g. `"echo"`. */
  readonly name: string
  /** Host or IP address to listen on. Default `127.0.0.1`: nothing is exposed beyond this machine unless asked. */
  readonly host?: string | undefined
  /** TCP port; 0 picks a free one (the line printed says which). Default 0. */
  readonly port?: number | undefined
  /** Serve Prometheus metrics at `http://HOST:PORT/metrics` on this port (on `host`). Default off. */
  readonly metricsPort?: number | undefined
  /** Expect a PROXY protocol header first on every connection (see `NodeTransport.ListenOptions`). Default off. */
  readonly proxyProtocol?: NodeTransport.ListenOptions["proxyProtocol"]
  /** Listen on this Unix domain socket instead of TCP (`host` and `port` are then unused). Default: TCP. */
  readonly unix?: string | undefined
  /** The Unix socket file's permissions (see `NodeTransport.ListenOptions`). */
  readonly unixMode?: number | undefined
  /** Serve TLS with these PEM files (see `NodeTransport.ListenOptions`). Default: plain TCP. */
  readonly tls?: NodeTransport.ListenOptions["tls"]
}

/**
 * Binds the listener, starts `handler` on it and prints the listening line
 * (and the metrics endpoint's, when asked). The server lives as long as the
 * enclosing scope; closing the scope drains it. Under `runMain`, a signal
 * closes it, the drain is announced on stdout, and a second signal during
 * the drain forces it.
 *
 * @since 0.1.0
 * @category running
 */
export const start = Effect.fnUntraced(function*<E, R>(
  handler: Connection.Handler<E, R>,
  options: ServeOptions
): Effect.fn.Return<Server.Server, ServerError.ServerError, Scope.Scope | R> {
  const { host = "127.0.0.1", metricsPort, port = 0, proxyProtocol, tls, unix, unixMode, ...serverOptions } = options
  const listener = yield* NodeTransport.makeServer(unix === undefined ? { host, port } : { path: unix }, {
    proxyProtocol,
    tls,
    unixMode
  })
  const server = yield* Server.make(handler, {
    forceStop: yield* Shutdown.Forced,
    ...serverOptions
  }).pipe(Effect.provideService(SocketServer.SocketServer, listener))
  yield* Console.log(`${options.name} listening on ${SocketAddresses.formatSocketAddress(server.address)}`)
  if (metricsPort !== undefined) yield* MetricsHttp.serve({ host, port: metricsPort })
  // Added last, so run first when the scope closes: the line comes before
  // the metrics endpoint closes and the drain starts waiting.
  const grace = Duration.format(Duration.fromInputUnsafe(serverOptions.shutdownGrace ?? CoreConfig.shutdownGrace))
  const stopping = yield* Shutdown.Stopping
  yield* Effect.addFinalizer(() =>
    Effect.flatMap(stopping, (signalled) =>
      signalled
        ? Effect.flatMap(
          server.activeConnections,
          (n) => Console.log(`draining ${n} connection${n === 1 ? "" : "s"} (up to ${grace}; Ctrl-C again to force)`)
        )
        : Effect.void)
  )
  yield* yield* Shutdown.MarkServing
  return server
})

/**
 * `start`, then serve until interrupted (under `runMain`: until a signal).
 *
 * @since 0.1.0
 * @category running
 */
export const serve = <E, R>(
  handler: Connection.Handler<E, R>,
  options: ServeOptions
): Effect.Effect<never, ServerError.ServerError, R> =>
  Effect.scoped(Effect.andThen(start(handler, options), Effect.never))

/**
 * Options of `runMain`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunMainOptions {
  /**
   * Print a failure before exiting: a typed error as its message on one
   * line of stderr (e.g. `address 127.0.0.1:7010 is already in use`), a
   * defect as a logged cause. Default true; a program that reports its own
   * failures (the CLI) turns it off.
   */
  readonly reportFailure?: boolean | undefined
  /** Also stop when the parent process exits; see `Shutdown.RunMainOptions`. Default false. */
  readonly stopWithParent?: boolean | undefined
}

const messageOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "message" in error && typeof error.message === "string" &&
    error.message !== ""
    ? error.message
    : String(error)

const reportFailure = <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Cause.hasInterruptsOnly(cause)
    ? Effect.void
    : Option.match(Cause.findErrorOption(cause), {
      onNone: () => Effect.logError(cause),
      onSome: (error) => Console.error(messageOf(error))
    })

/**
 * Runs `program` as the process's main fiber: logs go to stderr in logfmt
 * (stdout carries data and the `listening on` lines), and the signal policy
 * of `Shutdown.runMain` applies: the first SIGINT or SIGTERM interrupts the
 * program (a server drains), a second forces the stop. The process exits 0
 * on success or a server's signal-driven stop, 1 on failure.
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = <E>(program: Effect.Effect<void, E>, options: RunMainOptions = {}): void =>
  program.pipe(
    options.reportFailure === false ? identity : Effect.tapCause(reportFailure),
    Effect.provideService(References.LogToStderr, true),
    Effect.provide(Logger.layer([Logger.withConsoleError(Logger.formatLogFmt)])),
    (main) => Shutdown.runMain(main, { stopWithParent: options.stopWithParent })
  )
