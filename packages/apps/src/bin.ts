/**
 * Process entry of the `socket-to-me` CLI: the program's edge, where the
 * Node platform is provided and the main fiber is run with the same runner
 * (logging, signal policy) a user's own server gets from `@socket-to-me/node`.
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Runner from "@socket-to-me/node/Runner"
import * as Effect from "effect/Effect"
import * as Main from "./cli/Main.ts"

Runner.runMain(Main.run(process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer)), {
  // Main.run prints its own failures as one line each (bad flags, address in use).
  reportFailure: false,
  // Run by npm (`npx socket-to-me`, an npm script), the CLI's life is npm's:
  // npm passes a SIGTERM on to its shell, which dies of it without passing
  // it on, so the CLI stops when its parent goes.
  stopWithParent: process.env.npm_lifecycle_event !== undefined
})
