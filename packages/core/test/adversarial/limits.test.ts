/**
 * Adversarial load at the edges: one connection more than the limit, and a
 * listener whose accept fails (EMFILE) a few times before it recovers. Both
 * over the memory network and real loopback TCP; the accept backoff runs on
 * the `TestClock` over memory, where each retry can be pinned to its delay.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Leaks from "@socket-to-me/testkit/Leaks"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as TransportErrors from "@socket-to-me/testkit/TransportErrors"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as SocketServer from "effect/socket/SocketServer"
import { TestClock } from "effect/testing"
import * as Hostile from "../support/Hostile.ts"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"

const emfile = () =>
  new SocketServer.SocketServerError({
    reason: new SocketServer.SocketServerUnknownError({
      cause: TransportErrors.errnoError("EMFILE", "accept", "(too many open files)")
    })
  })

/**
 * A listener whose `run` fails with each error offered to `failures` (the
 * way `accept` fails on EMFILE), and otherwise serves as `transport` does.
 * `runs` counts the calls to `run`: the server's retries.
 */
const flaky = (transport: TestTransport.TestTransport) =>
  Effect.gen(function*() {
    const failures = yield* Queue.unbounded<SocketServer.SocketServerError>()
    const state = { runs: 0 }
    const wrapped: TestTransport.TestTransport = {
      name: transport.name,
      listen: Effect.map(transport.listen, (listener) => ({
        ...listener,
        socketServer: SocketServer.SocketServer.of({
          address: listener.socketServer.address,
          run: (handler) =>
            Effect.suspend(() => {
              state.runs++
              return Effect.raceFirst(listener.socketServer.run(handler), Effect.flatMap(Queue.take(failures), Effect.fail))
            })
        })
      }))
    }
    return { transport: wrapped, failures, state }
  })

// Lets other fibers run until `condition` holds; bounded by turns, not time.
const eventually = (condition: () => boolean, what: string) =>
  Effect.flatMap(Leaks.pollFor(Effect.sync(condition), 10_000), (holds) =>
    holds ? Effect.void : Effect.fail(new Error(`never happened: ${what}`)))

for (const transport of transports) {
  describe(`adversarial limits over ${transport.name}`, () => {
    it.live("limit + 1: the extra connection gets the refusal and is Refused; the others keep working; a freed slot is reused", () =>
      Effect.gen(function*() {
        const server = yield* Hostile.serve(transport, Hostile.echo, {
          maxConnections: 3,
          refusal: Bytes.encode("server full\n")
        })
        assert.strictEqual(server.server.maxConnections, 3)
        yield* Effect.scoped(Effect.gen(function*() {
          const admitted = yield* Effect.forEach([0, 1, 2], () => TestPeer.connect(server))
          for (const [i, peer] of admitted.entries()) {
            assert.strictEqual(yield* peer.roundTrip(`peer ${i}`), `peer ${i}`)
          }
          assert.strictEqual(yield* server.server.activeConnections, 3)

          const extra = yield* Effect.scoped(Effect.flatMap(TestPeer.connect(server), (peer) => peer.readToEnd))
          assert.strictEqual(Bytes.decode(extra.bytes), "server full\n")
          assert.strictEqual(extra.end, "eof")
          const refused = yield* server.nextExit
          assert.strictEqual(refused.reason._tag, "Refused")
          assert.deepInclude(refused.reason, { limit: 3 })

          // The admitted ones never noticed.
          for (const [i, peer] of admitted.entries()) {
            assert.strictEqual(yield* peer.roundTrip(`still ${i}`), `still ${i}`)
          }
          assert.strictEqual(yield* server.server.activeConnections, 3)

          // One leaves: once it has seen its end of stream, a newcomer is admitted.
          const leaving = admitted[0]!
          yield* leaving.duplex.end
          assert.strictEqual((yield* leaving.readToEnd).end, "eof")
          const newcomer = yield* TestPeer.connect(server)
          assert.strictEqual(yield* newcomer.roundTrip("admitted"), "admitted")
          assert.strictEqual((yield* server.nextExit).reason._tag, "PeerClosed")
          assert.strictEqual(yield* server.server.activeConnections, 3)
        }))
        yield* Hostile.assertClean(server)
        assert.deepStrictEqual(
          server.exits.map((exit) => exit.reason._tag).sort(),
          ["PeerClosed", "PeerClosed", "PeerClosed", "PeerClosed", "Refused"]
        )
      }).pipe(Hostile.noTroubles))
  })
}

describe("adversarial accept errors", () => {
  it.effect("over memory: EMFILE three times; the server logs, backs off 10/20/40 ms, keeps serving, and recovers", () => {
    const logs = Hostile.captureLogs()
    return Effect.gen(function*() {
      const { failures, state, transport } = yield* flaky(TestTransport.memory)
      const server = yield* Hostile.serve(transport, Hostile.echo)
      yield* Effect.scoped(Effect.gen(function*() {
        const existing = yield* TestPeer.connect(server)
        assert.strictEqual(yield* existing.roundTrip("before"), "before")

        yield* Queue.offerAll(failures, [emfile(), emfile(), emfile()])
        yield* eventually(() => logs.lines.length === 1, "first accept failure logged")
        // A connection made while accept is failing waits in the backlog.
        const newcomer = yield* TestPeer.connect(server)
        const reply = yield* Effect.forkChild(newcomer.roundTrip("queued"))
        assert.strictEqual(yield* existing.roundTrip("during"), "during")

        // Exponential backoff: the n-th retry comes 10 * 2^(n-1) ms after the failure.
        for (const [retry, delay] of [[2, 10], [3, 20], [4, 40]] as const) {
          yield* TestClock.adjust(delay - 1)
          assert.strictEqual(state.runs, retry - 1, `retry ${retry} waits its full ${delay} ms`)
          yield* TestClock.adjust(1)
          yield* eventually(() => state.runs === retry, `retry ${retry}`)
        }
        assert.strictEqual(yield* Fiber.join(reply), "queued")
        assert.strictEqual(yield* existing.roundTrip("after"), "after")
      }))
      yield* Hostile.assertClean(server)
      const warnings = logs.lines.filter((line) => line.level === "Warn")
      assert.lengthOf(warnings, 3)
      for (const warning of warnings) {
        assert.include(warning.message, "accept failed")
        assert.include(warning.message, "EMFILE")
      }
      assert.lengthOf(Hostile.troubles(logs.lines), 0)
    }).pipe(logs.provide)
  })

  it.live("over tcp: EMFILE three times; existing connections keep working and new ones are served after recovery", () => {
    const logs = Hostile.captureLogs()
    return Effect.gen(function*() {
      const tcp = transports.find((t) => t.name === "tcp")!
      const { failures, state, transport } = yield* flaky(tcp)
      const server = yield* Hostile.serve(transport, Hostile.echo)
      yield* Effect.scoped(Effect.gen(function*() {
        const existing = yield* TestPeer.connect(server)
        assert.strictEqual(yield* existing.roundTrip("before"), "before")
        yield* Queue.offerAll(failures, [emfile(), emfile(), emfile()])
        const newcomer = yield* TestPeer.connect(server)
        assert.strictEqual(yield* existing.roundTrip("during"), "during")
        // Served at the latest once the retries (10 + 20 + 40 ms) got past the
        // failures (Node may hand it to a retry that is about to fail, too).
        assert.strictEqual(yield* Effect.timeout(newcomer.roundTrip("queued"), "2 seconds"), "queued")
        // Waiting on the backoff's real delays is the point here: poll until
        // the fourth run is up, then a connection made after recovery is served.
        yield* Effect.sync(() => state.runs).pipe(
          Effect.repeat({ until: (runs) => runs === 4, schedule: Schedule.spaced("5 millis") }),
          Effect.timeout("2 seconds")
        )
        const late = yield* TestPeer.connect(server)
        assert.strictEqual(yield* Effect.timeout(late.roundTrip("recovered"), "2 seconds"), "recovered")
        assert.strictEqual(yield* existing.roundTrip("after"), "after")
      }))
      yield* Hostile.assertClean(server)
      const warnings = logs.lines.filter((line) => line.level === "Warn")
      assert.lengthOf(warnings, 3)
      for (const warning of warnings) assert.include(warning.message, "EMFILE")
      assert.lengthOf(Hostile.troubles(logs.lines), 0)
    }).pipe(logs.provide)
  })
})
