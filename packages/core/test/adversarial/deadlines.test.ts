/**
 * Adversarial timing: slowloris (a frame trickled byte by byte), an idle
 * connection, and a half-open peer (one that stops reading and writing while
 * the server has output for it). Over memory, time is the `TestClock`; over
 * real TCP the same cases run with deadlines of a few hundred milliseconds,
 * since there the timeout itself is what is under test.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Connection from "../../src/Connection.ts"
import type * as ConnectionError from "../../src/ConnectionError.ts"
import * as Framing from "../../src/Framing.ts"
import * as LineCodec from "../../src/LineCodec.ts"
import * as NodeHandles from "@socket-to-me/testkit/NodeHandles"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as Hostile from "../support/Hostile.ts"
import { tcp as nodeTcp } from "@socket-to-me/testkit/TcpTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"

const lineEcho = (frameDeadline: Duration.Input): Connection.Handler<ConnectionError.ConnectionError> =>
  Framing.handler(LineCodec.make({ maxLineBytes: 1024 }), (lines) => lines, { frameDeadline })

const F = "F".charCodeAt(0)
const floodChunk = new Uint8Array(16 * 1024)

// Echoes, except that a chunk starting with "F" starts an endless flood of
// output: what a peer that asked for a big download and then vanished leaves
// the server doing.
const echoOrFlood: Connection.Handler = (input) =>
  input.pipe(Stream.flatMap((chunk) => chunk[0] === F ? Stream.forever(Stream.succeed(floodChunk)) : Stream.succeed(chunk)))

const millisSince = (start: number) => Effect.map(Clock.currentTimeMillis, (now) => now - start)

describe("adversarial deadlines over memory (TestClock)", () => {
  it.effect("slowloris: a line trickled one byte a second is cut at the frame deadline; a steady client is not", () =>
    Effect.gen(function*() {
      const server = yield* Hostile.serve(TestTransport.memory, lineEcho("10 seconds"), { idleTimeout: "1 minute" })
      yield* Effect.scoped(Effect.gen(function*() {
        const steady = yield* TestPeer.connect(server)
        const attacker = yield* TestPeer.connect(server)
        for (let second = 0; second < 10; second++) {
          if (second > 0) yield* TestClock.adjust("1 second")
          yield* attacker.send("x")
          if (second % 3 === 0) assert.strictEqual(yield* steady.roundTrip(`tick ${second}\n`), `tick ${second}\n`)
        }
        // Ten bytes over nine seconds, none completing the line: still within
        // the deadline. The server reads the first byte at 0 s (or, at the
        // latest, with the second at 1 s), so by 11 s the line is overdue.
        assert.lengthOf(server.exits, 0)
        yield* TestClock.adjust("2 seconds")
        const ended = yield* server.nextExit
        assert.strictEqual(ended.reason._tag, "FrameTimeout")
        assert.deepInclude(ended.reason, { after: Duration.seconds(10) })
        assert.include(["eof", "PeerReset"], (yield* attacker.readToEnd).end)
        assert.strictEqual(yield* steady.roundTrip("still here\n"), "still here\n")
        assert.strictEqual(yield* server.server.activeConnections, 1)
      }))
      yield* Hostile.assertClean(server)
    }).pipe(Hostile.noTroubles))

  it.effect("an idle connection is closed at the idle timeout; a busy bystander is not", () =>
    Effect.gen(function*() {
      const server = yield* Hostile.serve(TestTransport.memory, Hostile.echo, { idleTimeout: "10 seconds" })
      yield* Effect.scoped(Effect.gen(function*() {
        const idle = yield* TestPeer.connect(server)
        const busy = yield* TestPeer.connect(server)
        assert.strictEqual(yield* idle.roundTrip("hello"), "hello")
        for (let second = 0; second < 10; second += 5) {
          assert.strictEqual(yield* busy.roundTrip(`at ${second}`), `at ${second}`)
          yield* TestClock.adjust("5 seconds")
          if (second === 0) assert.lengthOf(server.exits, 0)
        }
        const ended = yield* server.nextExit
        assert.strictEqual(ended.reason._tag, "IdleTimeout")
        assert.deepInclude(ended.reason, { after: Duration.seconds(10) })
        assert.strictEqual((yield* idle.readToEnd).end, "eof")
        assert.strictEqual(yield* busy.roundTrip("at 10"), "at 10")
        yield* TestClock.adjust("9 seconds")
        assert.lengthOf(server.exits, 1)
      }))
      yield* Hostile.assertClean(server)
    }).pipe(Hostile.noTroubles))

  it.effect("a half-open peer (stops reading and writing while output is pending) is reclaimed by the idle timeout", () =>
    Effect.gen(function*() {
      const { sockets, transport } = Hostile.probe(TestTransport.memory)
      const server = yield* Hostile.serve(transport, echoOrFlood, { idleTimeout: "10 seconds" })
      yield* Effect.scoped(Effect.gen(function*() {
        const bystander = yield* TestPeer.connect(server)
        assert.strictEqual(yield* bystander.roundTrip("hello"), "hello")
        const vanished = yield* TestPeer.connect(server)
        yield* vanished.send("F")
        // The server is now stuck writing to a peer that will never read.
        const stuck = yield* Hostile.awaitStuckWrite(sockets)
        assert.strictEqual(stuck, sockets[1])
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* bystander.roundTrip("halfway"), "halfway")
        yield* TestClock.adjust("5 seconds")
        const ended = yield* server.nextExit
        assert.strictEqual(ended.reason._tag, "IdleTimeout")
        // The stuck write was interrupted and the socket released once, while
        // the peer still holds its end.
        assert.deepInclude(stuck, { writesInterrupted: 1, readerReleased: 1, writerReleased: 1 })
        assert.isAtMost(stuck.closeEvents, 1)
        assert.strictEqual(yield* bystander.roundTrip("after"), "after")
      }))
      yield* Hostile.assertClean(server)
    }).pipe(Hostile.noTroubles))
})

describe("adversarial deadlines over tcp (short real deadlines)", () => {
  it.live("slowloris: a line trickled every 20 ms is cut at a 200 ms frame deadline", () =>
    Effect.gen(function*() {
      const server = yield* Hostile.serve(nodeTcp, lineEcho("200 millis"), { idleTimeout: "5 seconds" })
      yield* Effect.scoped(Effect.gen(function*() {
        const steady = yield* TestPeer.connect(server)
        assert.strictEqual(yield* steady.roundTrip("before\n"), "before\n")
        const attacker = yield* TestPeer.connect(server)
        const start = yield* Clock.currentTimeMillis
        // Trickles until the server hangs up (then the write fails), at most 2 s.
        const trickle = Effect.forever(Effect.andThen(attacker.send("x"), Effect.sleep("20 millis"))).pipe(
          Effect.ignore,
          Effect.andThen(Effect.never)
        )
        const ended = yield* Effect.raceFirst(server.nextExit, trickle).pipe(Effect.timeout("2 seconds"))
        const elapsed = yield* millisSince(start)
        assert.strictEqual(ended.reason._tag, "FrameTimeout")
        assert.isAtLeast(elapsed, 150)
        assert.include(["eof", "PeerReset"], (yield* attacker.readToEnd).end)
        assert.strictEqual(yield* steady.roundTrip("after\n"), "after\n")
      }))
      yield* Hostile.assertClean(server)
    }).pipe(Hostile.noTroubles))

  it.live("an idle connection is closed at a 200 ms idle timeout; a busy bystander is not", () =>
    Effect.gen(function*() {
      const server = yield* Hostile.serve(nodeTcp, Hostile.echo, { idleTimeout: "200 millis" })
      yield* Effect.scoped(Effect.gen(function*() {
        const busy = yield* TestPeer.connect(server)
        const idle = yield* TestPeer.connect(server)
        assert.strictEqual(yield* idle.roundTrip("hello"), "hello")
        const start = yield* Clock.currentTimeMillis
        const keepBusy = Effect.forever(
          // A round trip is never cut in half when the race ends, or its echo
          // would still be in flight for the next one to read.
          Effect.andThen(Effect.uninterruptible(busy.roundTrip("ping")), Effect.sleep("40 millis"))
        )
        const ended = yield* Effect.raceFirst(server.nextExit, Effect.andThen(keepBusy, Effect.never)).pipe(
          Effect.timeout("2 seconds")
        )
        const elapsed = yield* millisSince(start)
        assert.strictEqual(ended.reason._tag, "IdleTimeout")
        assert.isAtLeast(elapsed, 150)
        assert.strictEqual((yield* idle.readToEnd).end, "eof")
        assert.strictEqual(yield* busy.roundTrip("after"), "after")
        assert.strictEqual(yield* server.server.activeConnections, 1)
      }))
      yield* Hostile.assertClean(server)
    }).pipe(Hostile.noTroubles))

  it.live("a half-open peer is reclaimed by a 300 ms idle timeout, and its server socket is released at once", () =>
    Effect.gen(function*() {
      const { sockets, transport } = Hostile.probe(nodeTcp)
      const server = yield* Hostile.serve(transport, echoOrFlood, { idleTimeout: "300 millis" })
      const baseline = NodeHandles.countHandles()
      yield* Effect.scoped(Effect.gen(function*() {
        const bystander = yield* TestPeer.connect(server)
        assert.strictEqual(yield* bystander.roundTrip("hello"), "hello")
        const vanished = yield* TestPeer.connect(server)
        yield* vanished.send("F")
        const stuck = yield* Hostile.awaitStuckWrite(sockets)
        assert.strictEqual(stuck, sockets[1])
        const keepBusy = Effect.forever(
          Effect.andThen(Effect.uninterruptible(bystander.roundTrip("ping")), Effect.sleep("40 millis"))
        )
        const ended = yield* Effect.raceFirst(server.nextExit, Effect.andThen(keepBusy, Effect.never)).pipe(
          Effect.timeout("2 seconds")
        )
        assert.strictEqual(ended.reason._tag, "IdleTimeout")
        assert.deepInclude(stuck, { writesInterrupted: 1, readerReleased: 1, writerReleased: 1 })
        // The peer still holds its socket (it never reads, never closes): what
        // must be gone is the server's, or every such peer costs a file
        // descriptor forever. Left: the bystander's two ends and the peer's one.
        yield* NodeHandles.assertHandlesBackToBaseline({
          ...baseline,
          TCPSocketWrap: (baseline["TCPSocketWrap"] ?? 0) + 3
        })
        assert.strictEqual(yield* bystander.roundTrip("after"), "after")
      }))
      yield* Hostile.assertClean(server)
    }).pipe(Hostile.noTroubles))
})
