/**
 * The transport contract over the memory network and over the Node socket
 * the product uses (`NodeTransport`, through `TcpTransport.tcp`): the same
 * cases, the same expectations. Then transports broken on purpose, each in
 * one way, to show that the cases that should catch it do.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Transport from "@socket-to-me/core/Transport"
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import * as Leaks from "../src/Leaks.ts"
import * as MemoryNetwork from "../src/MemoryNetwork.ts"
import * as TcpTransport from "../src/TcpTransport.ts"
import * as TestTransport from "../src/TestTransport.ts"
import * as TransportContract from "../src/TransportContract.ts"

describe.each(TcpTransport.all)("the transport contract over $name", (transport) => {
  for (const contractCase of TransportContract.cases) {
    it.live(contractCase.name, () => contractCase.run(transport))
  }
})

// The memory network with each accepted socket passed through `f`, and each
// dialed one too unless `acceptedOnly`.
const memoryWith = (
  name: string,
  f: (socket: Socket.Socket) => Socket.Socket,
  options?: MemoryNetwork.Options & { readonly acceptedOnly?: boolean }
): TestTransport.TestTransport => ({
  name,
  listen: Effect.gen(function*() {
    const network = yield* MemoryNetwork.make(options)
    const socketServer = yield* Effect.orDie(network.listen)
    return {
      socketServer: SocketServer.SocketServer.of({
        address: socketServer.address,
        run: (handler) => socketServer.run((socket) => handler(f(socket)))
      }),
      dial: options?.acceptedOnly === true ? network.makeClient : Effect.map(network.makeClient, f),
      assertNoLeaks: Leaks.assertNetworkIdle(network)
    }
  })
})

const caseNamed = (prefix: string): TransportContract.Case => {
  const found = TransportContract.cases.find((contractCase) => contractCase.name.startsWith(prefix))
  if (found === undefined) throw new Error(`no case ${prefix}`)
  return found
}

// Runs the case and returns what it found wrong.
const violation = (prefix: string, transport: TestTransport.TestTransport, options?: TransportContract.Options) =>
  Effect.map(Effect.flip(caseNamed(prefix).run(transport, options)), (error) => error.message)

describe("the transport contract catches", () => {
  it.live("a transport that buffers without bound: both backpressure cases", () =>
    Effect.gen(function*() {
      const unbounded = memoryWith("unbounded", (socket) => socket, { highWaterMark: 2 ** 40 })
      const options = { maxBufferedBytes: 1024 * 1024 }
      for (const prefix of ["backpressure: a peer that does not read", "backpressure: a server that does not read"]) {
        assert.include(yield* violation(prefix, unbounded, options), "bytes accepted without waiting")
      }
    }))

  it.live("a transport that does not declare its failures: a reset reads as ReadFailed", () =>
    Effect.gen(function*() {
      const undeclared = memoryWith("undeclared", (socket) => Transport.declare(socket, Transport.undeclared))
      assert.include(yield* violation("reset:", undeclared), "PeerReset; got ReadFailed")
      assert.include(yield* violation("close while writing: a peer that resets while the server", undeclared), "got failed: WriteFailed")
    }))

  it.live("a writer whose release closes both directions: half-close", () =>
    Effect.gen(function*() {
      const fullClose = memoryWith("full close", (socket) =>
        Transport.wrapping(socket, Socket.make({
          reader: socket.reader,
          writer: Effect.acquireRelease(socket.writer, (writer) => Effect.ignore(writer.write(new Socket.CloseEvent(1000))))
        })))
      assert.include(yield* violation("half-close", fullClose), "what the peer read: 262183 bytes, as sent; got 0 bytes")
    }))

  it.live("a reader that hands chunks out of order: ordering", () =>
    Effect.gen(function*() {
      // Each pull's chunks come in reverse.
      const reversed = memoryWith("reversed", (socket) =>
        Transport.wrapping(socket, Socket.make({
          reader: Effect.map(socket.reader, (reader) => ({
            ...reader,
            pull: Effect.map(reader.pull, (chunks) => [...chunks].reverse() as unknown as typeof chunks)
          })),
          writer: socket.writer
        })), { acceptedOnly: true })
      assert.include(yield* violation("ordering", reversed), "first difference at byte")
    }))

  it.live("a write that never ends once its socket closed: close while writing", () =>
    Effect.gen(function*() {
      // A failed write hangs instead of failing.
      const hanging = memoryWith("hanging", (socket) =>
        Transport.wrapping(socket, Socket.make({
          reader: socket.reader,
          writer: Effect.map(socket.writer, (writer): Socket.Writer => ({
            write: (chunk) => Effect.catch(writer.write(chunk), () => Effect.never),
            writeAll: (chunks) => Effect.catch(writer.writeAll(chunks), () => Effect.never)
          }))
        })))
      const options: TransportContract.Options = { deadline: "1 second" }
      assert.include(yield* violation("close while writing: a server that closes", hanging, options), "the pending write to end within")
      assert.include(yield* violation("close while writing: a peer that resets while the server", hanging, options), "within")
    }))
})
