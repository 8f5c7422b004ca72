/**
 * The scripted test peer over the memory network and real TCP: bytes and
 * lines from one buffer however the input is cut, expectations that say
 * what was received when they fail, and the end of input as a reason.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Connection from "@socket-to-me/core/Connection"
import * as Framing from "@socket-to-me/core/Framing"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Bytes from "../src/Bytes.ts"
import * as TcpTransport from "../src/TcpTransport.ts"
import * as TestPeer from "../src/TestPeer.ts"
import * as TestTransport from "../src/TestTransport.ts"

const echo: Connection.Handler = (input) => input

// Answers each line with its length, then "bye" after the input ended.
const lengths = Framing.handler(
  LineCodec.lines,
  (lines) => Stream.concat(Stream.map(lines, (line) => `${line.length}`), Stream.make("bye"))
)

describe.each(TcpTransport.all)("TestPeer over $name", (transport) => {
  it.live("reads exact sizes and lines from one buffer, however the bytes arrive", () =>
    Effect.gen(function*() {
      const server = yield* TestTransport.serve(transport, echo)
      const peer = yield* TestPeer.connect(server)
      // One write, read back in pieces: 3 bytes, two lines (one CRLF), 2 bytes.
      yield* peer.send("abcone\r\ntwo\nxy")
      assert.strictEqual(Bytes.decode(yield* peer.read(3)), "abc")
      assert.strictEqual(yield* peer.readLine, "one")
      assert.strictEqual(yield* peer.readLine, "two")
      assert.strictEqual(Bytes.decode(yield* peer.read(2)), "xy")
      assert.strictEqual(yield* peer.roundTrip("ping"), "ping")
      assert.deepStrictEqual(peer.lines, ["one", "two"])
      yield* peer.end
      const rest = yield* peer.readToEnd
      assert.deepStrictEqual([rest.bytes.byteLength, rest.end], [0, "eof"])
      yield* server.server.awaitIdle
      yield* server.assertNoLeaks
    }).pipe(Effect.scoped))

  it.live("expectLine returns the lines read meanwhile; readLinesToEnd the rest and how the input ended", () =>
    Effect.gen(function*() {
      const server = yield* TestTransport.serve(transport, lengths)
      const peer = yield* TestPeer.connect(server)
      yield* peer.sendLines("a", "bb", "ccc", "dddd")
      assert.deepStrictEqual(yield* peer.expectLine("3"), ["1", "2", "3"])
      assert.deepStrictEqual(yield* peer.expectLine((line) => Number(line) > 3), ["4"])
      yield* peer.end
      assert.deepStrictEqual(yield* peer.readLinesToEnd, { lines: ["bye"], end: "eof" })
      assert.deepStrictEqual(peer.lines, ["1", "2", "3", "4", "bye"])
    }).pipe(Effect.scoped))

  it.live("an expected line that never comes fails with what was received, once the input ended", () =>
    Effect.gen(function*() {
      const server = yield* TestTransport.serve(transport, lengths)
      const peer = yield* TestPeer.connect(server)
      yield* peer.sendLines("xy")
      yield* peer.end
      const error = yield* Effect.flip(peer.expectLine("never"))
      assert.strictEqual(error.reason._tag, "InputEnded")
      assert.strictEqual(error.message, `input ended (eof) before line "never"; received lines ["2","bye"]`)
    }).pipe(Effect.scoped))

  it.live("after its own reset a peer's reads fail as ended; the server sees PeerReset, a bystander nothing", () =>
    Effect.gen(function*() {
      const ended = yield* Deferred.make<string>()
      const server = yield* TestTransport.serve(transport, echo, {
        onEnd: (_info, reason) => Effect.asVoid(Deferred.succeed(ended, reason._tag))
      })
      const bystander = yield* TestPeer.connect(server)
      const attacker = yield* TestPeer.connect(server)
      assert.strictEqual(yield* attacker.roundTrip("hello"), "hello")
      yield* attacker.reset
      assert.strictEqual(yield* Deferred.await(ended), "PeerReset")
      assert.strictEqual(yield* bystander.roundTrip("still"), "still")
      const error = yield* Effect.flip(attacker.read(1))
      assert.strictEqual(error.reason._tag, "InputEnded")
    }).pipe(Effect.scoped))
})

describe("TestPeer deadlines", () => {
  // Under the TestClock, which never moves here: the deadline is real time.
  it.effect("a reply that never comes fails after the deadline, on the wall clock", () =>
    Effect.gen(function*() {
      const server = yield* TestTransport.serve(TestTransport.memory, (input) => Stream.drain(input))
      const peer = yield* TestPeer.connect(server, { deadline: "20 millis" })
      yield* peer.send("hello")
      const error = yield* Effect.flip(peer.read(5))
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.strictEqual(error.message, "no 5 bytes within 20ms; received nothing more")
    }).pipe(Effect.scoped))

  it.effect("a line longer than maxLineBytes fails instead of growing without bound", () =>
    Effect.gen(function*() {
      const server = yield* TestTransport.serve(TestTransport.memory, echo)
      const peer = yield* TestPeer.connect(server, { maxLineBytes: 8 })
      yield* peer.send("0123456789")
      const error = yield* Effect.flip(peer.readLine)
      assert.strictEqual(error.reason._tag, "LineTooLong")
    }).pipe(Effect.scoped))
})
