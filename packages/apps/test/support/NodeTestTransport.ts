/**
 * Real loopback TCP as a `TestTransport`: binds 127.0.0.1 port 0, dials it
 * with Node's `net`, and checks that open TCP handles return to baseline.
 *
 * Its dialed sockets send a real TCP RST when a `CloseEvent` with a code
 * above 1000 is written (`Duplex.reset`), so reset tests are deterministic.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { assertHandlesBackToBaseline, handleBaseline } from "@socket-to-me/testkit/NodeHandles"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import * as Net from "node:net"
import * as NodeTransport from "../../src/NodeTransport.ts"

// Suspended so that each dial has its own `conn`.
const dialWithReset = (port: number): Effect.Effect<Socket.Socket> => Effect.suspend(() => {
  let conn: Net.Socket | undefined
  const open = Effect.acquireRelease(
    Effect.callback<Net.Socket, Socket.SocketError>((resume) => {
      const socket = Net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true })
      conn = socket
      socket.once("connect", () => resume(Effect.succeed(socket)))
      socket.once("error", (cause) =>
        resume(Effect.fail(new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause }) }))))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )
  return Effect.map(NodeSocket.fromDuplex(open), (socket) =>
    Socket.make({
      reader: socket.reader,
      writer: Effect.map(socket.writer, (writer) => ({
        ...writer,
        write: (chunk: Uint8Array | string | Socket.CloseEvent) =>
          Socket.isCloseEvent(chunk) && chunk.code > 1000
            ? Effect.sync(() => conn?.resetAndDestroy())
            : writer.write(chunk)
      }))
    }))
})

export const nodeTcp: TestTransport.TestTransport = {
  name: "tcp",
  listen: Effect.gen(function*() {
    const socketServer = yield* Effect.orDie(NodeTransport.makeServer({ host: "127.0.0.1", port: 0 }))
    // Taken once the listener is bound: what must come back to it is every
    // connection's socket, on both sides.
    const baseline = handleBaseline()
    const port = socketServer.address._tag === "UnixPathAddress" ? 0 : socketServer.address.port
    return {
      socketServer,
      dial: dialWithReset(port),
      assertNoLeaks: assertHandlesBackToBaseline(baseline)
    }
  })
}
