/**
 * Framed handlers: an app written over frames instead of bytes, with the
 * frame deadline that stops slowloris peers.
 *
 * Stage: frame decode and encode, between the connection's bytes and the
 * app. `handler(codec, app)` gives a byte-level `Connection.Handler`.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Config from "./Config.ts"
import type * as Connection from "./Connection.ts"
import * as ConnectionError from "./ConnectionError.ts"
import type * as FrameCodec from "./FrameCodec.ts"
import * as Metrics from "./Metrics.ts"

/**
 * An app over frames: input frames in, output frames out.
 *
 * @since 0.1.0
 * @category models
 */
export type FramedApp<In, Out, E = never, R = never> = (
  input: Stream.Stream<In, ConnectionError.ConnectionError>,
  info: Connection.ConnectionInfo
) => Stream.Stream<Out, E | ConnectionError.ConnectionError, R>

/**
 * Framed handler options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * A frame that has started must complete within this time (`FrameTimeout`).
   * Default `Config.frameDeadline`; `Duration.infinity` disables it.
   */
  readonly frameDeadline?: Duration.Input | undefined
}

/**
 * Decodes `bytes` with `codec`, failing with `FrameTimeout` when a frame
 * takes longer than `deadline` to arrive.
 *
 * The clock starts at the first byte that arrives after the last complete
 * frame and stops when a frame is emitted. A peer trickling one byte at a
 * time never completes a frame, so the deadline fires; a peer that goes
 * silent between frames is the idle timeout's business instead.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeWithDeadline = <Frame, E, R>(
  codec: FrameCodec.FrameCodec<Frame>,
  bytes: Stream.Stream<Uint8Array, E, R>,
  deadline: Duration.Input
): Stream.Stream<Frame, E | ConnectionError.ConnectionError, R> => {
  const limit = Duration.fromInputUnsafe(deadline)
  if (!Duration.isFinite(limit)) return codec.decode(bytes)
  const limitMillis = Duration.toMillis(limit)
  return Stream.unwrap(Effect.gen(function*() {
    const clock = yield* Clock.Clock
    // Written by the decoding fiber, read by the watchdog: one writer.
    let startedAt: number | undefined
    const timed = bytes.pipe(Stream.mapArray((chunks) => {
      startedAt ??= clock.currentTimeMillisUnsafe()
      return chunks
    }))
    const frames = codec.decode(timed).pipe(Stream.mapArray((out) => {
      startedAt = undefined
      return out
    }))
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
    return Stream.merge(frames, Stream.fromEffectDrain(watchdog), { haltStrategy: "left" })
  }))
}

/**
 * Turns a framed app into a byte-level connection handler: input bytes are
 * decoded (with the frame deadline), output frames encoded, both with `codec`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler = <Frame, E, R>(
  codec: FrameCodec.FrameCodec<Frame>,
  app: FramedApp<Frame, Frame, E, R>,
  options: Options = {}
): Connection.Handler<E, R> =>
(input, info) =>
  Stream.unwrap(Effect.map(Effect.context<never>(), (context) => {
    const count = (counter: typeof Metrics.framesIn) => <A>(frames: Arr.NonEmptyReadonlyArray<A>) => {
      Metrics.addUnsafe(counter, frames.length, context)
      return frames
    }
    const frames = decodeWithDeadline(codec, input, options.frameDeadline ?? Config.frameDeadline).pipe(
      Stream.mapArray(count(Metrics.framesIn))
    )
    return codec.encode(app(frames, info).pipe(Stream.mapArray(count(Metrics.framesOut))))
  }))
