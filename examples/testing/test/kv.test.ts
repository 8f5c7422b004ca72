/**
 * Chapter 6, the key-value server: one test body over the memory network
 * and over real TCP, faults injected at the client's socket, expiry on the
 * `TestClock`, and leak checks after every test.
 */
import { assert, describe, it } from "@effect/vitest"
import { Client, type Connection, LineCodec } from "@socket-to-me/core"
import { Bytes, Faults, TcpTransport, TestTransport } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Queue from "effect/Queue"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { kv, makeStore } from "../server.ts"

// #region client
// The key-value server over `transport`, with an empty store; `nextEnd`
// waits for the next connection to end and gives its exit reason.
const serve = Effect.fnUntraced(function*(transport: TestTransport.TestTransport) {
  const ended = yield* Queue.unbounded<Connection.ExitReason>()
  const server = yield* TestTransport.serve(transport, kv(yield* makeStore), {
    onEnd: (_info, reason) => Effect.asVoid(Queue.offer(ended, reason))
  })
  return { ...server, nextEnd: Queue.take(ended) }
})

// A client of `server` whose socket goes through `fault` (none by default).
// `ask` sends one command and waits for its reply line.
const connect = Effect.fnUntraced(function*(
  server: TestTransport.TestServer,
  fault: (socket: Socket.Socket) => Socket.Socket = identity
) {
  const duplex = yield* Client.connect(Effect.map(server.dial, fault), { address: "test", retries: 0 })
  const replies = yield* Queue.unbounded<string | null>()
  yield* Effect.forkScoped(LineCodec.lines.decode(duplex.input).pipe(
    Stream.runForEach((line) => Queue.offer(replies, line)),
    Effect.ignore,
    Effect.andThen(Queue.offer(replies, null))
  ))
  const send = (text: string) => duplex.write([Bytes.encode(text)])
  return { duplex, send, ask: (command: string) => Effect.andThen(send(`${command}\n`), Queue.take(replies)) }
})
// #endregion client

// #region transports
// `TcpTransport.all` is the memory network, then real loopback TCP (port 0
// on 127.0.0.1, with the product's Node listener): every test in this block
// runs once over each.
describe.each(TcpTransport.all)("the key-value server over $name", (transport) => {
  it.live("connections share one keyspace: set on one, get and delete on another", () =>
    Effect.gen(function*() {
      const server = yield* serve(transport)
      yield* Effect.scoped(Effect.gen(function*() {
        const ann = yield* connect(server)
        const bob = yield* connect(server)
        assert.strictEqual(yield* ann.ask("SET greeting hello"), "OK")
        assert.strictEqual(yield* bob.ask("GET greeting"), "hello")
        assert.strictEqual(yield* bob.ask("DEL greeting"), "1")
        assert.strictEqual(yield* ann.ask("GET greeting"), "(nil)")
        assert.strictEqual(yield* ann.ask("FLY away"), "ERR unknown command")
      }))
      // Both clients closed: both connections ended in order, and nothing
      // they opened is left (memory sockets, or the process's TCP handles).
      yield* server.server.awaitIdle
      assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["PeerClosed", "PeerClosed"])
      yield* server.assertNoLeaks
    }))

  it.live("200 clients come and go, 20 at a time: every one answered, nothing left behind", () =>
    Effect.gen(function*() {
      const server = yield* serve(transport)
      const replies = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => Effect.scoped(Effect.flatMap(connect(server), (client) => client.ask(`SET key${i} ${i}`))),
        { concurrency: 20 }
      )
      assert.deepStrictEqual(new Set(replies), new Set(["OK"]))
      yield* server.server.awaitIdle
      assert.strictEqual(server.exits.length, 200)
      yield* server.assertNoLeaks
    }))
})
// #endregion transports

describe("the key-value server, with faults and time (memory network)", () => {
  // #region faults
  it.effect("a command sent one byte at a time, then a reset in the middle of the next one", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestTransport.memory)
      const reader = yield* connect(server)
      yield* Effect.scoped(Effect.gen(function*() {
        // Every write of this client goes out one byte at a time, and its
        // connection is reset after 13 bytes: "SET a 1\n" and "SET b".
        const flaky = yield* connect(server, (socket) =>
          Faults.resetAfter(13, { direction: "write" })(Faults.bytewise(socket, { direction: "write" })))
        assert.strictEqual(yield* flaky.ask("SET a 1"), "OK")
        yield* Effect.ignore(flaky.send("SET b 2\n"))
      }))
      assert.strictEqual((yield* server.nextEnd)._tag, "PeerReset")
      // What was whole was done; what was cut was not; the others carry on.
      assert.strictEqual(yield* reader.ask("GET a"), "1")
      assert.strictEqual(yield* reader.ask("GET b"), "(nil)")
    }))
  // #endregion faults

  // #region expiry
  it.effect("a key set with a time to live expires exactly then", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestTransport.memory)
      const client = yield* connect(server)
      assert.strictEqual(yield* client.ask("SET session abc 10"), "OK")
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual(yield* client.ask("GET session"), "abc")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* client.ask("GET session"), "(nil)")
      assert.strictEqual(yield* client.ask("DEL session"), "0")
    }))
  // #endregion expiry
})
