import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Bytes from "../src/Bytes.ts"
import * as MemoryNetwork from "../src/MemoryNetwork.ts"
import * as TransportErrors from "../src/TransportErrors.ts"
import { describeError, echo, readExactly, readToEnd, split } from "./support/sockets.ts"

const withEchoServer = Effect.gen(function*() {
  const server = yield* SocketServer.SocketServer
  yield* Effect.forkScoped(server.run(echo))
  return yield* MemoryNetwork.MemoryNetwork
})

describe("MemoryNetwork", () => {
  it.effect.prop(
    "bytes round-trip in order whatever the write chunking",
    [Schema.Uint8Array, Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 })))],
    ([payload, sizes]) =>
      Effect.gen(function*() {
        const network = yield* withEchoServer
        const reply = yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* network.dial
          const { pull } = yield* socket.reader
          yield* Effect.scoped(Effect.gen(function*() {
            const writer = yield* socket.writer
            for (const piece of split(payload, sizes.length === 0 ? [7] : sizes)) yield* writer.write(piece)
          }))
          return yield* readToEnd(pull)
        }))
        assert.deepStrictEqual(reply.bytes, payload)
        assert.strictEqual(reply.end, "close 1000")
        yield* network.awaitIdle
      }).pipe(Effect.provide(MemoryNetwork.layer()))
  )

  it.effect("a pull returns everything that arrived since the last one, as written", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      const received = yield* Deferred.make<ReadonlyArray<string>>()
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.scoped(Effect.gen(function*() {
          const { pull } = yield* socket.reader
          const writer = yield* socket.writer
          yield* writer.write("ready")
          // Let the client write three chunks before reading any.
          yield* Effect.yieldNow
          const chunks = yield* readExactly(pull, 9)
          yield* Deferred.succeed(received, [Bytes.decode(chunks)])
        }))
      ))
      const socket = yield* network.dial
      const { pull } = yield* socket.reader
      const writer = yield* socket.writer
      assert.strictEqual(Bytes.decode(Bytes.concat(yield* pull)), "ready")
      yield* writer.writeAll([Bytes.encode("abc"), Bytes.encode("def")])
      yield* writer.write("ghi")
      assert.deepStrictEqual(yield* Deferred.await(received), ["abcdefghi"])
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("end of input: buffered bytes first, then SocketCloseError 1000, again on every pull", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      const result = yield* Deferred.make<{ readonly text: string; readonly end: string; readonly again: string }>()
      const clientDone = yield* Deferred.make<void>()
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.scoped(Effect.gen(function*() {
          yield* Deferred.await(clientDone)
          const { pull } = yield* socket.reader
          const { bytes, end } = yield* readToEnd(pull)
          const again = yield* Effect.flip(pull)
          yield* Deferred.succeed(result, { text: Bytes.decode(bytes), end, again: describeError(again) })
        }))
      ))
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* network.dial
        yield* socket.reader
        const writer = yield* socket.writer
        for (const word of ["one ", "two ", "three"]) yield* writer.write(word)
      }))
      yield* Deferred.succeed(clientDone, undefined)
      assert.deepStrictEqual(yield* Deferred.await(result), { text: "one two three", end: "close 1000", again: "close 1000" })
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("half-close: the client ends its side and still receives the server's output", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      // Reads the whole request, then answers: only possible with half-close.
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.scoped(Effect.gen(function*() {
          const { pull } = yield* socket.reader
          const writer = yield* socket.writer
          yield* writer.write("early;")
          const request = yield* readToEnd(pull)
          yield* writer.write(`got ${Bytes.decode(request.bytes)} then ${request.end}`)
        }))
      ))
      const client = yield* network.dialControlled
      const { pull } = yield* client.socket.reader
      const writer = yield* client.socket.writer
      yield* writer.write("request")
      yield* client.end
      const late = yield* Effect.flip(writer.write("late"))
      assert.strictEqual(TransportErrors.causeCode(late), "ERR_STREAM_WRITE_AFTER_END")
      const reply = yield* readToEnd(pull)
      assert.strictEqual(Bytes.decode(reply.bytes), "early;got request then close 1000")
      assert.strictEqual(reply.end, "close 1000")
      // Both directions finished: the socket closed itself, as Node's autoDestroy does.
      assert.strictEqual(yield* network.openSockets, 0)
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("releasing the writer's scope is a half-close too", () =>
    Effect.gen(function*() {
      const network = yield* withEchoServer
      const socket = yield* network.dial
      const { pull } = yield* socket.reader
      const writeScope = yield* Scope.make()
      const writer = yield* Scope.provide(socket.writer, writeScope)
      yield* writer.write("ping")
      yield* Scope.close(writeScope, Exit.void)
      const reply = yield* readToEnd(pull)
      assert.deepStrictEqual([Bytes.decode(reply.bytes), reply.end], ["ping", "close 1000"])
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("reset: the peer's pull fails with ECONNRESET (dropping buffered bytes) and its writes with EPIPE", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      const seen = yield* Deferred.make<{ readonly read: string; readonly write: string }>()
      const wrote = yield* Deferred.make<void>()
      const wasReset = yield* Deferred.make<void>()
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.scoped(Effect.gen(function*() {
          const { pull } = yield* socket.reader
          const writer = yield* socket.writer
          yield* Deferred.await(wasReset)
          const read = yield* Effect.flip(pull)
          const write = yield* Effect.flip(writer.write("too late"))
          yield* Deferred.succeed(seen, { read: describeError(read), write: describeError(write) })
        }))
      ))
      const client = yield* network.dialControlled
      yield* client.socket.reader
      const writer = yield* client.socket.writer
      yield* writer.write("unread bytes")
      yield* Deferred.succeed(wrote, undefined)
      yield* client.reset
      yield* Deferred.succeed(wasReset, undefined)
      assert.deepStrictEqual(yield* Deferred.await(seen), {
        read: "SocketReadError ECONNRESET",
        write: "SocketWriteError EPIPE"
      })
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("writing a CloseEvent above 1000 resets the peer; 1000 closes it in order", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      const ends = yield* Deferred.make<ReadonlyArray<string>>()
      const collected: Array<string> = []
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.scoped(Effect.gen(function*() {
          const { pull } = yield* socket.reader
          const { bytes, end } = yield* readToEnd(pull)
          collected.push(`${Bytes.decode(bytes)}|${end}`)
          if (collected.length === 2) yield* Deferred.succeed(ends, collected)
        }))
      ))
      for (const code of [1000, 4000]) {
        const local = yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* network.dial
          const { pull } = yield* socket.reader
          const writer = yield* socket.writer
          // Sent before the close: delivered for 1000, dropped by the reset for 4000
          // (unless the server already read it, which it cannot have: it runs later).
          yield* writer.write(`code ${code}`)
          yield* writer.write(new Socket.CloseEvent(code))
          return describeError(yield* Effect.flip(pull))
        }))
        assert.strictEqual(local, code === 1000 ? "close 1000" : "SocketReadError")
      }
      const result = yield* Deferred.await(ends)
      assert.sameMembers([...result], ["code 1000|close 1000", "|SocketReadError ECONNRESET"])
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("closing the reader's scope fails a suspended pull with 1006 and closes the connection", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      const serverEnd = yield* Deferred.make<string>()
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.scoped(Effect.gen(function*() {
          const { pull } = yield* socket.reader
          const { end } = yield* readToEnd(pull)
          yield* Deferred.succeed(serverEnd, end)
        }))
      ))
      const socket = yield* network.dial
      const readScope = yield* Scope.make()
      const { pull } = yield* Scope.provide(socket.reader, readScope)
      const pending = yield* Effect.forkChild(Effect.flip(pull))
      yield* Effect.yieldNow
      yield* Scope.close(readScope, Exit.void)
      assert.strictEqual(describeError(yield* Fiber.join(pending)), "close 1006")
      assert.strictEqual(yield* Deferred.await(serverEnd), "close 1000")
      yield* network.awaitIdle
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("writes wait until a reader is acquired, as over Node sockets", () =>
    Effect.gen(function*() {
      const network = yield* withEchoServer
      const socket = yield* network.dial
      const writer = yield* socket.writer
      const write = yield* Effect.forkChild(writer.write("hello"))
      yield* Effect.yieldNow
      assert.isUndefined(write.pollUnsafe())
      const { pull } = yield* socket.reader
      yield* Fiber.join(write)
      assert.strictEqual(Bytes.decode(yield* readExactly(pull, 5)), "hello")
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("backpressure: write waits while the peer has a high-water mark unread, resumes when it reads", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      const startReading = yield* Deferred.make<void>()
      const received = yield* Deferred.make<number>()
      yield* Effect.forkScoped(server.run((socket) =>
        Effect.scoped(Effect.gen(function*() {
          const { pull } = yield* socket.reader
          yield* Deferred.await(startReading)
          const { bytes } = yield* readToEnd(pull)
          yield* Deferred.succeed(received, bytes.byteLength)
        }))
      ))
      const client = yield* network.dialControlled
      yield* client.socket.reader
      const writer = yield* client.socket.writer
      // Below the mark: returns at once.
      yield* writer.write(Bytes.pattern(1000))
      // Reaches the mark: accepted, but the writer waits for the reader.
      const blocked = yield* Effect.forkChild(writer.write(Bytes.pattern(1100)))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.isUndefined(blocked.pollUnsafe(), "write is suspended while the peer does not read")
      yield* Deferred.succeed(startReading, undefined)
      yield* Fiber.join(blocked)
      yield* client.end
      assert.strictEqual(yield* Deferred.await(received), 2100)
    }).pipe(Effect.provide(MemoryNetwork.layer({ highWaterMark: 2048 }))))

  it.effect("dialing with no listener fails with ECONNREFUSED", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const error = yield* Effect.flip(network.dial)
      assert.strictEqual(error.reason._tag, "SocketOpenError")
      assert.strictEqual(TransportErrors.causeCode(error), "ECONNREFUSED")
      // The lazy client fails when it is opened, as NodeSocket.makeNet does.
      const client = yield* network.makeClient
      const lazy = yield* Effect.flip(Effect.scoped(client.reader))
      assert.strictEqual(TransportErrors.causeCode(lazy), "ECONNREFUSED")
      assert.strictEqual(yield* network.openSockets, 0)
    }).pipe(Effect.provide(MemoryNetwork.layerNetwork())))

  it.effect("connections dialed before run wait in the backlog; beyond it they are refused", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      const first = yield* network.dial
      const second = yield* network.dial
      const refused = yield* Effect.flip(network.dial)
      assert.strictEqual(TransportErrors.causeCode(refused), "ECONNREFUSED")
      yield* Effect.forkScoped(server.run(echo))
      for (const [socket, text] of [[first, "one"], [second, "two"]] as const) {
        const { pull } = yield* socket.reader
        const writer = yield* socket.writer
        yield* writer.write(text)
        assert.strictEqual(Bytes.decode(yield* readExactly(pull, 3)), text)
      }
    }).pipe(Effect.provide(MemoryNetwork.layer({ backlog: 2 }))))

  it.effect("a failing or dying handler does not stop the server", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      let served = 0
      yield* Effect.forkScoped(server.run((socket): Effect.Effect<void, string | Socket.SocketError> => {
        served++
        if (served === 1) return Effect.fail("handler failed")
        if (served === 2) return Effect.die(new Error("handler died"))
        return echo(socket)
      }))
      for (let i = 0; i < 2; i++) {
        const socket = yield* network.dial
        const { pull } = yield* socket.reader
        // The handler never opened the socket; it stays open (as over TCP) until we close it.
        yield* Effect.forkChild(pull)
      }
      const socket = yield* network.dial
      const { pull } = yield* socket.reader
      const writer = yield* socket.writer
      yield* writer.write("still serving")
      assert.strictEqual(Bytes.decode(yield* readExactly(pull, 13)), "still serving")
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("open sockets and live connections return to zero once every scope closed", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* network.listen
        yield* Effect.forkScoped(server.run(echo))
        yield* Effect.forEach([1, 2, 3], (n) =>
          Effect.scoped(Effect.gen(function*() {
            const socket = yield* network.dial
            const { pull } = yield* socket.reader
            const writer = yield* socket.writer
            yield* writer.write(Bytes.pattern(n * 100))
            yield* readExactly(pull, n * 100)
            const stats = yield* network.stats
            assert.isAtLeast(stats.openSockets, 2)
            assert.isAtLeast(stats.connections, 1)
          })), { concurrency: "unbounded" })
        // A connection still open when the server stops is closed by it too.
        const lingering = yield* network.dial
        yield* lingering.reader
        assert.isAtLeast(yield* network.openSockets, 2)
      }))
      yield* network.awaitIdle
      assert.deepStrictEqual(yield* network.stats, { openSockets: 0, connections: 0 })
    }).pipe(Effect.provide(MemoryNetwork.layerNetwork())))

  it.effect("binding a second listener fails with EADDRINUSE", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const error = yield* Effect.flip(network.listen)
      assert.strictEqual(error.reason._tag, "SocketServerOpenError")
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("the layer reports a fake 127.0.0.1 address", () =>
    Effect.gen(function*() {
      const server = yield* SocketServer.SocketServer
      assert.strictEqual(server.address._tag, "InetAddressV4")
    }).pipe(Effect.provide(Layer.fresh(MemoryNetwork.layer({ port: 4242 })))))

  it.effect("handlers see the connection's addresses and no Scope of the server's", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork.MemoryNetwork
      const server = yield* SocketServer.SocketServer
      const seen = yield* Deferred.make<{ readonly local: string; readonly remote: string; readonly scope: boolean }>()
      yield* Effect.forkScoped(server.run(() =>
        Effect.gen(function*() {
          // Optional, as core reads it: it is not a requirement of `run`.
          const addresses = yield* Effect.serviceOption(SocketAddresses.SocketAddresses)
          const scope = yield* Effect.serviceOption(Scope.Scope)
          yield* Deferred.succeed(seen, {
            local: addresses._tag === "Some" ? addresses.value.local : "none",
            remote: addresses._tag === "Some" ? addresses.value.remote : "none",
            scope: scope._tag === "Some"
          })
        })
      ))
      yield* network.dial
      assert.deepStrictEqual(yield* Deferred.await(seen), {
        local: "127.0.0.1:7357",
        remote: "127.0.0.1:49152",
        scope: false
      })
    }).pipe(Effect.provide(MemoryNetwork.layer())))

  it.effect("layerClient provides a Socket that connects when opened, like NodeSocket.layerNet", () =>
    Effect.gen(function*() {
      yield* withEchoServer
      const socket = yield* Socket.Socket
      const { pull } = yield* socket.reader
      const writer = yield* socket.writer
      yield* writer.write("via layer")
      assert.strictEqual(Bytes.decode(yield* readExactly(pull, 9)), "via layer")
    }).pipe(Effect.provide(MemoryNetwork.layerClient.pipe(Layer.provideMerge(MemoryNetwork.layer())))))
})
