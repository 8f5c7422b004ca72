/**
 * Adversarial peers: a client that half-closes with output still pending, a
 * reset in the middle of a stream, a client gone before the server's handler
 * even started, and handlers that die. Every body runs over the memory
 * network and real loopback TCP, with a bystander that must not notice.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Connection from "../../src/Connection.ts"
import type * as ConnectionError from "../../src/ConnectionError.ts"
import * as Framing from "../../src/Framing.ts"
import * as LineCodec from "../../src/LineCodec.ts"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as Hostile from "../support/Hostile.ts"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"

// For each line, a 1 KiB reply; after the input ends, a last line with the
// count. The output outlives the input by far, which is what a half-close
// must allow.
const replyBytes = 1024
const bigReplies: Connection.Handler<ConnectionError.ConnectionError> = Framing.handler(
  LineCodec.make({ maxLineBytes: 1024 }),
  (lines) => {
    let count = 0
    return Stream.concat(
      lines.pipe(Stream.map((line) => {
        count++
        return `${line}:`.padEnd(replyBytes - 1, ".")
      })),
      Stream.suspend(() => Stream.succeed(`bye ${count}`))
    )
  }
)

class Boom extends Data.TaggedError("Boom")<{}> {}

// Echoes lines; "die" is a defect, "fail" a typed failure of the handler.
const fragile: Connection.Handler<ConnectionError.ConnectionError | Boom> = Framing.handler(
  LineCodec.make({ maxLineBytes: 1024 }),
  (lines) =>
    lines.pipe(Stream.mapEffect((line) =>
      line === "die"
        ? Effect.die(new Error("handler defect"))
        : line === "fail"
        ? Effect.fail(new Boom())
        : Effect.succeed(line)
    ))
)

const F = "F".charCodeAt(0)
const floodChunk = new Uint8Array(16 * 1024)

// Echoes, except that a chunk starting with "F" starts an endless flood of
// output, which a peer that does not read leaves blocked.
const floodOnFirstChunk: Connection.Handler = (input) =>
  input.pipe(Stream.flatMap((chunk) => chunk[0] === F ? Stream.forever(Stream.succeed(floodChunk)) : Stream.succeed(chunk)))

for (const transport of transports) {
  describe(`adversarial peers over ${transport.name}`, () => {
    it.live("client half-close: all pending output, and output made after the FIN, is still delivered", () =>
      Effect.gen(function*() {
        const server = yield* Hostile.serve(transport, bigReplies)
        const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}`)
        const expected = lines.map((line) => `${line}:`.padEnd(replyBytes - 1, ".") + "\n").join("") + "bye 1000\n"
        // Two clients at once, each its own bystander.
        const replies = yield* Effect.forEach([0, 1], () =>
          Effect.scoped(Effect.gen(function*() {
            const peer = yield* TestPeer.connect(server)
            yield* peer.send(lines.map((line) => `${line}\n`).join(""))
            // FIN at once, with about 1 MiB of replies still to come.
            yield* peer.duplex.end
            return yield* peer.readToEnd
          })), { concurrency: "unbounded" })
        for (const reply of replies) {
          assert.strictEqual(reply.end, "eof")
          assert.strictEqual(reply.bytes.byteLength, expected.length)
          assert.strictEqual(Bytes.decode(reply.bytes), expected)
        }
        yield* Hostile.assertClean(server)
        assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["PeerClosed", "PeerClosed"])
      }).pipe(Hostile.noTroubles))

    it.live("RST mid-stream ends that connection with PeerReset; a bystander carries on", () =>
      Effect.gen(function*() {
        const server = yield* Hostile.serve(transport, Hostile.echo)
        yield* Effect.scoped(Effect.gen(function*() {
          const bystander = yield* TestPeer.connect(server)
          assert.strictEqual(yield* bystander.roundTrip("before"), "before")
          yield* Effect.scoped(Effect.gen(function*() {
            const attacker = yield* TestPeer.connect(server)
            // 1 MiB on its way in and (echoed) on its way out when the reset hits.
            yield* Effect.forkScoped(Effect.ignore(attacker.send(Bytes.pattern(1024 * 1024))))
            yield* attacker.read(64 * 1024)
            yield* attacker.duplex.reset
          }))
          const ended = yield* server.nextExit
          assert.strictEqual(ended.reason._tag, "PeerReset")
          assert.strictEqual(yield* bystander.roundTrip("after"), "after")
          assert.strictEqual(yield* server.server.activeConnections, 1)
        }))
        yield* Hostile.assertClean(server)
      }).pipe(Hostile.noTroubles))

    it.live("RST while the server is blocked writing to the peer ends that connection with PeerReset", () =>
      Effect.gen(function*() {
        const { sockets, transport: probed } = Hostile.probe(transport)
        const server = yield* Hostile.serve(probed, floodOnFirstChunk)
        yield* Effect.scoped(Effect.gen(function*() {
          const bystander = yield* TestPeer.connect(server)
          assert.strictEqual(yield* bystander.roundTrip("before"), "before")
          yield* Effect.scoped(Effect.gen(function*() {
            const attacker = yield* TestPeer.connect(server)
            yield* attacker.send("F")
            // The attacker never reads: the server's write to it stays pending.
            const stuck = yield* Hostile.awaitStuckWrite(sockets)
            assert.strictEqual(stuck, sockets[1])
            yield* attacker.duplex.reset
          }))
          const ended = yield* server.nextExit
          assert.strictEqual(ended.reason._tag, "PeerReset")
          assert.strictEqual(yield* bystander.roundTrip("after"), "after")
        }))
        yield* Hostile.assertClean(server)
      }).pipe(Hostile.noTroubles))

    for (const how of ["close", "reset"] as const) {
      it.live(`a client that connects and ${how}s before the server's handler starts ends cleanly`, () =>
        Effect.gen(function*() {
          // Accepted sockets wait at a gate before the server sees them: the
          // transport has accepted the connection, the server's handler has
          // not started.
          const gate = yield* Latch.make(true)
          const accepted = yield* Queue.unbounded<void>()
          const gated = TestTransport.mapAccepted(
            transport,
            (socket) => Effect.andThen(Queue.offer(accepted, undefined), gate.whenOpen(Effect.succeed(socket)))
          )
          const server = yield* Hostile.serve(gated, Hostile.echo)
          yield* Effect.scoped(Effect.gen(function*() {
            const bystander = yield* TestPeer.connect(server)
            yield* Queue.take(accepted)
            assert.strictEqual(yield* bystander.roundTrip("before"), "before")

            yield* gate.close
            yield* Effect.scoped(Effect.gen(function*() {
              const early = yield* TestPeer.connect(server)
              yield* Queue.take(accepted)
              if (how === "reset") yield* early.reset
            }))
            assert.strictEqual(yield* server.server.activeConnections, 1)
            yield* gate.open
            const ended = yield* server.nextExit
            assert.include(["PeerClosed", "PeerReset"], ended.reason._tag)
            if (how === "reset" && transport.name === "memory") assert.strictEqual(ended.reason._tag, "PeerReset")
            if (how === "close") assert.strictEqual(ended.reason._tag, "PeerClosed")
            assert.strictEqual(yield* bystander.roundTrip("after"), "after")
          }))
          yield* Hostile.assertClean(server)
        }).pipe(Hostile.noTroubles))
    }

    it.live("a handler defect and a typed handler failure end only their connections, as HandlerFailed", () => {
      const logs = Hostile.captureLogs()
      return Effect.gen(function*() {
        const server = yield* Hostile.serve(transport, fragile)
        yield* Effect.scoped(Effect.gen(function*() {
          const bystander = yield* TestPeer.connect(server)
          assert.strictEqual(yield* bystander.roundTrip("before\n"), "before\n")
          for (const line of ["die", "fail"]) {
            yield* Effect.scoped(Effect.gen(function*() {
              const victim = yield* TestPeer.connect(server)
              assert.strictEqual(yield* victim.roundTrip("hi\n"), "hi\n")
              yield* victim.send(`${line}\n`)
              assert.include(["eof", "PeerReset"], (yield* victim.readToEnd).end)
            }))
            const ended = yield* server.nextExit
            assert.strictEqual(ended.reason._tag, "HandlerFailed")
            assert.strictEqual(yield* bystander.roundTrip(`after ${line}\n`), `after ${line}\n`)
          }
        }))
        yield* Hostile.assertClean(server)
        // Each failure is logged once, as a warning with its cause, and never
        // as an unhandled error.
        const warnings = logs.lines.filter((line) => line.level === "Warn")
        assert.lengthOf(warnings, 2)
        assert.include(warnings[0]!.message, "handler defect")
        assert.include(warnings[1]!.message, "Boom")
        assert.lengthOf(Hostile.troubles(logs.lines), 0)
      }).pipe(logs.provide)
    })
  })
}
