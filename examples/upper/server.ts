// A line server built only on the packages' public entry points: each line
// a client sends comes back upper-cased. It gets the framework's defaults:
// a fiber and a scope per connection, a connection limit, an idle timeout,
// a cap on line length, and a drain on Ctrl-C (a second Ctrl-C forces).
import { Framing, LineCodec } from "@socket-to-me/core"
import { Runner } from "@socket-to-me/node"
import * as Stream from "effect/Stream"

/** The protocol: one line in, the same line upper-cased out. */
export const upper = Framing.handler(
  LineCodec.lines,
  (lines) => Stream.map(lines, (line) => line.toUpperCase())
)

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 7010)
  // Prints `upper listening on 127.0.0.1:7010`; serves until a signal.
  Runner.runMain(Runner.serve(upper, { name: "upper", host: "127.0.0.1", port }))
}
