/**
 * The TCP listener itself: bind errors are classified, connections that
 * arrive before the server runs wait for it (nothing read, nothing lost),
 * those still waiting when it closes are closed too, and every handler
 * sees its connection's addresses. The dialer gives clients the same
 * flowing socket: a reset reaches a write at once.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Client from "@socket-to-me/core/Client"
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as NetAddress from "effect/net/NetAddress"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import * as NodeTransport from "../src/NodeTransport.ts"

const portOf = (address: NetAddress.SocketAddress) => address._tag === "UnixPathAddress" ? 0 : address.port

// A raw client that sends `message`, half-closes, and gives everything it
// receives until the server closes.
const exchange = (port: number, message: string) =>
  Effect.callback<string, Error>((resume) => {
    const client = Net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true })
    const received: Array<Buffer> = []
    client.on("data", (chunk: Buffer) => received.push(chunk))
    client.on("error", (error) => resume(Effect.fail(error)))
    client.on("close", () => resume(Effect.succeed(Buffer.concat(received).toString())))
    client.end(message)
  })

// Replies with the peer's address and what it sent.
const reply = (socket: Socket.Socket) =>
  Effect.scoped(Effect.gen(function*() {
    // Provided per connection by the transport, not by the caller.
    const addresses = Option.getOrThrow(yield* Effect.serviceOption(SocketAddresses.SocketAddresses))
    const pull = yield* Socket.readerBytes(socket)
    let text = ""
    while (true) {
      const exit = yield* Effect.exit(pull)
      if (Exit.isFailure(exit)) break
      for (const chunk of exit.value) text += Buffer.from(chunk).toString()
    }
    const writer = yield* socket.writer
    yield* writer.write(`${addresses.remote.startsWith("127.0.0.1:") ? "from loopback" : addresses.remote}: ${text}`)
  }))

describe("NodeTransport.makeServer", () => {
  it.effect("a connection that arrives before the server runs waits for it, and is served", () =>
    Effect.gen(function*() {
      const server = yield* NodeTransport.makeServer({ host: "127.0.0.1", port: 0 })
      const early = yield* Effect.forkChild(exchange(portOf(server.address), "early"), { startImmediately: true })
      // Accepted only once the client's connect completes: wait for the
      // connection to be pending on the listener before running.
      yield* Effect.yieldNow
      const running = yield* Effect.forkChild(server.run(reply))
      assert.strictEqual(yield* Fiber.join(early), "from loopback: early")
      assert.strictEqual(yield* exchange(portOf(server.address), "late"), "from loopback: late")
      yield* Fiber.interrupt(running)
    }).pipe(Effect.scoped))

  it.effect("closing the listener closes the connections still waiting for a handler", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Scope.provide(NodeTransport.makeServer({ host: "127.0.0.1", port: 0 }), scope)
      const waiting = yield* Effect.forkChild(Effect.result(exchange(portOf(server.address), "never served")), {
        startImmediately: true
      })
      yield* Effect.yieldNow
      yield* Scope.close(scope, Exit.void)
      // Closed without a reply, in order or by a reset, but closed: a
      // waiting socket that was not would keep the client here forever.
      const result = yield* Fiber.join(waiting)
      if (Result.isSuccess(result)) assert.strictEqual(result.success, "")
      else assert.include(["ECONNRESET", "ECONNREFUSED"], (result.failure as { readonly code?: string }).code)
    }))

  it.effect("a port in use is AddressInUse", () =>
    Effect.gen(function*() {
      const first = yield* NodeTransport.makeServer({ host: "127.0.0.1", port: 0 })
      const error = yield* Effect.flip(NodeTransport.makeServer({ host: "127.0.0.1", port: portOf(first.address) }))
      assert.strictEqual(error.reason._tag, "AddressInUse")
    }).pipe(Effect.scoped))
})

describe("NodeTransport.dial", () => {
  // A raw server that resets each connection as soon as it has read `ready`
  // from it, so the client knows when the reset is on its way.
  const resettingServer = Effect.acquireRelease(
    Effect.callback<Net.Server>((resume) => {
      const server = Net.createServer((conn) => conn.once("data", () => conn.resetAndDestroy()))
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  )

  it.effect("a write after the peer's reset fails as PeerReset, at once and each time (it never waits for a drain)", () =>
    Effect.gen(function*() {
      const server = yield* resettingServer
      const port = (server.address() as Net.AddressInfo).port
      const duplex = yield* Client.connect(NodeTransport.dial({ host: "127.0.0.1", port }), {
        address: `127.0.0.1:${port}`,
        retries: 0
      })
      yield* duplex.write([new TextEncoder().encode("ready")])
      // The reset ends the client's input with a failure.
      const input = yield* Effect.flip(Stream.runDrain(duplex.input))
      assert.strictEqual(input.reason._tag, "PeerReset")
      for (let attempt = 0; attempt < 3; attempt++) {
        const error = yield* Effect.flip(duplex.write([new Uint8Array(64 * 1024)]))
        assert.strictEqual(error.reason._tag, "PeerReset", `write ${attempt}`)
      }
    }).pipe(Effect.scoped))

  it.effect("a refused connection fails with Node's ECONNREFUSED as its cause", () =>
    Effect.gen(function*() {
      const server = yield* resettingServer
      const port = (server.address() as Net.AddressInfo).port
      yield* Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
      const error = yield* Effect.flip(NodeTransport.dial({ host: "127.0.0.1", port }))
      assert.strictEqual((error.reason as { readonly cause?: { readonly code?: string } }).cause?.code, "ECONNREFUSED")
    }).pipe(Effect.scoped))
})
