// Chapter 5 of the tutorial (docs/tutorial/05-limits.md): limits,
// deadlines, drain and exit reasons. A line server (each line comes back
// upper-cased) with every bound set on purpose instead of by default, an
// error line for the limits a client can fix, and a goodbye on Ctrl-C.
import { type ConnectionError, Framing, LineCodec, type Server } from "@socket-to-me/core"
import { Runner } from "@socket-to-me/node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

// #region limits
/** The server's limits: each one caps what a client can make it hold, or for how long. */
export const serverOptions = {
  // Connections at once. The next one is refused (these bytes, then closed)
  // instead of waiting: a file descriptor and buffers per client, bounded.
  maxConnections: 100,
  refusal: LineCodec.encodeLine("error: server full, try again later"),
  // Nothing read or written for this long: closed (a client that vanished).
  idleTimeout: "30 seconds",
  // Ctrl-C: how long open connections get to finish before they are interrupted.
  shutdownGrace: "2 seconds"
} satisfies Server.Options

/** The longest line, in bytes: what one connection's partial line may cost. */
export const maxLineBytes = 256

/** A line that has started must end within this (a client trickling bytes). */
export const frameDeadline = "5 seconds"
// #endregion limits

// #region app
// What the client is told before being closed, for the reasons it can fix.
const explain = (reason: ConnectionError.ConnectionErrorReason): string | undefined =>
  reason._tag === "FrameTooLarge"
    ? `line longer than ${reason.limit} bytes`
    : reason._tag === "FrameTimeout"
    ? `line not finished within ${Duration.format(reason.after)}`
    : undefined

/** The protocol: a line in, the line upper-cased out; a goodbye when the server drains. */
export const guarded = Framing.handler(
  LineCodec.make({ maxLineBytes }),
  (lines, info) => {
    const replies = lines.pipe(
      Stream.map((line) => line.toUpperCase()),
      Stream.catchTag("ConnectionError", (error) => {
        const why = explain(error.reason)
        return why === undefined ? Stream.fail(error) : Stream.concat(Stream.make(`error: ${why}`), Stream.fail(error))
      })
    )
    // Whichever ends first ends the conversation: the client's input, or
    // the drain, after its goodbye.
    const goodbye = Stream.fromEffect(Effect.as(info.draining, "* server shutting down, bye"))
    return Stream.merge(replies, goodbye, { haltStrategy: "either" })
  },
  { frameDeadline }
)
// #endregion app

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 7023)
  // Prints `guarded listening on 127.0.0.1:7023`; Ctrl-C drains, a second forces.
  Runner.runMain(Runner.serve(guarded, { name: "guarded", host: "127.0.0.1", port, ...serverOptions }))
}
