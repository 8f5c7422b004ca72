/**
 * `socket-to-me echo serve` and `socket-to-me echo send`.
 *
 * @since 0.1.0
 */
import * as Runner from "@socket-to-me/node/Runner"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Echo from "../echo/Echo.ts"
import * as Flags from "./Flags.ts"
import * as Tracing from "./Tracing.ts"

const serve = Command.make(
  "serve",
  {
    host: Flags.host,
    port: Flags.listenPort(Echo.defaultPort),
    listener: Flags.listener,
    maxConnectionsPerAddress: Flags.maxConnectionsPerAddress(Option.none()),
    otlpEndpoint: Tracing.otlpEndpoint,
    ...Flags.connections
  },
  ({ host, listener, otlpEndpoint, port, ...settings }) =>
    Effect.flatMap(
      Flags.listenOn(host, port, Echo.defaultPort, listener),
      (listen) => Runner.serve(Echo.handler, Flags.serveOptions("echo", listen, settings))
    ).pipe(Tracing.exportTo("echo", otlpEndpoint))
).pipe(
  Command.withDescription("Run the echo server: every byte received is sent back (RFC 862)."),
  Command.withExamples([
    { command: "socket-to-me echo serve --port 7001", description: "Listen on 127.0.0.1:7001" },
    { command: "socket-to-me echo serve --port 0", description: "Listen on a free port and print it" },
    { command: "socket-to-me echo serve --tls-cert cert.pem --tls-key key.pem", description: "Serve TLS" },
    { command: "socket-to-me echo serve --unix /tmp/echo.sock", description: "Listen on a Unix domain socket" }
  ])
)

/**
 * The server closed the connection before echoing everything sent: a
 * server that is not an echo server, a TLS server reached without `--tls`,
 * or one that refused the connection.
 *
 * @since 0.1.0
 * @category errors
 */
export class ShortEcho extends Data.TaggedError("ShortEcho")<{
  readonly address: string
  readonly sent: number
  readonly received: number
  readonly tls: boolean
}> {
  override get message() {
    const hint = this.received === 0 && !this.tls ? " (if it serves TLS, add --tls)" : ""
    return `${this.address} closed the connection after echoing ${this.received} of ${this.sent} bytes${hint}`
  }
}

const send = Command.make(
  "send",
  {
    host: Flags.host,
    port: Flags.connectPort(Echo.defaultPort),
    dialer: Flags.dialer,
    message: Argument.String("message").pipe(
      Argument.withDescription("Words to send; they are joined with spaces and a newline is added"),
      Argument.variadic({ min: 1 })
    )
  },
  Effect.fnUntraced(function*({ dialer, host, message, port }) {
    const stdio = yield* Stdio.Stdio
    const target = yield* Flags.dialTo(host, port, Echo.defaultPort, dialer)
    const bytes = new TextEncoder().encode(`${message.join(" ")}\n`)
    let received = 0
    yield* Echo.send(target.dial, target.address, Stream.make(bytes)).pipe(
      Stream.tap((chunk) => Effect.sync(() => (received += chunk.length))),
      Stream.run(stdio.stdout())
    )
    if (received < bytes.length) {
      return yield* new ShortEcho({ address: target.address, sent: bytes.length, received, tls: dialer.tls })
    }
  })
).pipe(
  Command.withDescription("Send a message to an echo server and print the reply; fails if the server closes before echoing it all."),
  Command.withExamples([
    { command: "socket-to-me echo send hello world", description: "Prints: hello world" },
    { command: "socket-to-me echo send --tls --tls-ca ca.pem hello", description: "Over TLS, trusting ca.pem" }
  ])
)

/**
 * The `echo` command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("echo").pipe(
  Command.withDescription("Echo server and client (RFC 862)."),
  Command.withSubcommands([serve, send])
)
