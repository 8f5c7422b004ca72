import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
// Core does not depend on the testkit package; its tests reach the shared
// codec properties by path.
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as CodecProperties from "@socket-to-me/testkit/CodecProperties"
import * as ConnectionError from "../src/ConnectionError.ts"
import * as FrameCodec from "../src/FrameCodec.ts"
import * as Framing from "../src/Framing.ts"
import { netstrings } from "./support/Netstrings.ts"

const codec = netstrings(16)

const payload = Arbitrary.schema(Schema.Uint8Array.check(Schema.isMaxLength(16)))

/** Decodes the given reads, one stream chunk each, recording each onPartial report. */
const decodeReporting = <In>(codec: FrameCodec.FrameCodec<In, never>, reads: ReadonlyArray<string>) => {
  const reports: Array<[partial: boolean, completed: boolean]> = []
  const chunks: Array<ReadonlyArray<In>> = []
  return codec.decode(Stream.fromArrays(...reads.map((read) => [Bytes.encode(read)])), {
    onPartial: (partial, completed) => reports.push([partial, completed])
  }).pipe(
    Stream.mapArray((frames) => {
      chunks.push([...frames])
      return frames
    }),
    Stream.runDrain,
    Effect.exit,
    Effect.map((exit) => ({ exit, reports, chunks }))
  )
}

/** The reason the decode failed with, or `undefined` if it ended cleanly. */
const failureTag = (exit: Exit.Exit<unknown, ConnectionError.ConnectionError>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Cause.squash(exit.cause)
  return error instanceof ConnectionError.ConnectionError ? error.reason._tag : String(error)
}

describe("FrameCodec.make", () => {
  it("the module doc's example is the codec tested here", () => {
    const doc = Fs.readFileSync(new URL("../src/FrameCodec.ts", import.meta.url), "utf8")
    const block = /^ \* ```ts\n([\s\S]*?)^ \* ```$/m.exec(doc)
    assert.isNotNull(block)
    const example = block![1]!.split("\n").map((line) => line.replace(/^ \* ?/, "")).join("\n")
    const tested = Fs.readFileSync(new URL("./support/Netstrings.ts", import.meta.url), "utf8")
    assert.strictEqual(tested.slice(tested.indexOf("import ")), example)
  })

  it.effect("a codec written with it passes the round-trip and split-invariance laws", () =>
    CodecProperties.checkAll({ codec, frame: payload, equivalence: CodecProperties.bytesEquivalence }))

  it.effect("and gives the same frames and failure however invalid input is split", () =>
    CodecProperties.checkBytesSplitInvariance({
      codec,
      equivalence: CodecProperties.bytesEquivalence,
      // Mostly well-formed input, so that failures come at every stage of a frame.
      input: Arbitrary.map(
        Arbitrary.all([CodecProperties.frames(payload), Arbitrary.schema(Schema.String)]),
        ([frames, tail]) => Bytes.concat([...frames.flatMap((frame) => [`${frame.length}:`, frame, ","]), tail])
      ),
      check: { runs: 300 }
    }))

  it.effect("reports after each read whether a frame is partial and whether one completed", () =>
    Effect.gen(function*() {
      const { exit, reports, chunks } = yield* decodeReporting(codec, ["2:", "hi,1", ":a,", "1:b,", ""])
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(reports, [[true, false], [true, true], [false, true], [false, true], [false, false]])
      assert.deepStrictEqual(chunks.map((frames) => frames.map(Bytes.decode)), [["hi"], ["a"], ["b"]])
    }))

  it.effect("emits a read's frames as one chunk, then the error that stopped it, and reads no further", () =>
    Effect.gen(function*() {
      let pulls = 0
      const reads = Stream.fromArrays([Bytes.encode("1:a,1:b,x")], [Bytes.encode("1:c,")]).pipe(
        Stream.mapArray((chunk) => {
          pulls++
          return chunk
        })
      )
      const chunks: Array<Array<string>> = []
      const exit = yield* codec.decode(reads).pipe(
        Stream.mapArray((frames) => {
          chunks.push(frames.map(Bytes.decode))
          return frames
        }),
        Stream.runDrain,
        Effect.exit
      )
      assert.deepStrictEqual(chunks, [["a", "b"]])
      assert.strictEqual(failureTag(exit), "DecodeFailed")
      assert.strictEqual(pulls, 1)
    }))

  it.effect("without a flush, input that ends inside a frame fails with PeerClosed, and between frames ends cleanly", () =>
    Effect.gen(function*() {
      assert.strictEqual(failureTag((yield* decodeReporting(codec, ["1:a,", "3:ab"])).exit), "PeerClosed")
      assert.strictEqual(failureTag((yield* decodeReporting(codec, ["1:a,", "1"])).exit), "PeerClosed")
      assert.isTrue(Exit.isSuccess((yield* decodeReporting(codec, ["1:a,"])).exit))
    }))

  it.effect("a flush may emit a last frame or fail with its own reason", () =>
    Effect.gen(function*() {
      // Each read's bytes are one frame; what is left at the end is a last frame, unless it is "!".
      const rest = FrameCodec.make<string, never>({
        name: "rest",
        decoder: () => {
          let held = ""
          return {
            step: (chunk) => {
              held += Bytes.decode(chunk)
              return undefined
            },
            flush: (out) => {
              if (held === "!") return new ConnectionError.DecodeFailed({ detail: "bang" })
              out.push(held)
              return undefined
            },
            partial: () => held !== ""
          }
        },
        encode: () => Stream.empty
      })
      const ended = yield* decodeReporting(rest, ["a", "b"])
      assert.isTrue(Exit.isSuccess(ended.exit))
      assert.deepStrictEqual(ended.chunks, [["ab"]])
      assert.strictEqual(failureTag((yield* decodeReporting(rest, ["!"])).exit), "DecodeFailed")
    }))

  it.effect("the frame deadline times a frame left partial mid-frame, and not the silence between frames", () =>
    Effect.gen(function*() {
      const frames: Array<string> = []
      const stalled = (reads: ReadonlyArray<string>) =>
        Framing.decodeWithDeadline(
          codec,
          Stream.concat(Stream.fromIterable(reads.map(Bytes.encode)), Stream.never),
          "1 second"
        ).pipe(Stream.runForEach((frame) => Effect.sync(() => frames.push(Bytes.decode(frame)))), Effect.forkChild)

      // A complete frame, then part of the next in the same read: timed.
      const midFrame = yield* stalled(["2:hi,5:he"])
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(frames, ["hi"])
      assert.isUndefined(midFrame.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(failureTag(yield* Fiber.await(midFrame)), "FrameTimeout")

      // Whole frames, then silence: never timed.
      const between = yield* stalled(["2:", "hi,", "1:a,"])
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(frames, ["hi", "hi", "a"])
      assert.isUndefined(between.pollUnsafe())
      yield* Fiber.interrupt(between)
    }))
})
