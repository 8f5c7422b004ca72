/**
 * The RESP codec against the laws every codec obeys (round trip, split
 * invariance, the same outcome for any input however it is cut, the
 * protocol error's text included), and its limits: each one refuses its
 * input with Redis's text as soon as it is passed, having read no more than
 * it needed (an endless input is refused, not buffered).
 */
import { assert, describe, it } from "@effect/vitest"
import { ConnectionError, type FrameCodec } from "@socket-to-me/core"
import { CodecProperties } from "@socket-to-me/testkit"
import * as Arbitrary from "effect/Arbitrary"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Codec from "../Codec.ts"
import * as Config from "../Config.ts"
import type * as Reply from "../Reply.ts"
import * as Resp from "./support/Resp.ts"

const sameCommand = (a: Reply.Command, b: Reply.Command) =>
  a.length === b.length && a.every((arg, i) => CodecProperties.bytesEquivalence(arg, b[i]!))

// The server's decoder with a client's encoder (commands as multibulk
// arrays), so that the laws can encode what it decodes. A protocol error
// becomes a last frame holding its text, so that "the same outcome" covers
// the exact error, not only its kind.
const commands: FrameCodec.FrameCodec<Reply.Command> = {
  name: "resp commands",
  decode: (bytes, options) =>
    Codec.codec.decode(bytes, options).pipe(
      Stream.catchIf(
        (error): error is ConnectionError.ConnectionError =>
          error instanceof ConnectionError.ConnectionError && error.reason._tag === "DecodeFailed",
        (error) => Stream.make([Resp.bytes("ERR"), Resp.bytes((error.reason as ConnectionError.DecodeFailed).detail)])
      )
    ),
  encode: (frames) => Stream.map(frames, Codec.encodeCommand)
}

const arg = Arbitrary.schema(Schema.Uint8Array.check(Schema.isMaxLength(40)))
const command = Arbitrary.schema(Schema.NonEmptyArray(Schema.Uint8Array.check(Schema.isMaxLength(40))).check(Schema.isMaxLength(6)))

// Pieces of RESP, inline commands and the bytes that matter to the parser,
// so that generated input reaches every state and every error.
const pieces = [
  "*", "$", "\r", "\n", "\r\n", "0", "1", "2", "3", "9", "-", "\x00", "\"", "'", " ", "\\", "x", "\t",
  "*1\r\n", "*2\r\n", "*-1\r\n", "*0\r\n", "$3\r\nGET\r\n", "$4\r\nPING\r\n", "$0\r\n\r\n", "PING\r\n",
  "SET k \"a b\"\r\n", "ECHO \"\\x41\\n\"\n", "'a\\'b'\r\n", "\"open\r\n", "*1\r\n*1\r\n", "$-1\r\n", "*99999\r\n"
] as const
const respLike = Arbitrary.map(
  Arbitrary.all([Arbitrary.array(Arbitrary.schema(Schema.Literals(pieces)), { maxLength: 24 }), arg]),
  ([parts, tail]) => Resp.bytes(parts.join("") + Resp.text(tail))
)

// Decodes `input` as one chunk per element; the commands and the failure.
const decode = (codec: FrameCodec.FrameCodec<Reply.Command, never>, input: ReadonlyArray<string | Uint8Array>) =>
  codec.decode(Stream.fromIterable(input.map((piece) => typeof piece === "string" ? Resp.bytes(piece) : piece))).pipe(
    Stream.runCollect,
    Effect.exit,
    Effect.map((exit) => ({
      commands: Exit.isSuccess(exit) ? exit.value.map((args) => args.map(Resp.text)) : undefined,
      failure: Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    }))
  )

const reasonOf = (failure: unknown) => {
  assert.instanceOf(failure, ConnectionError.ConnectionError)
  return (failure as ConnectionError.ConnectionError).reason
}

const protocolError = (failure: unknown) => {
  const reason = reasonOf(failure)
  return reason._tag === "DecodeFailed" ? reason.detail : reason._tag
}

describe("RESP codec", () => {
  it.effect("round trip and split invariance on generated commands", () =>
    CodecProperties.checkAll({ codec: commands, frame: command, equivalence: sameCommand, check: { runs: 500 } }))

  it.effect("any input, however split, gives the same commands and the same error", () =>
    CodecProperties.checkBytesSplitInvariance({ codec: commands, equivalence: sameCommand, input: respLike, check: { runs: 1000 } }))

  it.effect("inline commands: Redis's quoting and escapes, LF or CRLF, empty lines and empty arrays skipped", () =>
    Effect.gen(function*() {
      const decoded = yield* decode(Codec.codec, [
        "SET k \"a b\"\r\n\r\n\n   \r\n*0\r\n*-1\r\nECHO \"\\x41\\n\\t\\\\\" 'it\\'s'\nGET\tk\r\n"
      ])
      assert.deepStrictEqual(decoded.commands, [["SET", "k", "a b"], ["ECHO", "A\n\t\\", "it's"], ["GET", "k"]])
    }))

  it.effect("a bulk string's two trailing bytes and a header's byte after CR are not checked, as Redis does not", () =>
    Effect.gen(function*() {
      const decoded = yield* decode(Codec.codec, ["*1\rX$4\rXPINGxy*1\r\n$0\r\n\r\n"])
      assert.deepStrictEqual(decoded.commands, [["PING"], [""]])
    }))

  for (
    const [name, input, error] of [
      ["a bulk length over the limit", `*1\r\n$${Config.maxBulkBytes + 1}\r\n`, "Protocol error: invalid bulk length"],
      ["a negative bulk length", "*1\r\n$-1\r\n", "Protocol error: invalid bulk length"],
      ["a bulk length with a leading zero", "*1\r\n$03\r\n", "Protocol error: invalid bulk length"],
      ["more arguments than the limit", `*${Config.maxArgs + 1}\r\n`, "Protocol error: invalid multibulk length"],
      ["an array length past 2^31", "*3000000000\r\n", "Protocol error: invalid multibulk length"],
      ["a nested array", "*1\r\n*1\r\n$4\r\nPING\r\n", "Protocol error: expected '$', got '*'"],
      ["an integer in place of a bulk string", "*2\r\n$3\r\nGET\r\n:1\r\n", "Protocol error: expected '$', got ':'"],
      ["an empty header line", "*1\r\n\r\n", "Protocol error: expected '$', got ' '"],
      ["unbalanced quotes", "SET k \"v\r\n", "Protocol error: unbalanced quotes in request"],
      ["a quote closed mid-argument", "SET k \"v\"w\r\n", "Protocol error: unbalanced quotes in request"]
    ] as const
  ) {
    it.effect(`${name}: Redis's protocol error`, () =>
      Effect.gen(function*() {
        const decoded = yield* decode(Codec.codec, [`PING\r\n${input}PING\r\n`])
        assert.strictEqual(protocolError(decoded.failure), error)
      }))
  }

  it.effect("commands before an error in the same read are decoded", () =>
    Effect.gen(function*() {
      const collected: Array<Array<string>> = []
      const exit = yield* Codec.codec.decode(Stream.make(Resp.bytes("PING\r\nECHO a\r\n*1\r\n*"))).pipe(
        Stream.runForEach((args) => Effect.sync(() => collected.push(args.map(Resp.text)))),
        Effect.exit
      )
      assert.deepStrictEqual(collected, [["PING"], ["ECHO", "a"]])
      assert.isTrue(Exit.isFailure(exit))
    }))

  // Endless input must be refused once a limit is passed, after reading
  // about that much: `reads` counts the 16 KiB reads the decoder pulled.
  const endless = (head: string, filler: string) => {
    let reads = 0
    const chunk = Resp.bytes(filler.repeat(Math.ceil(16384 / filler.length)))
    const input = Stream.concat(
      Stream.make(Resp.bytes(head)),
      Stream.forever(Stream.suspend(() => (reads++, Stream.make(chunk))))
    )
    return Effect.map(
      Effect.flip(Stream.runDrain(Codec.codec.decode(input))),
      (failure) => ({ failure, reads: () => reads })
    )
  }

  for (
    const [name, head, filler, error, limit] of [
      ["an inline line without an end", "", "a", "Protocol error: too big inline request", Config.maxInlineBytes],
      ["an array header without an end", "*", "1", "Protocol error: too big mbulk count string", Config.maxInlineBytes],
      ["a bulk header without an end", "*1\r\n$", "1", "Protocol error: too big bulk count string", Config.maxInlineBytes],
      ["a line whose end a NUL hides", "PING\x00", "\r\n", "Protocol error: too big inline request", Config.maxInlineBytes]
    ] as const
  ) {
    it.effect(`${name} is refused past ${limit} bytes, not buffered`, () =>
      Effect.gen(function*() {
        const { failure, reads } = yield* endless(head, filler)
        assert.strictEqual(protocolError(failure), error)
        assert.isAtMost(reads(), Math.ceil(limit / 16384) + 1)
      }))
  }

  it.effect("a command past maxCommandBytes is refused (FrameTooLarge, no reply: Redis's query buffer limit), not buffered", () =>
    Effect.gen(function*() {
      // As many bulk strings of the largest size as the header allows: 2 GiB.
      const bulk = `$${Config.maxBulkBytes}\r\n${"v".repeat(Config.maxBulkBytes)}\r\n`
      const { failure, reads } = yield* endless(`*${Config.maxArgs}\r\n`, bulk)
      const reason = reasonOf(failure)
      assert.strictEqual(reason._tag, "FrameTooLarge")
      assert.isAtMost(reads(), Math.ceil(Config.maxCommandBytes / Resp.bytes(bulk.repeat(Math.ceil(16384 / bulk.length))).length) + 1)
    }))

  it.effect("a bulk string of exactly the limit is accepted", () =>
    Effect.gen(function*() {
      const decoded = yield* decode(Codec.codec, [`*2\r\n$4\r\nECHO\r\n$${Config.maxBulkBytes}\r\n`, "x".repeat(Config.maxBulkBytes), "\r\n"])
      assert.strictEqual(decoded.commands?.[0]?.[1]?.length, Config.maxBulkBytes)
    }))
})
