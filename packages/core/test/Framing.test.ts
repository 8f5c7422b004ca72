import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
// Core does not depend on the testkit package; its tests reach it by path.
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as ConnectionError from "../src/ConnectionError.ts"
import * as Framing from "../src/Framing.ts"
import * as LengthPrefixedCodec from "../src/LengthPrefixedCodec.ts"
import * as LineCodec from "../src/LineCodec.ts"
import * as Metrics from "../src/Metrics.ts"

const text = (s: string) => new TextEncoder().encode(s)

// Decodes `chunks` then waits forever for more, collecting frames as they come.
const decodeThenStall = <Frame>(codec: Parameters<typeof Framing.decodeWithDeadline<Frame, never, never>>[0], chunks: Array<Uint8Array>) =>
  Effect.gen(function*() {
    const frames: Array<Frame> = []
    const fiber = yield* Framing.decodeWithDeadline(codec, Stream.concat(Stream.fromIterable(chunks), Stream.never), "1 second")
      .pipe(Stream.runForEach((frame) => Effect.sync(() => frames.push(frame))), Effect.forkChild)
    return { fiber, frames }
  })

const failedWith = (exit: Exit.Exit<unknown, unknown>, tag: string) => {
  assert.isTrue(Exit.isFailure(exit))
  const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  assert.instanceOf(error, ConnectionError.ConnectionError)
  assert.strictEqual((error as ConnectionError.ConnectionError).reason._tag, tag)
}

describe("Framing.decodeWithDeadline", () => {
  it.effect("a frame left partial after a complete one in the same read is timed", () =>
    Effect.gen(function*() {
      const { fiber, frames } = yield* decodeThenStall(LineCodec.lines, [text("whole\npart")])
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(frames, ["whole"])
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      failedWith(yield* Fiber.await(fiber), "FrameTimeout")
    }))

  it.effect("a trickled frame is timed from its first byte, not its last", () =>
    Effect.gen(function*() {
      const frames: Array<string> = []
      const trickle = Stream.fromIterable("abcdefghij".split("")).pipe(
        Stream.mapEffect((c) => Effect.as(Effect.sleep("200 millis"), text(c))),
        Stream.concat(Stream.never)
      )
      const fiber = yield* Framing.decodeWithDeadline(LineCodec.lines, trickle, "1 second").pipe(
        Stream.runForEach((frame) => Effect.sync(() => frames.push(frame))),
        Effect.forkChild
      )
      // The first byte arrives at 200 ms, so the deadline is at 1200 ms.
      yield* TestClock.adjust("1199 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      failedWith(yield* Fiber.await(fiber), "FrameTimeout")
      assert.deepStrictEqual(frames, [])
    }))

  it.effect("between frames the clock does not run, however long the silence", () =>
    Effect.gen(function*() {
      const prefixed = LengthPrefixedCodec.make()
      const frame = Stream.runCollect(prefixed.encode(Stream.make(text("hi"))))
      const { fiber, frames } = yield* decodeThenStall(prefixed, yield* frame)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(frames.length, 1)
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("after frames that straddled reads, the clock still stops between frames", () =>
    Effect.gen(function*() {
      const { fiber, frames } = yield* decodeThenStall(LineCodec.lines, [text("ab"), text("c\nde"), text("f\n")])
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(frames, ["abc", "def"])
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("after frames that straddled reads, a stalled frame still times out on time", () =>
    Effect.gen(function*() {
      const { fiber, frames } = yield* decodeThenStall(LineCodec.lines, [text("ab"), text("c\nde")])
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(frames, ["abc"])
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      failedWith(yield* Fiber.await(fiber), "FrameTimeout")
    }))

  it.effect("a length prefix split across reads is a partial frame too", () =>
    Effect.gen(function*() {
      const { fiber } = yield* decodeThenStall(LengthPrefixedCodec.make(), [new Uint8Array([0, 0])])
      yield* TestClock.adjust("1 second")
      failedWith(yield* Fiber.await(fiber), "FrameTimeout")
    }))
})

describe("Framing.decodeWithDeadline, frames that straddle reads", () => {
  it.effect("each frame gets the whole deadline, even when every read ends inside a frame", () =>
    Effect.gen(function*() {
      // 10 lines of 8 bytes, sent in reads of 5 bytes every 400 ms: a line
      // takes under a second, but no read ever ends on a line boundary.
      const wire = text("line-00\n".repeat(10))
      const reads = Array.from({ length: Math.ceil(wire.length / 5) }, (_, i) => wire.subarray(i * 5, (i + 1) * 5))
      const frames: Array<string> = []
      const fiber = yield* Framing.decodeWithDeadline(
        LineCodec.lines,
        Stream.fromIterable(reads).pipe(Stream.mapEffect((read) => Effect.as(Effect.sleep("400 millis"), read))),
        "1 second"
      ).pipe(Stream.runForEach((frame) => Effect.sync(() => frames.push(frame))), Effect.forkChild)
      yield* TestClock.adjust(`${400 * reads.length} millis`)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isSuccess(exit), "no frame took longer than the deadline")
      assert.strictEqual(frames.length, 10)
    }))
})

describe("Framing.decode and Framing.encode", () => {
  it.effect("count the frames they decode and encode, as a framed handler does", () =>
    Effect.gen(function*() {
      const decoded = yield* Stream.runCollect(Framing.decode(LineCodec.lines, Stream.make(text("a\nb\nc"), text("\n"))))
      const encoded = yield* Stream.runCollect(Framing.encode(LineCodec.lines, Stream.make("x", "y")))
      assert.deepStrictEqual(decoded, ["a", "b", "c"])
      assert.strictEqual(new TextDecoder().decode(Bytes.concat(encoded)), "x\ny\n")
      assert.strictEqual((yield* Metric.value(Metrics.framesIn)).count, 3)
      assert.strictEqual((yield* Metric.value(Metrics.framesOut)).count, 2)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})
