/**
 * Reference server: echo with plain Effect and no framework. A
 * `NodeSocketServer` whose handler pipes each socket into itself:
 * `Socket.toStream(socket)` run into the socket's writer. No connection
 * limit, no outbound queue, no exit reasons, no metrics, no logs: what an
 * Effect user gets before writing any of that, and so the floor of what
 * Effect costs over raw `node:net`. TCP_NODELAY, as ours and the raw echo.
 *
 * Usage: node bench/servers/effect-echo.ts [PORT]; prints `effect-echo listening on HOST:PORT`.
 */
// bench/ is not a workspace package: effect and the Node platform are
// reached through the apps package that depends on them (the same files,
// once symlinks are resolved, so one copy of effect is loaded).
import * as NodeSocketServer from "../../packages/apps/node_modules/@effect/platform-node/dist/NodeSocketServer.js"
import * as Effect from "../../packages/apps/node_modules/effect/dist/Effect.js"
import * as Socket from "../../packages/apps/node_modules/effect/dist/socket/Socket.js"
import * as Stream from "../../packages/apps/node_modules/effect/dist/Stream.js"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)

const echo = (socket: Socket.Socket) =>
  Effect.scoped(Effect.gen(function*() {
    const writer = yield* socket.writer
    yield* Socket.toStream(socket).pipe(Stream.runForEachArray(writer.writeAll))
  }))

const program = Effect.scoped(Effect.gen(function*() {
  const server = yield* NodeSocketServer.make({
    host: "127.0.0.1",
    port: Number(process.argv[2] ?? 0),
    allowHalfOpen: true,
    noDelay: true
  })
  const address = server.address
  if (address._tag !== "UnixPathAddress") print(`effect-echo listening on 127.0.0.1:${address.port}`)
  return yield* server.run((socket) => Effect.ignore(echo(socket)))
}))

const fiber = Effect.runFork(program)
const stop = () => {
  fiber.interruptUnsafe()
  setTimeout(() => process.exit(0), 1000).unref()
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
fiber.addObserver(() => process.exit(0))
