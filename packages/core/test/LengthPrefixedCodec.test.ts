import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
// Core does not depend on the testkit package; its tests reach the shared
// codec properties and byte helpers by path.
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as CodecProperties from "@socket-to-me/testkit/CodecProperties"
import * as Config from "../src/Config.ts"
import * as ConnectionError from "../src/ConnectionError.ts"
import * as LengthPrefixedCodec from "../src/LengthPrefixedCodec.ts"

const bytes = (...values: ReadonlyArray<number>): Uint8Array => Uint8Array.from(values)

/** A frame on the wire: big-endian u32 length, then the payload. */
const wire = (...payloads: ReadonlyArray<Uint8Array>): Uint8Array =>
  Bytes.concat(
    payloads.flatMap((payload) => {
      const n = payload.length
      return [bytes(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff), payload]
    })
  )

/** Decodes the given reads, one stream chunk each. */
const decode = (options: LengthPrefixedCodec.Options | undefined, ...reads: ReadonlyArray<Uint8Array>) =>
  Stream.runCollect(LengthPrefixedCodec.make(options).decode(Stream.fromArrays(...reads.map((read) => [read]))))

const failureOf = <A>(effect: Effect.Effect<A, ConnectionError.ConnectionError>) =>
  Effect.map(Effect.flip(effect), (error) => error.reason)

const payload = Arbitrary.schema(Schema.Uint8Array)

/** A frame as parts: one to four pieces of a payload. */
const parts: Arbitrary.Arbitrary<LengthPrefixedCodec.Parts> = Arbitrary.schema(
  Schema.NonEmptyArray(Schema.Uint8Array).check(Schema.isMaxLength(4))
)

/** Frames given as parts are equal when their payloads are. */
const partsEquivalence = (a: LengthPrefixedCodec.Parts, b: LengthPrefixedCodec.Parts): boolean =>
  Bytes.equals(Bytes.concat(a), Bytes.concat(b))

/** Decodes the given reads with the parts codec, one stream chunk each. */
const decodeParts = (...reads: ReadonlyArray<Uint8Array>) =>
  Stream.runCollect(LengthPrefixedCodec.makeParts().decode(Stream.fromArrays(...reads.map((read) => [read]))))

/** Bytes mostly zero, so that prefixes announce small lengths and frames complete. */
const prefixishBytes = Arbitrary.schema(Schema.Array(Schema.Literals([0, 0, 0, 1, 2, 3, 7, 200]))).pipe(
  Arbitrary.map((values) => Uint8Array.from(values))
)

describe("LengthPrefixedCodec", () => {
  describe("properties", () => {
    it.effect.prop(
      "round trip",
      [CodecProperties.frames(payload)],
      ([frames]) =>
        CodecProperties.roundTrip(LengthPrefixedCodec.lengthPrefixed, CodecProperties.bytesEquivalence, frames),
      CodecProperties.propOptions
    )

    it.effect.prop(
      "split invariance",
      [CodecProperties.frames(payload), CodecProperties.split],
      ([frames, split]) =>
        CodecProperties.splitInvariance(
          LengthPrefixedCodec.lengthPrefixed,
          CodecProperties.bytesEquivalence,
          frames,
          split
        ),
      CodecProperties.propOptions
    )

    it.effect.prop(
      "split invariance on arbitrary bytes, with a small cap",
      [prefixishBytes, CodecProperties.split],
      ([input, split]) =>
        CodecProperties.bytesSplitInvariance(
          LengthPrefixedCodec.make({ maxFrameBytes: 5 }),
          CodecProperties.bytesEquivalence,
          input,
          split
        ),
      CodecProperties.propOptions
    )
  })

  describe("parts", () => {
    it.effect.prop(
      "round trip",
      [CodecProperties.frames(parts)],
      ([frames]) => CodecProperties.roundTrip(LengthPrefixedCodec.makeParts(), partsEquivalence, frames),
      CodecProperties.propOptions
    )

    it.effect.prop(
      "split invariance",
      [CodecProperties.frames(parts), CodecProperties.split],
      ([frames, split]) =>
        CodecProperties.splitInvariance(LengthPrefixedCodec.makeParts(), partsEquivalence, frames, split),
      CodecProperties.propOptions
    )

    it.effect.prop(
      "split invariance on arbitrary bytes, with a small cap",
      [prefixishBytes, CodecProperties.split],
      ([input, split]) =>
        CodecProperties.bytesSplitInvariance(
          LengthPrefixedCodec.makeParts({ maxFrameBytes: 5 }),
          partsEquivalence,
          input,
          split
        ),
      CodecProperties.propOptions
    )

    it.effect.prop(
      "decodes to the same payloads as the assembling codec, under any split",
      [prefixishBytes, CodecProperties.split],
      ([input, split]) =>
        Effect.gen(function*() {
          const reads = CodecProperties.cut(input, split)
          const whole = yield* CodecProperties.decodeChunks(LengthPrefixedCodec.make({ maxFrameBytes: 5 }), reads)
          const inParts = yield* CodecProperties.decodeChunks(LengthPrefixedCodec.makeParts({ maxFrameBytes: 5 }), reads)
          return CodecProperties.sameOutcome(
            CodecProperties.bytesEquivalence,
            { frames: inParts.frames.map(LengthPrefixedCodec.concatParts), failure: inParts.failure },
            whole
          )
        }),
      CodecProperties.propOptions
    )

    it.effect("hands out views of the reads, never a copy", () =>
      Effect.gen(function*() {
        const read = wire(bytes(1, 2), bytes(3), bytes())
        const frames = yield* decodeParts(read)
        assert.deepStrictEqual(frames, [[bytes(1, 2)], [bytes(3)], [bytes()]])
        for (const frame of frames) assert.strictEqual(frame[0].buffer, read.buffer)
        const first = read.subarray(0, 5)
        const second = read.subarray(5)
        const [spread, ...rest] = yield* decodeParts(first, second)
        assert.deepStrictEqual(spread, [bytes(1), bytes(2)])
        assert.strictEqual(spread?.[0].buffer, first.buffer)
        assert.deepStrictEqual(rest, [[bytes(3)], [bytes()]])
        // A prefix split across reads, then a payload over three reads.
        const long = wire(bytes(4, 5, 6))
        const pieces = yield* decodeParts(long.subarray(0, 2), long.subarray(2, 5), long.subarray(5, 6), long.subarray(6))
        assert.deepStrictEqual(pieces, [[bytes(4), bytes(5), bytes(6)]])
      }))

    it.effect("fails as the assembling codec does: past the cap, and at the end of input mid-frame", () =>
      Effect.gen(function*() {
        const tooLarge = yield* failureOf(
          Stream.runCollect(LengthPrefixedCodec.makeParts({ maxFrameBytes: 3 }).decode(Stream.make(bytes(0, 0, 0, 4))))
        )
        assert.deepStrictEqual(tooLarge, new ConnectionError.FrameTooLarge({ size: 4, limit: 3 }))
        const ended = yield* failureOf(decodeParts(bytes(0, 0, 0, 5, 1), bytes(2)))
        assert.deepStrictEqual(
          ended,
          new ConnectionError.PeerClosed({ detail: "input ended after 2 of 5 payload bytes of a frame" })
        )
      }))

    it.effect("encodes each frame's parts after its prefix, one buffer per chunk", () =>
      Effect.gen(function*() {
        const chunks = yield* Stream.runCollect(
          LengthPrefixedCodec.makeParts().encode(Stream.make([bytes(1), bytes(2)], [bytes()], [bytes(3)]))
        )
        assert.deepStrictEqual(chunks, [wire(bytes(1, 2), bytes(), bytes(3))])
      }))

    it("concatParts returns a lone part itself and joins several", () => {
      const lone = bytes(1, 2)
      assert.strictEqual(LengthPrefixedCodec.concatParts([lone]), lone)
      assert.deepStrictEqual(LengthPrefixedCodec.concatParts([bytes(1), bytes(), bytes(2, 3)]), bytes(1, 2, 3))
    })
  })

  describe("decode", () => {
    it.effect("decodes a prefix split at every position", () =>
      Effect.gen(function*() {
        const data = wire(bytes(1, 2, 3), bytes(4))
        for (let cut = 1; cut < data.length; cut++) {
          const frames = yield* decode(undefined, data.subarray(0, cut), data.subarray(cut))
          assert.deepStrictEqual(frames, [bytes(1, 2, 3), bytes(4)])
        }
      }))

    it.effect("survives one-byte reads", () =>
      Effect.gen(function*() {
        const data = wire(bytes(9, 8, 7), bytes(), bytes(6))
        const frames = yield* decode(undefined, ...Array.from(data, (byte) => bytes(byte)))
        assert.deepStrictEqual(frames, [bytes(9, 8, 7), bytes(), bytes(6)])
      }))

    it.effect("accepts zero-length frames", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decode(undefined, bytes(0, 0, 0, 0, 0, 0, 0, 0)), [bytes(), bytes()])
        assert.deepStrictEqual(yield* decode(undefined, bytes(0, 0), bytes(0, 0)), [bytes()])
      }))

    it.effect("reads the prefix as unsigned big-endian", () =>
      Effect.gen(function*() {
        const data = new Uint8Array(4 + 258)
        data.set([0, 0, 1, 2])
        const [frame] = yield* decode(undefined, data)
        assert.strictEqual(frame?.length, 258)
        const reason = yield* failureOf(decode(undefined, bytes(0xff, 0xff, 0xff, 0xff)))
        assert.deepStrictEqual(
          reason,
          new ConnectionError.FrameTooLarge({ size: 0xffff_ffff, limit: Config.maxFrameBytes })
        )
      }))

    it.effect("hands out a view of the read when the frame lies inside it, a copy otherwise", () =>
      Effect.gen(function*() {
        const read = wire(bytes(1, 2), bytes(3))
        const [first, second] = yield* decode(undefined, read)
        assert.strictEqual(first?.buffer, read.buffer)
        assert.strictEqual(second?.buffer, read.buffer)
        const [spread] = yield* decode(undefined, read.subarray(0, 5), read.subarray(5))
        assert.notStrictEqual(spread?.buffer, read.buffer)
        assert.deepStrictEqual(spread, bytes(1, 2))
      }))

    it.effect("emits all complete frames of a read as one chunk", () =>
      Effect.gen(function*() {
        const data = wire(bytes(1), bytes(2), bytes(3))
        const chunks = yield* Channel.runCollect(
          Stream.toChannel(
            LengthPrefixedCodec.lengthPrefixed.decode(Stream.fromArrays([data.subarray(0, 11)], [data.subarray(11)]))
          )
        )
        assert.deepStrictEqual(chunks, [[bytes(1), bytes(2)], [bytes(3)]])
      }))
  })

  describe("byte cap", () => {
    it.effect("accepts a payload of exactly the cap", () =>
      Effect.gen(function*() {
        const frames = yield* decode({ maxFrameBytes: 3 }, wire(bytes(1, 2, 3)))
        assert.deepStrictEqual(frames, [bytes(1, 2, 3)])
      }))

    it.effect("fails on an announced length past the cap before any payload arrives", () =>
      Effect.gen(function*() {
        const input = Stream.make(bytes(0, 0), bytes(0, 4)).pipe(Stream.concat(Stream.never))
        const reason = yield* failureOf(
          Stream.runCollect(LengthPrefixedCodec.make({ maxFrameBytes: 3 }).decode(input))
        )
        assert.deepStrictEqual(reason, new ConnectionError.FrameTooLarge({ size: 4, limit: 3 }))
      }), 10_000) // a decoder that waits for the payload hangs; fail fast instead of at the suite timeout

    it.effect("does not read past the prefix that passed the cap, and emits the frames before it", () =>
      Effect.gen(function*() {
        const input = Stream.make(Bytes.concat([wire(bytes(7)), bytes(0, 0, 0, 9)])).pipe(
          Stream.concat(Stream.fromEffect(Effect.die("the decoder read past the cap"))),
          Stream.concat(Stream.never)
        )
        const outcome = yield* CodecProperties.outcome(LengthPrefixedCodec.make({ maxFrameBytes: 8 }), input)
        assert.deepStrictEqual(outcome, { frames: [bytes(7)], failure: "FrameTooLarge" })
      }))
  })

  describe("end of input", () => {
    it.effect("fails with PeerClosed inside a prefix", () =>
      Effect.gen(function*() {
        const reason = yield* failureOf(decode(undefined, wire(bytes(1)), bytes(0, 0)))
        assert.deepStrictEqual(
          reason,
          new ConnectionError.PeerClosed({ detail: "input ended after 2 of 4 length prefix bytes" })
        )
      }))

    it.effect("fails with PeerClosed inside a payload", () =>
      Effect.gen(function*() {
        const reason = yield* failureOf(decode(undefined, bytes(0, 0, 0, 5, 1), bytes(2)))
        assert.deepStrictEqual(
          reason,
          new ConnectionError.PeerClosed({ detail: "input ended after 2 of 5 payload bytes of a frame" })
        )
        const announcedOnly = yield* failureOf(decode(undefined, bytes(0, 0, 0, 5)))
        assert.strictEqual(announcedOnly._tag, "PeerClosed")
      }))

    it.effect("ends cleanly on a frame boundary", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decode(undefined), [])
        assert.deepStrictEqual(yield* decode(undefined, wire(bytes(1))), [bytes(1)])
      }))
  })

  describe("encode", () => {
    it.effect("writes a big-endian prefix before each payload, one buffer per chunk", () =>
      Effect.gen(function*() {
        const big = new Uint8Array(258).fill(7)
        const chunks = yield* Stream.runCollect(
          LengthPrefixedCodec.lengthPrefixed.encode(Stream.make(bytes(1, 2), bytes(), big))
        )
        assert.strictEqual(chunks.length, 1)
        assert.deepStrictEqual(chunks[0], wire(bytes(1, 2), bytes(), big))
        assert.deepStrictEqual(chunks[0]?.subarray(10, 14), bytes(0, 0, 1, 2))
      }))
  })
})
