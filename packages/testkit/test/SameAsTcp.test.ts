/**
 * The same test bodies over the memory network and over real loopback TCP
 * (NodeSocketServer + NodeSocket.makeNet): the memory transport must behave
 * like the real one for echo, end of input, half-close and reader release.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import type * as SocketServer from "effect/socket/SocketServer"
import * as Bytes from "../src/Bytes.ts"
import * as Leaks from "../src/Leaks.ts"
import * as MemoryNetwork from "../src/MemoryNetwork.ts"
import * as NodeHandles from "../src/NodeHandles.ts"
import { describeError, echo, readExactly, readToEnd } from "./support/sockets.ts"

interface Transport {
  readonly name: string
  /** A bound server, a way to make client sockets (connecting when opened), and a leak check. */
  readonly setup: Effect.Effect<{
    readonly server: SocketServer.SocketServer["Service"]
    readonly client: Effect.Effect<Socket.Socket>
    readonly assertNoLeaks: Effect.Effect<void, Leaks.LeakError>
  }, unknown, Scope.Scope>
}

const memory: Transport = {
  name: "memory",
  setup: Effect.gen(function*() {
    const network = yield* MemoryNetwork.make()
    const server = yield* network.listen
    return { server, client: network.makeClient, assertNoLeaks: Leaks.assertNetworkIdle(network) }
  })
}

const tcp: Transport = {
  name: "tcp",
  setup: Effect.gen(function*() {
    const baseline = NodeHandles.handleBaseline()
    const server = yield* NodeSocketServer.make({ host: "127.0.0.1", port: 0 })
    const port = server.address._tag === "UnixPathAddress" ? 0 : server.address.port
    return {
      server,
      client: NodeSocket.makeNet({ host: "127.0.0.1", port }),
      assertNoLeaks: NodeHandles.assertHandlesBackToBaseline(baseline)
    }
  })
}

// Runs `body` against a server running `handler`, then checks for leaks once
// the server and every socket are closed.
const scenario = <A, E>(
  transport: Transport,
  handler: (socket: Socket.Socket) => Effect.Effect<void, unknown>,
  body: (client: Effect.Effect<Socket.Socket>) => Effect.Effect<A, E, Scope.Scope>
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const { assertNoLeaks, client, server } = yield* Scope.provide(transport.setup, scope)
    const result = yield* Effect.gen(function*() {
      yield* Effect.forkScoped(server.run(handler))
      return yield* Effect.scoped(body(client))
    }).pipe(Scope.provide(scope), Effect.ensuring(Scope.close(scope, Exit.void)))
    yield* assertNoLeaks
    return result
  })

// A server that reads its input to the end, then reports `text|how it ended`.
const reportInput = (saw: Deferred.Deferred<string>) => (socket: Socket.Socket) =>
  Effect.scoped(Effect.gen(function*() {
    const { pull } = yield* socket.reader
    const { bytes, end } = yield* readToEnd(pull)
    yield* Deferred.succeed(saw, `${Bytes.decode(bytes)}|${end}`)
  }))

for (const transport of [memory, tcp]) {
  describe(`the same socket behaviour over ${transport.name}`, () => {
    it.live("echo: bytes come back in order; after our FIN, the server's end of input, then ours", () =>
      Effect.gen(function*() {
        const payload = Bytes.pattern(200_000, 3)
        const reply = yield* scenario(transport, echo, (client) =>
          Effect.gen(function*() {
            const socket = yield* client
            const { pull } = yield* socket.reader
            const writeScope = yield* Scope.make()
            const writer = yield* Scope.provide(socket.writer, writeScope)
            // Written while reading, so both directions' backpressure is in play.
            const writing = yield* Effect.forkChild(Effect.gen(function*() {
              for (let offset = 0; offset < payload.byteLength; offset += 10_000) {
                yield* writer.write(payload.subarray(offset, offset + 10_000))
              }
              yield* Scope.close(writeScope, Exit.void)
            }))
            const reply = yield* readToEnd(pull)
            yield* Fiber.join(writing)
            return reply
          }))
        assert.deepStrictEqual(reply.bytes, payload)
        assert.strictEqual(reply.end, "close 1000")
      }))

    it.live("end of input: the server writes and returns; we read its bytes, then close 1000", () =>
      Effect.gen(function*() {
        const reply = yield* scenario(
          transport,
          (socket) =>
            Effect.scoped(Effect.gen(function*() {
              yield* socket.reader
              const writer = yield* socket.writer
              yield* writer.write("one;")
              yield* writer.write("two;")
            })),
          (client) => Effect.flatMap(Effect.flatMap(client, (socket) => socket.reader), ({ pull }) => readToEnd(pull))
        )
        assert.deepStrictEqual([Bytes.decode(reply.bytes), reply.end], ["one;two;", "close 1000"])
      }))

    it.live("half-close: we end our side and still get everything the server writes after seeing our FIN", () =>
      Effect.gen(function*() {
        const reply = yield* scenario(
          transport,
          (socket) =>
            Effect.scoped(Effect.gen(function*() {
              const { pull } = yield* socket.reader
              const writer = yield* socket.writer
              yield* writer.write("early;")
              const request = yield* readToEnd(pull)
              yield* writer.write(`got ${Bytes.decode(request.bytes)} then ${request.end};`)
              yield* writer.write("late;")
            })),
          (client) =>
            Effect.gen(function*() {
              const socket = yield* client
              const { pull } = yield* socket.reader
              const writeScope = yield* Scope.make()
              const writer = yield* Scope.provide(socket.writer, writeScope)
              yield* writer.write("request")
              yield* Scope.close(writeScope, Exit.void)
              return yield* readToEnd(pull)
            })
        )
        assert.deepStrictEqual(
          [Bytes.decode(reply.bytes), reply.end],
          ["early;got request then close 1000;late;", "close 1000"]
        )
      }))

    it.live("releasing the reader fails a pending pull with 1006; the server sees our orderly close", () =>
      Effect.gen(function*() {
        const serverSaw = yield* Deferred.make<string>()
        const local = yield* scenario(
          transport,
          reportInput(serverSaw),
          (client) =>
            Effect.gen(function*() {
              const socket = yield* client
              const readScope = yield* Scope.make()
              const { pull } = yield* Scope.provide(socket.reader, readScope)
              const writer = yield* socket.writer
              yield* writer.write("bye")
              const pending = yield* Effect.forkChild(Effect.flip(pull))
              // The server got our bytes, so our pull is waiting for its reply.
              yield* Effect.yieldNow
              yield* Scope.close(readScope, Exit.void)
              const local = describeError(yield* Fiber.join(pending))
              return [local, yield* Deferred.await(serverSaw)]
            })
        )
        assert.deepStrictEqual(local, ["close 1006", "bye|close 1000"])
      }))

    it.live("a CloseEvent of 1000 closes in order: the server reads our bytes, then close 1000", () =>
      Effect.gen(function*() {
        const serverSaw = yield* Deferred.make<string>()
        const seen = yield* scenario(
          transport,
          reportInput(serverSaw),
          (client) =>
            Effect.gen(function*() {
              const socket = yield* client
              const { pull } = yield* socket.reader
              const writer = yield* socket.writer
              yield* writer.write("last words")
              yield* writer.write(new Socket.CloseEvent(1000))
              return [describeError(yield* Effect.flip(pull)), yield* Deferred.await(serverSaw)]
            })
        )
        assert.deepStrictEqual(seen, ["close 1000", "last words|close 1000"])
      }))

    it.live("pulls return what is available without waiting for more", () =>
      Effect.gen(function*() {
        const got = yield* scenario(
          transport,
          (socket) =>
            Effect.scoped(Effect.gen(function*() {
              const { pull } = yield* socket.reader
              const writer = yield* socket.writer
              // Replies to each 4 bytes; the client waits for each reply.
              while (true) {
                const request = yield* Effect.result(readExactly(pull, 4))
                if (request._tag === "Failure") return
                yield* writer.write(`<${Bytes.decode(request.success)}>`)
              }
            })),
          (client) =>
            Effect.gen(function*() {
              const socket = yield* client
              const { pull } = yield* socket.reader
              const writer = yield* socket.writer
              const replies: Array<string> = []
              for (const request of ["aaaa", "bbbb", "cccc"]) {
                yield* writer.write(request)
                replies.push(Bytes.decode(yield* readExactly(pull, 6)))
              }
              return replies
            })
        )
        assert.deepStrictEqual(got, ["<aaaa>", "<bbbb>", "<cccc>"])
      }))
  })
}
