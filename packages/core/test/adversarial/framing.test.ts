/**
 * Adversarial framing: frames over the cap, input cut into 1-byte and random
 * pieces, and frames coalesced with a partial one. Every body runs over the
 * memory network and real loopback TCP, with a bystander connection that
 * must not notice, and ends with no connection, socket or handle left.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Connection from "../../src/Connection.ts"
import type * as ConnectionError from "../../src/ConnectionError.ts"
import * as Framing from "../../src/Framing.ts"
import * as LengthPrefixedCodec from "../../src/LengthPrefixedCodec.ts"
import * as LineCodec from "../../src/LineCodec.ts"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Faults from "@socket-to-me/testkit/Faults"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Hostile from "../support/Hostile.ts"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"

const lineEcho = (maxLineBytes: number): Connection.Handler<ConnectionError.ConnectionError> =>
  Framing.handler(LineCodec.make({ maxLineBytes }), (lines) => lines)

const frameEcho = (maxFrameBytes: number): Connection.Handler<ConnectionError.ConnectionError> =>
  Framing.handler(LengthPrefixedCodec.make({ maxFrameBytes }), (frames) => frames)

const prefixed = (...payloads: ReadonlyArray<Uint8Array>): Uint8Array =>
  Bytes.concat(payloads.flatMap((payload) => {
    const prefix = new Uint8Array(4)
    new DataView(prefix.buffer).setUint32(0, payload.byteLength)
    return [prefix, payload]
  }))

// Text that exercises the decoder: multi-byte characters (split mid-character
// by the faults), CRLF, empty lines, and a line exactly at the cap.
const awkwardLines = (seed: number) => [
  `client ${seed}: héllo wörld ✓ 😀`,
  "",
  "crlf line\r",
  "ø".repeat(32), // 64 bytes: exactly the cap
  `${seed}`.repeat(10)
]

// Sends `lines` (each with its own terminator), half-closes, and returns
// everything the server sent back before closing.
const sendLines = (listener: TestTransport.Listener, lines: ReadonlyArray<string>) =>
  Effect.scoped(Effect.gen(function*() {
    const peer = yield* TestPeer.connect(listener)
    yield* peer.send(lines.map((line) => `${line}\n`).join(""))
    yield* peer.duplex.end
    return yield* peer.readToEnd
  }))

for (const transport of transports) {
  describe(`adversarial framing over ${transport.name}`, () => {
    it.live("a line over the cap ends only its connection, with FrameTooLarge", () =>
      Effect.gen(function*() {
        const server = yield* Hostile.serve(transport, lineEcho(64))
        yield* Effect.scoped(Effect.gen(function*() {
          const bystander = yield* TestPeer.connect(server)
          assert.strictEqual(yield* bystander.roundTrip("before\n"), "before\n")

          const attacker = yield* TestPeer.connect(server)
          // 65 bytes and no terminator: the cap is passed before any LF.
          yield* attacker.send("x".repeat(65))
          const ended = yield* server.nextExit
          assert.strictEqual(ended.reason._tag, "FrameTooLarge")
          assert.deepInclude(ended.reason, { size: 65, limit: 64 })
          const seen = yield* attacker.readToEnd
          assert.strictEqual(seen.bytes.byteLength, 0)
          assert.include(["eof", "PeerReset"], seen.end)

          assert.strictEqual(yield* bystander.roundTrip("after\n"), "after\n")
          assert.strictEqual(yield* server.server.activeConnections, 1)
          yield* bystander.duplex.end
          assert.strictEqual((yield* bystander.readToEnd).end, "eof")
          assert.strictEqual((yield* server.nextExit).reason._tag, "PeerClosed")
        }))
        yield* Hostile.assertClean(server)
      }).pipe(Hostile.noTroubles))

    it.live("a length prefix over the cap fails at once, before any payload is read", () =>
      Effect.gen(function*() {
        const server = yield* Hostile.serve(transport, frameEcho(1024))
        yield* Effect.scoped(Effect.gen(function*() {
          const bystander = yield* TestPeer.connect(server)
          const hello = prefixed(Bytes.encode("hello"))
          yield* bystander.send(hello)
          assert.isTrue(Bytes.equals(yield* bystander.read(hello.byteLength), hello))

          const attacker = yield* TestPeer.connect(server)
          // Announces 2 GiB and sends nothing more: the server must not wait for
          // (or allocate) the payload.
          yield* attacker.send(new Uint8Array([0x80, 0, 0, 0]))
          const ended = yield* server.nextExit
          assert.strictEqual(ended.reason._tag, "FrameTooLarge")
          assert.deepInclude(ended.reason, { size: 0x8000_0000, limit: 1024 })
          assert.include(["eof", "PeerReset"], (yield* attacker.readToEnd).end)

          yield* bystander.send(hello)
          assert.isTrue(Bytes.equals(yield* bystander.read(hello.byteLength), hello))
        }))
        yield* Hostile.assertClean(server)
      }).pipe(Hostile.noTroubles))

    it.live("1-byte reads: every line of 5 concurrent clients comes back intact", () =>
      Effect.gen(function*() {
        const bytewise = TestTransport.mapAccepted(transport, (socket) => Effect.succeed(Faults.bytewise(socket)))
        const server = yield* Hostile.serve(bytewise, lineEcho(64))
        const replies = yield* Effect.forEach(
          [1, 2, 3, 4, 5],
          (seed) => sendLines(server, awkwardLines(seed)),
          { concurrency: "unbounded" }
        )
        replies.forEach((reply, i) => {
          // The server writes LF only: a CRLF line comes back without its CR.
          const expected = awkwardLines(i + 1).map((line) => `${line.replace(/\r$/, "")}\n`).join("")
          assert.strictEqual(Bytes.decode(reply.bytes), expected)
          assert.strictEqual(reply.end, "eof")
        })
        yield* Hostile.assertClean(server)
        assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), Array(5).fill("PeerClosed"))
      }).pipe(Hostile.noTroubles))

    it.live("random rechunking (seeded): length-prefixed frames of every size come back intact", () =>
      Effect.gen(function*() {
        const random = TestTransport.mapAccepted(
          transport,
          (socket) => Effect.succeed(Faults.rechunkRandom({ min: 1, max: 9 })(socket))
        )
        const server = yield* Hostile.serve(random, frameEcho(4096))
        // Sizes around the 4-byte prefix and the cap.
        const sizes = [0, 1, 3, 4, 5, 7, 8, 100, 1000, 4095, 4096]
        const payloads = sizes.map((size, i) => Bytes.pattern(size, i))
        const wire = prefixed(...payloads)
        const replies = yield* Effect.forEach([1, 2, 3, 4], () =>
          Effect.scoped(Effect.gen(function*() {
            const peer = yield* TestPeer.connect(server)
            yield* peer.send(wire)
            yield* peer.duplex.end
            return yield* peer.readToEnd
          })), { concurrency: "unbounded" })
        for (const reply of replies) {
          assert.isTrue(Bytes.equals(reply.bytes, wire))
          assert.strictEqual(reply.end, "eof")
        }
        yield* Hostile.assertClean(server)
        assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), Array(4).fill("PeerClosed"))
      }).pipe(Random.withSeed("adversarial framing"), Hostile.noTroubles))

    it.live("coalesced lines plus a partial one: the complete ones are answered before the rest arrives", () =>
      Effect.gen(function*() {
        const server = yield* Hostile.serve(transport, lineEcho(64))
        yield* Effect.scoped(Effect.gen(function*() {
          const bystander = yield* TestPeer.connect(server)
          const peer = yield* TestPeer.connect(server)
          // One write: three lines and the start of a fourth.
          yield* peer.send("one\ntwo\r\nthree\npar")
          assert.strictEqual(Bytes.decode(yield* peer.read(14)), "one\ntwo\nthree\n")
          assert.strictEqual(yield* bystander.roundTrip("bystander\n"), "bystander\n")
          yield* peer.send("tial\n")
          assert.strictEqual(Bytes.decode(yield* peer.read(8)), "partial\n")
        }))
        yield* Hostile.assertClean(server)
        assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["PeerClosed", "PeerClosed"])
      }).pipe(Hostile.noTroubles))

    it.live("coalesced frames plus half a prefix: the complete ones are answered before the rest arrives", () =>
      Effect.gen(function*() {
        const server = yield* Hostile.serve(transport, frameEcho(64))
        yield* Effect.scoped(Effect.gen(function*() {
          const bystander = yield* TestPeer.connect(server)
          const peer = yield* TestPeer.connect(server)
          // One write: three frames (one empty) and two bytes of the next prefix.
          const complete = prefixed(Bytes.encode("a"), new Uint8Array(0), Bytes.encode("ccc"))
          const next = prefixed(Bytes.encode("split prefix"))
          yield* peer.send(Bytes.concat([complete, next.subarray(0, 2)]))
          assert.isTrue(Bytes.equals(yield* peer.read(complete.byteLength), complete))
          const ping = prefixed(Bytes.encode("bystander"))
          yield* bystander.send(ping)
          assert.isTrue(Bytes.equals(yield* bystander.read(ping.byteLength), ping))
          yield* peer.send(next.subarray(2))
          assert.isTrue(Bytes.equals(yield* peer.read(next.byteLength), next))
        }))
        yield* Hostile.assertClean(server)
        assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["PeerClosed", "PeerClosed"])
      }).pipe(Hostile.noTroubles))
  })
}
