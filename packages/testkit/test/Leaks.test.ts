import { assert, describe, it } from "@effect/vitest"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as SocketServer from "effect/socket/SocketServer"
import * as Leaks from "../src/Leaks.ts"
import * as MemoryNetwork from "../src/MemoryNetwork.ts"
import * as NodeHandles from "../src/NodeHandles.ts"

describe("Leaks (memory network)", () => {
  it.effect("reports open sockets and live connections, and passes once they are closed", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      // A handler that never ends: the connection stays live.
      yield* Effect.forkScoped(server.run((socket) => Effect.andThen(socket.reader, Effect.never).pipe(Effect.scoped)))
      const scope = yield* Scope.make()
      const socket = yield* Scope.provide(network.dial, scope)
      yield* Scope.provide(socket.reader, scope)
      const leak = yield* Effect.flip(Leaks.assertIdle({ turns: 20 }))
      assert.strictEqual(leak.reason._tag, "MemoryLeak")
      assert.deepStrictEqual(
        { openSockets: (leak.reason as Leaks.MemoryLeak).openSockets, connections: (leak.reason as Leaks.MemoryLeak).connections },
        { openSockets: 2, connections: 1 }
      )
      assert.include(leak.message, "2 open socket(s), 1 live connection(s)")
      // The client leaves: the server's pull fails, but its handler still runs.
      yield* Scope.close(scope, Exit.void)
      const still = yield* Effect.flip(Leaks.assertIdle({ turns: 20 }))
      assert.deepStrictEqual((still.reason as Leaks.MemoryLeak).connections, 1)
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("checked runs the body in its own scope, then requires the network to be idle", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const served = yield* Leaks.checked(Effect.gen(function*() {
        const server = yield* network.listen
        yield* Effect.forkScoped(server.run((socket) => Effect.scoped(socket.reader)))
        const socket = yield* network.dial
        yield* socket.reader
        return "done"
      }))
      assert.strictEqual(served, "done")
      // A socket whose scope outlives the checked body is a leak.
      const outer = yield* Scope.make()
      const leaked = yield* Effect.flip(Leaks.checked(Effect.gen(function*() {
        const server = yield* network.listen
        yield* Effect.forkScoped(server.run((socket) => Effect.scoped(socket.reader)))
        const socket = yield* Scope.provide(network.dial, outer)
        yield* Scope.provide(socket.reader, outer)
      }), { turns: 20 }))
      assert.deepStrictEqual(leaked.reason, new Leaks.MemoryLeak({ openSockets: 1, connections: 0 }))
      yield* Scope.close(outer, Exit.void)
      yield* Leaks.assertIdle()
    }).pipe(Effect.provide(MemoryNetwork.layerNetwork())))
})

describe("NodeHandles", () => {
  it.live("real TCP: handles are back to baseline after the scopes close, and a kept socket is reported", () =>
    Effect.gen(function*() {
      const baseline = NodeHandles.handleBaseline()
      const leaked = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* NodeSocketServer.make({ host: "127.0.0.1", port: 0 })
        const port = server.address._tag === "InetAddressV4" || server.address._tag === "InetAddressV6"
          ? server.address.port
          : 0
        yield* Effect.forkScoped(server.run((socket) => Effect.scoped(Effect.andThen(socket.reader, Effect.never))))
        const client = yield* NodeSocket.makeNet({ host: "127.0.0.1", port })
        yield* client.reader
        return yield* Effect.flip(NodeHandles.assertHandlesBackToBaseline(baseline, { turns: 5 }))
      }))
      assert.strictEqual(leaked.reason._tag, "HandleLeak")
      assert.include(leaked.message, "TCPServerWrap: ")
      assert.include(leaked.message, "TCPSocketWrap: ")
      yield* NodeHandles.assertHandlesBackToBaseline(baseline)
    }))
})
