/**
 * Running an app's server from the CLI: bind, print
 * `<app> listening on HOST:PORT` on stdout, serve until interrupted, drain.
 *
 * @since 0.1.0
 */
import type * as Connection from "@socket-to-me/core/Connection"
import * as Server from "@socket-to-me/core/Server"
import type * as ServerError from "@socket-to-me/core/ServerError"
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as SocketServer from "effect/socket/SocketServer"
import * as Option from "effect/Option"
import * as MetricsHttp from "../MetricsHttp.ts"
import * as NodeTransport from "../NodeTransport.ts"
import * as Flags from "./Flags.ts"
import * as Shutdown from "./Shutdown.ts"

/**
 * Binds `endpoint`, starts `handler` on it with the robustness settings and
 * prints the listening line. The server lives as long as the enclosing
 * scope; closing it drains the server.
 *
 * @since 0.1.0
 * @category running
 */
export const start = Effect.fnUntraced(function*<E, R>(
  app: string,
  endpoint: NodeTransport.Endpoint,
  settings: Flags.ServerSettings,
  handler: Connection.Handler<E, R>,
  options: Server.Options = {}
): Effect.fn.Return<Server.Server, ServerError.ServerError, Scope.Scope | R> {
  const listener = yield* NodeTransport.makeServer(endpoint)
  const server = yield* Server.make(handler, {
    name: app,
    maxConnections: settings.maxConnections,
    idleTimeout: Flags.zeroIsOff(settings.idleTimeout),
    shutdownGrace: settings.shutdownGrace,
    forceStop: yield* Shutdown.Forced,
    ...options
  }).pipe(Effect.provideService(SocketServer.SocketServer, listener))
  yield* Console.log(`${app} listening on ${SocketAddresses.formatSocketAddress(server.address)}`)
  yield* yield* Shutdown.MarkServing
  return server
})

/**
 * Serves the metrics endpoint when `--metrics-port` was given.
 *
 * @since 0.1.0
 * @category running
 */
export const startMetrics = (host: string, settings: Flags.ServerSettings) =>
  Option.match(settings.metricsPort, {
    onNone: () => Effect.void,
    onSome: (port) => MetricsHttp.serve({ host, port })
  })

/**
 * `start` (and the metrics endpoint), then serve until the process is told to stop.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E, R>(
  app: string,
  endpoint: NodeTransport.Endpoint,
  settings: Flags.ServerSettings,
  handler: Connection.Handler<E, R>,
  options?: Server.Options
): Effect.Effect<never, ServerError.ServerError, R> =>
  Effect.scoped(Effect.gen(function*() {
    yield* start(app, endpoint, settings, handler, options)
    yield* startMetrics(endpoint.host, settings)
    return yield* Effect.never
  }))
