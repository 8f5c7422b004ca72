import { assert, describe, it } from "@effect/vitest"
import type * as FrameCodec from "@socket-to-me/core/FrameCodec"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import * as Arbitrary from "effect/Arbitrary"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Equivalence from "effect/Equivalence"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Bytes from "../src/Bytes.ts"
import * as CodecProperties from "../src/CodecProperties.ts"

/** Printable ASCII words: frames every codec below can carry. */
const word = Arbitrary.schema(Schema.String.check(Schema.isPattern(/^[a-z]{0,8}$/)))

/** Treats every read as one frame: round-trips, but depends on how bytes are cut. */
const chunkPerFrame: FrameCodec.FrameCodec<string> = {
  name: "chunk-per-frame",
  decode: (bytes) => Stream.map(bytes, (chunk) => Bytes.decode(chunk)),
  encode: (frames) => Stream.map(frames, (frame) => Bytes.encode(frame))
}

/** Cuts correctly, but its encoder keeps only the first frame of each chunk. */
const lossy: FrameCodec.FrameCodec<string> = {
  name: "lossy",
  decode: LineCodec.lines.decode,
  encode: (frames) => LineCodec.lines.encode(Stream.mapArray(frames, (chunk) => Arr.of(chunk[0])))
}

describe("CodecProperties", () => {
  describe("cut", () => {
    it("cycles piece sizes and groups pieces into chunks", () => {
      const data = Uint8Array.from([1, 2, 3, 4, 5, 6, 7])
      const layout = CodecProperties.cut(data, { sizes: [1, 2], group: 2 })
      assert.deepStrictEqual(layout, [
        [Uint8Array.from([1]), Uint8Array.from([2, 3])],
        [Uint8Array.from([4]), Uint8Array.from([5, 6])],
        [Uint8Array.from([7])]
      ])
    })

    it("coalesces everything, or cuts single bytes, with the fixed splits", () => {
      const data = Uint8Array.from([1, 2, 3])
      const [whole, oneByteChunks, oneBytePieces] = CodecProperties.fixedSplits
      assert.deepStrictEqual(CodecProperties.cut(data, whole!), [[data]])
      assert.strictEqual(CodecProperties.cut(data, oneByteChunks!).length, 3)
      assert.deepStrictEqual(CodecProperties.cut(data, oneBytePieces!).map((chunk) => chunk.length), [3])
    })
  })

  describe("checks", () => {
    it.effect("pass for a correct codec", () =>
      CodecProperties.checkAll({ codec: LineCodec.lines, frame: word, equivalence: Equivalence.String }))

    it.effect("run defaultRuns cases unless told otherwise", () =>
      Effect.gen(function*() {
        let decodes = 0
        const counting: FrameCodec.FrameCodec<string> = {
          ...LineCodec.lines,
          decode: (bytes) => {
            decodes++
            return LineCodec.lines.decode(bytes)
          }
        }
        yield* CodecProperties.checkRoundTrip({ codec: counting, frame: word, equivalence: Equivalence.String })
        assert.strictEqual(decodes, CodecProperties.defaultRuns)
        assert.isAtLeast(CodecProperties.defaultRuns, 1000)
        assert.deepStrictEqual(CodecProperties.propOptions, { arbitrary: { runs: 1000 } })
      }))

    it.effect("catch a codec that depends on how bytes are cut", () =>
      Effect.gen(function*() {
        const options = { codec: chunkPerFrame, frame: word, equivalence: Equivalence.String }
        yield* CodecProperties.checkRoundTrip(options)
        const failure = yield* Effect.flip(CodecProperties.checkSplitInvariance(options))
        assert.strictEqual(failure._tag, "PropertyFalsified")
        assert.strictEqual(failure.property, "chunk-per-frame: split invariance")
        assert.include(failure.report, "Property falsified")
      }))

    it.effect("catch a codec that loses frames", () =>
      Effect.gen(function*() {
        const failure = yield* Effect.flip(
          CodecProperties.checkRoundTrip({ codec: lossy, frame: word, equivalence: Equivalence.String })
        )
        assert.strictEqual(failure.property, "lossy: round trip")
      }))

    it.effect("compare failures by reason on arbitrary bytes", () =>
      CodecProperties.checkBytesSplitInvariance({
        codec: LineCodec.make({ maxLineBytes: 3 }),
        equivalence: Equivalence.String,
        check: { runs: 200 }
      }))
  })

  describe("properties as predicates", () => {
    it.effect("report frames emitted before a failure", () =>
      Effect.gen(function*() {
        const outcome = yield* CodecProperties.decodeChunks(LineCodec.make({ maxLineBytes: 2 }), [[
          Bytes.encode("ab\nabc\n")
        ]])
        assert.deepStrictEqual(outcome, { frames: ["ab"], failure: "FrameTooLarge" })
      }))

    it.effect.prop(
      "round trip of the line codec, usable with it.effect.prop",
      [CodecProperties.frames(word)],
      ([frames]) => CodecProperties.roundTrip(LineCodec.lines, Equivalence.String, frames),
      CodecProperties.propOptions
    )
  })
})
