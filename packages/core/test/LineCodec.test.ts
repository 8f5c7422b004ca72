import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Channel from "effect/Channel"
import * as Effect from "effect/Effect"
import * as Equivalence from "effect/Equivalence"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
// Core does not depend on the testkit package; its tests reach the shared
// codec properties by path.
import * as CodecProperties from "@socket-to-me/testkit/CodecProperties"
import * as Config from "../src/Config.ts"
import * as ConnectionError from "../src/ConnectionError.ts"
import * as LineCodec from "../src/LineCodec.ts"

const encoder = new TextEncoder()
const utf8 = (text: string): Uint8Array => encoder.encode(text)
const bytes = (...values: ReadonlyArray<number>): Uint8Array => Uint8Array.from(values)

/** Decodes the given reads, one stream chunk each. */
const decode = (codec: LineCodec.Options | undefined, ...reads: ReadonlyArray<Uint8Array | string>) =>
  Stream.runCollect(
    LineCodec.make(codec).decode(
      Stream.fromArrays(...reads.map((read) => [typeof read === "string" ? utf8(read) : read]))
    )
  )

/** Every one-byte read of `data`. */
const oneByteReads = (data: Uint8Array): Array<Uint8Array> => Array.from(data, (byte) => bytes(byte))

const failureOf = <A>(effect: Effect.Effect<A, ConnectionError.ConnectionError>) =>
  Effect.map(Effect.flip(effect), (error) => error.reason)

/**
 * Lines the codec can carry: any well-formed text without LF that does not
 * end in CR. One alternative per UTF-8 width (1 to 4 bytes) so multi-byte
 * and astral characters are common, plus CR followed by something else and
 * the BOM (which must survive decoding).
 */
const line = Arbitrary.schema(
  Schema.String.check(
    Schema.isPattern(
      /^(?:[\0-\t\v\f\x0e-\x7f]|[\x80-\u07ff]|[\u0800-\uffff]|[\u{10000}-\u{10ffff}]|\r[^\n\r]|\ufeff)*$/u
    )
  )
)

/** Bytes drawn mostly from terminators and pieces of multi-byte characters, some invalid. */
const lineishBytes = Arbitrary.schema(
  Schema.Array(Schema.Literals([0x0a, 0x0d, 0x41, 0x20, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff]))
).pipe(Arbitrary.map((values) => Uint8Array.from(values)))

describe("LineCodec", () => {
  describe("properties", () => {
    it.effect.prop(
      "round trip",
      [CodecProperties.frames(line)],
      ([frames]) => CodecProperties.roundTrip(LineCodec.lines, Equivalence.String, frames),
      CodecProperties.propOptions
    )

    it.effect.prop(
      "split invariance",
      [CodecProperties.frames(line), CodecProperties.split],
      ([frames, split]) => CodecProperties.splitInvariance(LineCodec.lines, Equivalence.String, frames, split),
      CodecProperties.propOptions
    )

    it.effect.prop(
      "split invariance on arbitrary bytes, with a small cap",
      [lineishBytes, CodecProperties.split],
      ([input, split]) =>
        CodecProperties.bytesSplitInvariance(LineCodec.make({ maxLineBytes: 6 }), Equivalence.String, input, split),
      CodecProperties.propOptions
    )
  })

  describe("decode", () => {
    it.effect("ends lines at LF and at CRLF", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decode(undefined, "a\nb\r\nc\n"), ["a", "b", "c"])
      }))

    it.effect("survives one-byte reads", () =>
      Effect.gen(function*() {
        const text = "héllo €😀\r\nworld\n\r\n"
        assert.deepStrictEqual(yield* decode(undefined, ...oneByteReads(utf8(text))), ["héllo €😀", "world", ""])
      }))

    it.effect("decodes a multi-byte character split across reads, at every byte", () =>
      Effect.gen(function*() {
        for (const char of ["é", "€", "😀"]) {
          const encoded = utf8(char)
          for (let cut = 1; cut < encoded.length; cut++) {
            const first = new Uint8Array([0x78, ...encoded.subarray(0, cut)])
            const second = new Uint8Array([...encoded.subarray(cut), 0x79, 0x0a])
            assert.deepStrictEqual(yield* decode(undefined, first, second), [`x${char}y`])
          }
        }
      }))

    it.effect("strips the CR of a CRLF split across reads", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decode(undefined, "abc\r", "\ndef\r", "\n"), ["abc", "def"])
      }))

    it.effect("keeps a CR not followed by LF, and strips only one CR", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decode(undefined, "a\rb\n", "\r\r\n", "c\r", "d\n"), ["a\rb", "\r", "c\rd"])
      }))

    it.effect("emits empty lines", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decode(undefined, "\n\r\n", "\n"), ["", "", ""])
      }))

    it.effect("emits a last line without terminator at end of input, and nothing for none", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decode(undefined, "a\nb"), ["a", "b"])
        assert.deepStrictEqual(yield* decode(undefined, "a\n"), ["a"])
        assert.deepStrictEqual(yield* decode(undefined, "x\r"), ["x\r"])
        assert.deepStrictEqual(yield* decode(undefined), [])
      }))

    it.effect("replaces invalid UTF-8 with U+FFFD", () =>
      Effect.gen(function*() {
        const lines = yield* decode(undefined, bytes(0x61, 0xff, 0x62, 0x0a), bytes(0xe2, 0x82, 0x0a, 0xc3), bytes(0x0a))
        assert.deepStrictEqual(lines, ["a\uFFFDb", "\uFFFD", "\uFFFD"])
      }))

    it.effect("keeps a byte order mark as content", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decode(undefined, "\uFEFFa\n\uFEFF\n"), ["\uFEFFa", "\uFEFF"])
      }))

    it.effect("emits all complete lines of a read as one chunk", () =>
      Effect.gen(function*() {
        const chunks = yield* Channel.runCollect(
          Stream.toChannel(LineCodec.lines.decode(Stream.fromArrays([utf8("a\nb\nc")], [utf8("d\ne\n")])))
        )
        assert.deepStrictEqual(chunks, [["a", "b"], ["cd", "e"]])
      }))
  })

  describe("byte cap", () => {
    it.effect("accepts a line of exactly the cap, terminated by LF or by a split CRLF", () =>
      Effect.gen(function*() {
        const options = { maxLineBytes: 4 }
        assert.deepStrictEqual(yield* decode(options, "abcd\n"), ["abcd"])
        assert.deepStrictEqual(yield* decode(options, "abcd\r\n"), ["abcd"])
        assert.deepStrictEqual(yield* decode(options, "ab", "cd\r", "\n"), ["abcd"])
        assert.deepStrictEqual(yield* decode(options, "abcd"), ["abcd"])
      }))

    it.effect("fails with FrameTooLarge one byte past the cap", () =>
      Effect.gen(function*() {
        const options = { maxLineBytes: 4 }
        const complete = yield* failureOf(decode(options, "abcde\n"))
        assert.deepStrictEqual(complete, new ConnectionError.FrameTooLarge({ size: 5, limit: 4 }))
        const partial = yield* failureOf(decode(options, "abc", "de"))
        assert.deepStrictEqual(partial, new ConnectionError.FrameTooLarge({ size: 5, limit: 4 }))
        const crIsContent = yield* failureOf(decode(options, "abcd\r", "x"))
        assert.deepStrictEqual(crIsContent, new ConnectionError.FrameTooLarge({ size: 6, limit: 4 }))
        const crAtEnd = yield* failureOf(decode(options, "abcd\r"))
        assert.deepStrictEqual(crAtEnd, new ConnectionError.FrameTooLarge({ size: 5, limit: 4 }))
      }))

    it.effect("counts bytes, not characters", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* decode({ maxLineBytes: 6 }, "ééé\n"), ["ééé"])
        const reason = yield* failureOf(decode({ maxLineBytes: 5 }, "ééé\n"))
        assert.deepStrictEqual(reason, new ConnectionError.FrameTooLarge({ size: 6, limit: 5 }))
      }))

    it.effect("fails as soon as the cap is passed, on input that never ends", () =>
      Effect.gen(function*() {
        const input = Stream.make(utf8("x".repeat(11))).pipe(Stream.concat(Stream.never))
        const reason = yield* failureOf(Stream.runCollect(LineCodec.make({ maxLineBytes: 10 }).decode(input)))
        assert.deepStrictEqual(reason, new ConnectionError.FrameTooLarge({ size: 11, limit: 10 }))
      }), 10_000) // a decoder that waits for more input hangs; fail fast instead of at the suite timeout

    it.effect("fails on an endless line once it passes the cap", () =>
      Effect.gen(function*() {
        const input = Stream.forever(Stream.make(utf8("xxxx")))
        const reason = yield* failureOf(Stream.runCollect(LineCodec.make({ maxLineBytes: 10 }).decode(input)))
        assert.deepStrictEqual(reason, new ConnectionError.FrameTooLarge({ size: 12, limit: 10 }))
      }))

    it.effect("does not read past the read that passed the cap", () =>
      Effect.gen(function*() {
        const input = Stream.make(utf8("ok\nxxxxxxxxxxx")).pipe(
          Stream.concat(Stream.fromEffect(Effect.die("the decoder read past the cap"))),
          Stream.concat(Stream.never)
        )
        const outcome = yield* CodecProperties.outcome(LineCodec.make({ maxLineBytes: 10 }), input)
        assert.deepStrictEqual(outcome, { frames: ["ok"], failure: "FrameTooLarge" })
      }))

    it.effect("defaults to Config.maxLineBytes", () =>
      Effect.gen(function*() {
        const longest = "x".repeat(Config.maxLineBytes)
        assert.deepStrictEqual(yield* decode(undefined, `${longest}\n`), [longest])
        const reason = yield* failureOf(decode(undefined, `${longest}x`))
        assert.deepStrictEqual(
          reason,
          new ConnectionError.FrameTooLarge({ size: Config.maxLineBytes + 1, limit: Config.maxLineBytes })
        )
      }))
  })

  describe("encode", () => {
    it.effect("writes each line as UTF-8 plus LF, one buffer per line", () =>
      Effect.gen(function*() {
        const chunks = yield* Stream.runCollect(LineCodec.lines.encode(Stream.make("a", "é", "")))
        assert.deepStrictEqual(chunks, [utf8("a\n"), utf8("é\n"), utf8("\n")])
      }))

    it.effect.prop(
      "encodeLine gives the bytes encode writes for the line",
      [CodecProperties.frames(line)],
      ([frames]) =>
        Effect.gen(function*() {
          const chunks = yield* Stream.runCollect(LineCodec.lines.encode(Stream.fromIterable(frames)))
          assert.deepStrictEqual(chunks.map((chunk) => Array.from(chunk)), frames.map((frame) => Array.from(LineCodec.encodeLine(frame))))
        }),
      CodecProperties.propOptions
    )

    it.effect.prop(
      "an encoder gives the bytes of encodeLine, whatever it has encoded before",
      [CodecProperties.frames(line)],
      ([frames]) =>
        Effect.sync(() => {
          const encode = LineCodec.makeEncoder()
          // Long lines too: they are encoded alone.
          const lines = [...frames, ...frames.map((frame) => frame.repeat(50))]
          const encoded = lines.map(encode)
          assert.deepStrictEqual(encoded.map((bytes) => Array.from(bytes)), lines.map((l) => Array.from(LineCodec.encodeLine(l))))
        }),
      CodecProperties.propOptions
    )

    it.effect("an encoder puts short lines encoded in a row next to each other in one buffer", () =>
      Effect.sync(() => {
        const encode = LineCodec.makeEncoder()
        const [a, b, c] = ["<ann> hi", "<bob> hé", "<cy> yo"].map(encode)
        assert.strictEqual(a!.buffer, b!.buffer)
        assert.strictEqual(b!.buffer, c!.buffer)
        assert.strictEqual(a!.byteOffset + a!.byteLength, b!.byteOffset)
        assert.strictEqual(b!.byteOffset + b!.byteLength, c!.byteOffset)
      }))
  })
})
