/**
 * The `socket-to-me` command tree: one subcommand per app, plus `demo`,
 * which starts every app's server on its default port.
 *
 * Errors a user can act on (address in use, connection refused, bad flags)
 * are printed as one line on stderr with a non-zero exit; no stack traces.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as CliOutput from "effect/cli/CliOutput"
import * as CliError from "effect/cli/CliError"
import * as Command from "effect/cli/Command"
import * as Chat from "../chat/Chat.ts"
import * as Echo from "../echo/Echo.ts"
import * as Protocol from "../files/Protocol.ts"
import * as ChatCommand from "./ChatCommand.ts"
import * as EchoCommand from "./EchoCommand.ts"
import * as FilesCommand from "./FilesCommand.ts"
import * as Flags from "./Flags.ts"
import * as Tracing from "./Tracing.ts"
import * as Runner from "@socket-to-me/node/Runner"
import * as Option from "effect/Option"

const demo = Command.make(
  "demo",
  { host: Flags.host, otlpEndpoint: Tracing.otlpEndpoint, ...Flags.server },
  ({ host, otlpEndpoint, ...settings }) =>
    Effect.scoped(Effect.gen(function*() {
      // One metrics endpoint serves every app's metrics: it is started with echo's server only.
      const others = { ...settings, metricsPort: Option.none() }
      yield* Runner.start(Echo.handler, Flags.serveOptions("echo", { host, port: Echo.defaultPort }, settings))
      yield* ChatCommand.start({ host, port: Chat.defaultPort }, others)
      yield* FilesCommand.start({ host, port: Protocol.defaultPort }, others, { directory: FilesCommand.defaultDirectory })
      return yield* Effect.never
      // One exporter for the three: a connection's span says its app (`server`).
    })).pipe(Tracing.exportTo("demo", otlpEndpoint))
).pipe(Command.withDescription("Start every app's server on its default port (echo 7001, chat 7002, files 7003 into ./received)."))

/**
 * The root command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("socket-to-me").pipe(
  Command.withDescription("Robust multi-connection TCP servers and clients: echo, chat and file transfer."),
  Command.withSubcommands([EchoCommand.command, ChatCommand.command, FilesCommand.command, demo])
)

// Bad flags and values are reported as one line per problem on stderr,
// pointing at --help, instead of reprinting the whole help page.
const presenter: CliOutput.Presenter = {
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Effect.forEach(
        event.errors,
        (error) => Console.error(`${event.commandPath.join(" ")}: ${error.message} (see --help)`),
        { discard: true }
      )
      : CliOutput.defaultPresenter.present(event)
}

/**
 * Parses `args` and runs the chosen command. A failure is printed as one
 * line on stderr and fails the effect, so the process exits non-zero.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (args: ReadonlyArray<string>) =>
  Command.runWith(command, { version: "0.1.0" })(args).pipe(
    Effect.tapError((error) =>
      CliError.isCliError(error) ? Effect.void : Console.error(`socket-to-me: ${error.message}`)
    ),
    Effect.provideService(CliOutput.Presenter, presenter)
  )
