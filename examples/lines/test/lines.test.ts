/**
 * Chapter 2's line server. Its codec obeys the codec laws (encode then
 * decode gives the lines back; the same lines come out however the bytes
 * are cut), a naive decoder does not, and over the memory network the
 * server answers every line right however its reads are cut. A line over
 * the cap is refused before its end arrives.
 */
import { assert, describe, it } from "@effect/vitest"
import { Client, type Connection, FrameCodec, LineCodec } from "@socket-to-me/core"
import { Bytes, CodecProperties, Faults, TestTransport } from "@socket-to-me/testkit"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Equivalence from "effect/Equivalence"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { codec, maxLineBytes, rev, reverse } from "../server.ts"

// #region arbitrary
// Lines made of characters 1, 2, 3 and 4 bytes long in UTF-8, so a cut
// often falls inside a character.
const line = Arbitrary.schema(Schema.Array(Schema.Literals(["a", " ", "é", "€", "😀"])).check(Schema.isMaxLength(100)))
  .pipe(Arbitrary.map((chars) => chars.join("")))
// #endregion arbitrary

// Sends `text`, half-closes, and returns everything the server sent back
// until it closed (or reset: a server that closes with unread input resets).
const exchange = (server: TestTransport.TestServer, text: string) =>
  Effect.scoped(Effect.gen(function*() {
    const duplex = yield* Client.connect(server.dial, { address: "memory" })
    const reply = yield* Client.exchange(duplex, Stream.make(Bytes.encode(text))).pipe(
      Stream.catchTag("ConnectionError", () => Stream.empty),
      Stream.runCollect
    )
    return Bytes.decode(Bytes.concat(reply))
  }))

describe("chapter 2: framing", () => {
  // #region laws
  it.effect("the codec obeys the laws: round trip, and the same lines however the bytes are cut", () =>
    CodecProperties.checkAll({ codec, frame: line, equivalence: Equivalence.String }))
  // #endregion laws

  // #region naive
  // A decoder that trusts every read to hold whole lines. A quick manual
  // test passes (each short write arrives as one read); real traffic does not.
  const naive = FrameCodec.make<string>({
    name: "naive lines",
    decoder: () => ({
      step: (chunk, out) => {
        const lines = new TextDecoder().decode(chunk).split("\n")
        if (lines.at(-1) === "") lines.pop() // what followed the last LF
        out.push(...lines)
        return undefined
      },
      partial: () => false
    }),
    encode: LineCodec.lines.encode
  })

  it.effect("a decoder that trusts reads to be lines is not split-invariant", () =>
    Effect.gen(function*() {
      // "café\n" in two reads, cut inside the "é" (two bytes in UTF-8):
      const bytes = Bytes.encode("café\n")
      const reads = [[bytes.subarray(0, 4)], [bytes.subarray(4)]]
      assert.deepStrictEqual((yield* CodecProperties.decodeChunks(codec, reads)).frames, ["café"])
      assert.deepStrictEqual((yield* CodecProperties.decodeChunks(naive, reads)).frames, ["caf\ufffd", "\ufffd"])
      // And the property finds such a cut on its own:
      const falsified = yield* Effect.flip(
        CodecProperties.checkSplitInvariance({ codec: naive, frame: line, equivalence: Equivalence.String })
      )
      assert.strictEqual(falsified._tag, "PropertyFalsified")
    }))
  // #endregion naive

  // #region cutting
  // The memory network, with every accepted socket's reads cut into pieces
  // of `sizes` bytes, in a cycle: the server's decoder sees exactly those.
  const cutReads = (sizes: readonly [number, ...Array<number>]): TestTransport.TestTransport => ({
    name: "memory, reads cut",
    listen: Effect.map(TestTransport.memory.listen, (listener) => ({
      ...listener,
      socketServer: {
        address: listener.socketServer.address,
        run: (handle) => listener.socketServer.run((socket) => handle(Faults.rechunk(sizes)(socket)))
      }
    }))
  })
  // #endregion cutting

  // #region property
  it.effect.prop(
    "however TCP cuts the bytes, every line comes back whole and reversed",
    [CodecProperties.frames(line), Schema.NonEmptyArray(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 16 })))],
    ([lines, sizes]) =>
      Effect.gen(function*() {
        const server = yield* TestTransport.serve(cutReads(sizes), rev)
        const reply = yield* exchange(server, lines.map((text) => `${text}\n`).join(""))
        assert.strictEqual(reply, lines.map((text) => `${reverse(text)}\n`).join(""))
      }).pipe(Effect.scoped),
    { arbitrary: { runs: 200 } }
  )
  // #endregion property

  it.effect("CRLF ends a line too, and a last line without its LF is taken at the end", () =>
    Effect.gen(function*() {
      const server = yield* TestTransport.serve(TestTransport.memory, rev)
      assert.strictEqual(yield* exchange(server, "olleh\r\n€1 ,éfac\r\nno end"), "hello\ncafé, 1€\ndne on\n")
    }))

  // #region cap
  it.effect("a line over the cap is answered and closed before the rest of it arrives", () =>
    Effect.gen(function*() {
      const ended = yield* Queue.unbounded<Connection.ExitReason>()
      const server = yield* TestTransport.serve(TestTransport.memory, rev, {
        onEnd: (_info, reason) => Effect.asVoid(Queue.offer(ended, reason))
      })
      const duplex = yield* Client.connect(server.dial, { address: "memory" })
      // Twice the cap and no LF, and the client never says it is done: the
      // server does not wait for an end that may never come.
      yield* duplex.write([Bytes.encode("x".repeat(2 * maxLineBytes))])
      const reply = yield* duplex.input.pipe(Stream.catchTag("ConnectionError", () => Stream.empty), Stream.runCollect)
      assert.strictEqual(Bytes.decode(Bytes.concat(reply)), `error: line longer than ${maxLineBytes} bytes\n`)
      assert.deepInclude(yield* Queue.take(ended), { _tag: "FrameTooLarge", limit: maxLineBytes })
    }))
  // #endregion cap
})
