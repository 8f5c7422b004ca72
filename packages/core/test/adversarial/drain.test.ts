/**
 * Adversarial shutdown: a handler that never returns (the drain waits the
 * grace period, then interrupts it), a forced stop, and an interruption that
 * lands while the server is blocked writing to a peer that never reads.
 * Grace periods run on the `TestClock` over memory and are a few hundred
 * milliseconds over real TCP; the interrupted write needs no clock at all.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Connection from "../../src/Connection.ts"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as NodeHandles from "@socket-to-me/testkit/NodeHandles"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as Hostile from "../support/Hostile.ts"
import { all as transports, tcp as nodeTcp } from "@socket-to-me/testkit/TcpTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"

const byte = (letter: string) => letter.charCodeAt(0)
const floodChunk = new Uint8Array(16 * 1024)

/**
 * The first byte a client sends picks how its connection behaves:
 * - "P" (polite): replies "ok", then says "bye" and ends when the server drains;
 * - "S" (stubborn): replies "ok", then never ends and ignores the drain;
 * - "F" (flood): sends output forever, whoever reads it.
 */
const behaviours: Connection.Handler = (input, info) =>
  input.pipe(
    Stream.take(1),
    Stream.flatMap((first) => {
      const ok = Stream.succeed(Bytes.encode("ok\n"))
      switch (first[0]) {
        case byte("P"):
          return Stream.concat(ok, Stream.fromEffect(Effect.as(info.draining, Bytes.encode("bye\n"))))
        case byte("S"):
          return Stream.concat(ok, Stream.never)
        default:
          return Stream.forever(Stream.succeed(floodChunk))
      }
    })
  )

// A polite and a stubborn peer, both past their "ok" (their behaviour is set).
const politeAndStubborn = (server: Hostile.WatchedServer) =>
  Effect.gen(function*() {
    const polite = yield* TestPeer.connect(server)
    const stubborn = yield* TestPeer.connect(server)
    assert.strictEqual(yield* polite.roundTrip("P", "ok\n"), "ok\n")
    assert.strictEqual(yield* stubborn.roundTrip("S", "ok\n"), "ok\n")
    return { polite, stubborn }
  })

const summaryLogged = (logs: ReadonlyArray<Hostile.LogLine>, drained: number, interrupted: number) =>
  assert.isTrue(
    logs.some((line) => line.message === `drained ${drained}, interrupted ${interrupted}`),
    `summary "drained ${drained}, interrupted ${interrupted}" logged`
  )

describe("adversarial drain over memory (TestClock)", () => {
  it.effect("a handler that never returns is interrupted when the grace period ends; a polite one drains", () => {
    const logs = Hostile.captureLogs()
    return Effect.gen(function*() {
      const server = yield* Hostile.serve(TestTransport.memory, behaviours, { shutdownGrace: "5 seconds" })
      yield* Effect.scoped(Effect.gen(function*() {
        const { polite, stubborn } = yield* politeAndStubborn(server)

        const draining = yield* Effect.forkChild(server.server.drain)
        const goodbye = yield* polite.readToEnd
        assert.deepStrictEqual([Bytes.decode(goodbye.bytes), goodbye.end], ["bye\n", "eof"])
        assert.strictEqual((yield* server.nextExit).reason._tag, "Drained")

        yield* TestClock.adjust("4999 millis")
        assert.lengthOf(server.exits, 1)
        assert.strictEqual(yield* server.server.activeConnections, 1)
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(yield* Fiber.join(draining), { drained: 1, interrupted: 1 })
        assert.strictEqual((yield* server.nextExit).reason._tag, "Interrupted")
        assert.strictEqual((yield* stubborn.readToEnd).end, "eof")
        assert.strictEqual(yield* server.server.activeConnections, 0)
        // Idempotent: a second drain reports the first one's summary.
        assert.deepStrictEqual(yield* server.server.drain, { drained: 1, interrupted: 1 })
      }))
      yield* server.assertNoLeaks
      summaryLogged(logs.lines, 1, 1)
      assert.lengthOf(Hostile.troubles(logs.lines), 0)
    }).pipe(logs.provide)
  })

  it.effect("a client that arrives during the drain is refused at once, not left waiting", () =>
    Effect.gen(function*() {
      const server = yield* Hostile.serve(TestTransport.memory, behaviours, {
        shutdownGrace: "5 seconds",
        refusal: Bytes.encode("busy\n")
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const stubborn = yield* TestPeer.connect(server)
        assert.strictEqual(yield* stubborn.roundTrip("S", "ok\n"), "ok\n")
        const draining = yield* Effect.forkChild(server.server.drain)
        yield* Effect.yieldNow
        const late = yield* TestPeer.connect(server)
        const answer = yield* late.readToEnd
        assert.deepStrictEqual([Bytes.decode(answer.bytes), answer.end], ["busy\n", "eof"])
        assert.deepStrictEqual((yield* server.nextExit).reason, new Connection.Refused({ why: "draining", limit: 1024 }))
        // The one already admitted still has its grace period.
        assert.strictEqual(yield* server.server.activeConnections, 1)
        yield* TestClock.adjust("5 seconds")
        assert.deepStrictEqual(yield* Fiber.join(draining), { drained: 0, interrupted: 1 })
      }))
      yield* server.assertNoLeaks
    }).pipe(Hostile.noTroubles))

  it.effect("a forced stop interrupts at once, without waiting for the grace period", () => {
    const logs = Hostile.captureLogs()
    return Effect.gen(function*() {
      const force = yield* Deferred.make<void>()
      const server = yield* Hostile.serve(TestTransport.memory, behaviours, {
        shutdownGrace: "1 hour",
        forceStop: Deferred.await(force)
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const { polite, stubborn } = yield* politeAndStubborn(server)
        const draining = yield* Effect.forkChild(server.server.drain)
        assert.strictEqual((yield* polite.readToEnd).end, "eof")
        assert.strictEqual((yield* server.nextExit).reason._tag, "Drained")
        // The second signal: no clock moves, the stubborn one goes now.
        yield* Deferred.succeed(force, undefined)
        assert.deepStrictEqual(yield* Fiber.join(draining), { drained: 1, interrupted: 1 })
        assert.strictEqual(yield* Clock.currentTimeMillis, 0)
        assert.strictEqual((yield* server.nextExit).reason._tag, "Interrupted")
        assert.strictEqual((yield* stubborn.readToEnd).end, "eof")
      }))
      yield* server.assertNoLeaks
      summaryLogged(logs.lines, 1, 1)
      assert.lengthOf(Hostile.troubles(logs.lines), 0)
    }).pipe(logs.provide)
  })
})

describe("adversarial drain over tcp (short real grace)", () => {
  it.live("a handler that never returns is interrupted after a 200 ms grace period; a polite one drains", () => {
    const logs = Hostile.captureLogs()
    return Effect.gen(function*() {
      const server = yield* Hostile.serve(nodeTcp, behaviours, { shutdownGrace: "200 millis" })
      yield* Effect.scoped(Effect.gen(function*() {
        const { polite, stubborn } = yield* politeAndStubborn(server)
        const start = yield* Clock.currentTimeMillis
        const draining = yield* Effect.forkChild(server.server.drain)
        const goodbye = yield* polite.readToEnd
        assert.deepStrictEqual([Bytes.decode(goodbye.bytes), goodbye.end], ["bye\n", "eof"])
        const summary = yield* Effect.timeout(Fiber.join(draining), "2 seconds")
        const elapsed = (yield* Clock.currentTimeMillis) - start
        assert.deepStrictEqual(summary, { drained: 1, interrupted: 1 })
        assert.isAtLeast(elapsed, 150)
        assert.strictEqual((yield* stubborn.readToEnd).end, "eof")
      }))
      yield* server.assertNoLeaks
      assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["Drained", "Interrupted"])
      summaryLogged(logs.lines, 1, 1)
      assert.lengthOf(Hostile.troubles(logs.lines), 0)
    }).pipe(logs.provide)
  })
})

for (const transport of transports) {
  describe(`adversarial drain over ${transport.name}`, () => {
    it.live("interrupt during a write: the stuck write is interrupted, the socket closed once and released at once", () => {
      const logs = Hostile.captureLogs()
      return Effect.gen(function*() {
        const { sockets, transport: probed } = Hostile.probe(transport)
        const force = yield* Deferred.make<void>()
        const server = yield* Hostile.serve(probed, behaviours, { shutdownGrace: "1 hour", forceStop: Deferred.await(force) })
        const baseline = NodeHandles.countHandles()
        yield* Effect.scoped(Effect.gen(function*() {
          const polite = yield* TestPeer.connect(server)
          assert.strictEqual(yield* polite.roundTrip("P", "ok\n"), "ok\n")
          const reader = yield* TestPeer.connect(server)
          // Asks for the flood and never reads a byte of it.
          yield* reader.send("F")
          const stuck = yield* Hostile.awaitStuckWrite(sockets)
          assert.strictEqual(stuck, sockets[1])

          const draining = yield* Effect.forkChild(server.server.drain)
          assert.strictEqual((yield* polite.readToEnd).end, "eof")
          assert.strictEqual((yield* server.nextExit).reason._tag, "Drained")
          yield* Deferred.succeed(force, undefined)
          assert.deepStrictEqual(yield* Fiber.join(draining), { drained: 1, interrupted: 1 })
          assert.strictEqual((yield* server.nextExit).reason._tag, "Interrupted")
          assert.strictEqual(yield* server.server.activeConnections, 0)

          // The interruption hit the write, which ended once; the socket was
          // closed with one close event and released once, with nothing left
          // over for a finalizer to close again.
          assert.deepInclude(stuck, {
            writesInterrupted: 1,
            writesFailed: 0,
            closeEvents: 1,
            readerAcquired: 1,
            readerReleased: 1,
            writerAcquired: 1,
            writerReleased: 1
          })
          assert.strictEqual(stuck.writesStarted, stuck.writesDone + 1)
          // The polite connection ended in order: no close event, released once.
          assert.deepInclude(sockets[0], { closeEvents: 0, readerReleased: 1, writerReleased: 1 })
          if (transport.name === "tcp") {
            // Both peers still hold their sockets; the server's two are gone
            // although one had megabytes unsent to a peer that never reads.
            yield* NodeHandles.assertHandlesBackToBaseline({
              ...baseline,
              TCPSocketWrap: (baseline["TCPSocketWrap"] ?? 0) + 2
            })
          }
        }))
        yield* server.assertNoLeaks
        assert.strictEqual(sockets.length, 2)
        summaryLogged(logs.lines, 1, 1)
        assert.lengthOf(Hostile.troubles(logs.lines), 0)
      }).pipe(logs.provide)
    })
  })
}
