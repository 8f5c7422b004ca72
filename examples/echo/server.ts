// Chapter 1 of the tutorial (docs/tutorial/01-echo.md): the echo server,
// supervised. Each connection runs in a fiber of its own, with a scope of
// its own: whatever ends it (the client closing, a reset, a bug in the
// handler, Ctrl-C), its scope closes and releases what it held, and the
// other connections carry on.
import type { Connection } from "@socket-to-me/core"
import { Runner } from "@socket-to-me/node"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

// #region handler
/** Echo: the output is the input, byte for byte, as fast as the client reads it. */
export const echo: Connection.Handler = (input, info) =>
  Stream.unwrap(Effect.gen(function*() {
    // Acquired in this connection's scope, so released when the connection
    // has ended, however it ended. A real app holds a file, a subscription
    // or a lease here; this one only says hello and goodbye in the log.
    yield* Effect.acquireRelease(
      Effect.logInfo(`connection ${info.id}: hello ${info.remoteAddress}`),
      () => Effect.logInfo(`connection ${info.id}: released`)
    )
    return input
  }))
// #endregion handler

// #region main
if (import.meta.main) {
  const port = Number(process.env.PORT ?? 7020)
  // Prints `echo listening on 127.0.0.1:7020`. Ctrl-C drains: no new
  // connections, the open ones get 5 seconds to finish, then they are
  // interrupted (a second Ctrl-C interrupts them at once).
  Runner.runMain(Runner.serve(echo, { name: "echo", host: "127.0.0.1", port }))
}
// #endregion main
