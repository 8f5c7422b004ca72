/**
 * Process entry of the `socket-to-me` CLI: the program's edge, where the
 * Node platform is provided and the main fiber is run.
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Main from "./cli/Main.ts"
import * as Shutdown from "./cli/Shutdown.ts"

Main.run(process.argv.slice(2)).pipe(
  // Logs go to stderr; stdout carries data and the `listening on` lines.
  Effect.provideService(References.LogToStderr, true),
  Effect.provide(Logger.layer([Logger.withConsoleError(Logger.formatLogFmt)])),
  Effect.provide(NodeServices.layer),
  Shutdown.runMain
)
