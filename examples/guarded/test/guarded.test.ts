/**
 * Chapter 5: attacks on the guarded server, one per limit, each ending in
 * the exit reason that limit promises, while a well-behaved client next to
 * the attacker is served throughout. Over the memory network, where time is
 * the `TestClock`: deadlines pass when the test says so, at once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Client, type Connection, LineCodec } from "@socket-to-me/core"
import { Bytes, TestTransport } from "@socket-to-me/testkit"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { guarded, maxLineBytes, serverOptions } from "../server.ts"

// #region helpers
// The guarded server with its own limits; `nextEnd` waits for the next
// connection to end and gives its exit reason.
const serve = Effect.gen(function*() {
  const ended = yield* Queue.unbounded<Connection.ExitReason>()
  const server = yield* TestTransport.serve(TestTransport.memory, guarded, {
    ...serverOptions,
    onEnd: (_info, reason) => Effect.asVoid(Queue.offer(ended, reason))
  })
  return { ...server, nextEnd: Queue.take(ended) }
})

// A client: `send` writes raw text, `next` is the next line from the
// server, or `null` once the server has closed the connection.
const connect = Effect.fnUntraced(function*(server: TestTransport.TestServer) {
  const duplex = yield* Client.connect(server.dial, { address: "memory", retries: 0 })
  const received = yield* Queue.unbounded<string | null>()
  yield* Effect.forkScoped(LineCodec.lines.decode(duplex.input).pipe(
    Stream.runForEach((line) => Queue.offer(received, line)),
    Effect.ignore, // an end or a reset: closed, either way
    Effect.andThen(Queue.offer(received, null))
  ))
  const send = (text: string) => duplex.write([Bytes.encode(text)])
  const ask = (line: string) => Effect.andThen(send(`${line}\n`), Queue.take(received))
  return { duplex, send, ask, next: Queue.take(received) }
})
// #endregion helpers

describe("chapter 5: attacking the guarded server", () => {
  // #region slowloris
  it.effect("slowloris: a line trickled a byte a second is cut at the frame deadline; a steady client is not", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const steady = yield* connect(server)
      const attacker = yield* connect(server)
      for (let second = 0; second < 4; second++) {
        yield* attacker.send("x")
        assert.strictEqual(yield* steady.ask(`tick ${second}`), `TICK ${second}`)
        yield* TestClock.adjust("1 second")
      }
      // Never silent, so the idle timeout never fires; but the line started
      // at 0 s is still not finished at 6 s.
      assert.lengthOf(server.exits, 0)
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* attacker.next, "error: line not finished within 5s")
      assert.deepInclude(yield* server.nextEnd, { _tag: "FrameTimeout", after: Duration.seconds(5) })
      assert.isNull(yield* attacker.next)
      assert.strictEqual(yield* steady.ask("still here"), "STILL HERE")
    }))
  // #endregion slowloris

  // #region oversized
  it.effect("an oversized line is refused as soon as it passes the cap, without waiting for its end", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const attacker = yield* connect(server)
      yield* attacker.send("x".repeat(4 * maxLineBytes)) // and no LF, ever
      assert.strictEqual(yield* attacker.next, `error: line longer than ${maxLineBytes} bytes`)
      assert.deepInclude(yield* server.nextEnd, { _tag: "FrameTooLarge", limit: maxLineBytes })
      assert.isNull(yield* attacker.next)
    }))
  // #endregion oversized

  // #region flood
  it.effect("a connection flood: past the limit, clients are refused at once, and the server keeps serving", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const { maxConnections } = serverOptions
      const clients = yield* Effect.forEach(Array.from({ length: maxConnections + 20 }), () => connect(server))
      // The twenty over the limit are told why and closed at once...
      for (let i = 0; i < 20; i++) {
        assert.deepInclude(yield* server.nextEnd, { _tag: "Refused", why: "limit", limit: maxConnections })
      }
      for (const refused of clients.slice(maxConnections)) {
        assert.strictEqual(yield* refused.next, "error: server full, try again later")
        assert.isNull(yield* refused.next)
      }
      // ...while the first hundred are served.
      assert.strictEqual(yield* server.server.activeConnections, maxConnections)
      assert.strictEqual(yield* clients[0]!.ask("hello"), "HELLO")
      // A connection that ends frees its slot for the next client.
      yield* clients[1]!.duplex.end
      assert.strictEqual((yield* server.nextEnd)._tag, "PeerClosed")
      const late = yield* connect(server)
      assert.strictEqual(yield* late.ask("made it"), "MADE IT")
    }))
  // #endregion flood

  // #region idle
  it.effect("a client that goes silent is closed at the idle timeout; one that talks is not", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const silent = yield* connect(server)
      const talking = yield* connect(server)
      yield* TestClock.adjust("20 seconds")
      assert.strictEqual(yield* talking.ask("at 20s"), "AT 20S")
      yield* TestClock.adjust("10 seconds")
      assert.deepInclude(yield* server.nextEnd, { _tag: "IdleTimeout", after: Duration.seconds(30) })
      assert.isNull(yield* silent.next)
      assert.strictEqual(yield* talking.ask("at 30s"), "AT 30S")
    }))
  // #endregion idle

  // #region drain
  it.effect("a drain (Ctrl-C): each connection hears goodbye and closes; nobody waits out the grace period", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const ann = yield* connect(server)
      const bob = yield* connect(server)
      assert.strictEqual(yield* ann.ask("hi"), "HI")
      assert.strictEqual(yield* bob.ask("hi"), "HI")
      const drain = yield* Effect.forkChild(server.server.drain)
      for (const client of [ann, bob]) {
        assert.strictEqual(yield* client.next, "* server shutting down, bye")
        assert.isNull(yield* client.next)
      }
      // The clock never moved: the grace period (2 seconds) was not needed.
      assert.deepStrictEqual(yield* Fiber.join(drain), { drained: 2, interrupted: 0 })
      assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["Drained", "Drained"])
    }))
  // #endregion drain
})
