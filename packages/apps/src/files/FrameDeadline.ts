/**
 * The files server's frame deadline (a frame that has started must complete
 * within the deadline, so a peer trickling bytes cannot hold a connection),
 * as a watchdog the caller races against its own work.
 *
 * Stage: frame decode. Same rule and same `FrameTimeout` as core's
 * `Framing.decodeWithDeadline`, but it times the frame in progress rather
 * than a run of frames. Core learns from the codec only whether a partial
 * frame is left after a read (`DecodeOptions.onPartial`), so a read that
 * completes one frame and leaves the next one partial does not restart its
 * clock: it runs from the first read of an unbroken run of partial reads.
 * An upload is a long run of back-to-back frames
 * whose reads seldom end on a frame boundary: under core's clock it would be
 * cut one deadline after it began, however fast each frame arrived (see
 * `files.test.ts`, "a slow upload whose every frame arrives in time").
 *
 * Here a frame counts as pending while fewer bytes have come out as frames
 * (prefix included) than went in, and the clock restarts with each read that
 * completes a frame and leaves more. The stream only counts bytes and stamps
 * a time; the watchdog sleeps on its own fiber.
 *
 * @since 0.1.0
 */
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as FrameCodec from "@socket-to-me/core/FrameCodec"
import * as LengthPrefixedCodec from "@socket-to-me/core/LengthPrefixedCodec"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/**
 * Frames decoded from a byte stream, and the watchdog that enforces their
 * deadline. The watchdog never succeeds: it fails with `FrameTimeout` when
 * a frame started more than the deadline ago and is still incomplete (and
 * runs forever when the deadline is infinite).
 *
 * @since 0.1.0
 * @category models
 */
export interface Watched<Frame, E, R> {
  readonly frames: Stream.Stream<Frame, E | ConnectionError.ConnectionError, R>
  readonly watchdog: Effect.Effect<never, ConnectionError.ConnectionError>
}

/**
 * Decodes `bytes` with `codec`, a length-prefixed codec, under the frame
 * deadline. Race the consumer of `frames` against `watchdog` (`Effect.raceFirst`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = <E, R>(
  codec: FrameCodec.FrameCodec<Uint8Array>,
  bytes: Stream.Stream<Uint8Array, E, R>,
  deadline: Duration.Input
): Effect.Effect<Watched<Uint8Array, E, R>> =>
  Effect.gen(function*() {
    const limit = Duration.fromInputUnsafe(deadline)
    if (!Duration.isFinite(limit)) return { frames: codec.decode(bytes), watchdog: Effect.never }
    const limitMillis = Duration.toMillis(limit)
    const clock = yield* Clock.Clock
    // Written by whichever fiber pulls the frames (one at a time), read by
    // the watchdog.
    let startedAt: number | undefined
    let bytesIn = 0
    let bytesOut = 0
    const timed = Stream.mapArray(bytes, (chunks) => {
      for (let i = 0; i < chunks.length; i++) bytesIn += chunks[i]!.length
      startedAt ??= clock.currentTimeMillisUnsafe()
      return chunks
    })
    const frames = Stream.mapArray(codec.decode(timed), (out) => {
      for (let i = 0; i < out.length; i++) bytesOut += LengthPrefixedCodec.prefixBytes + out[i]!.length
      // What is left began arriving with the latest read at the earliest.
      startedAt = bytesOut < bytesIn ? clock.currentTimeMillisUnsafe() : undefined
      return out
    })
    const watchdog = Effect.gen(function*() {
      while (true) {
        if (startedAt === undefined) {
          yield* Effect.sleep(limitMillis)
          continue
        }
        const remaining = startedAt + limitMillis - clock.currentTimeMillisUnsafe()
        if (remaining <= 0) return yield* ConnectionError.make(new ConnectionError.FrameTimeout({ after: limit }))
        yield* Effect.sleep(remaining)
      }
    })
    return { frames, watchdog }
  })
