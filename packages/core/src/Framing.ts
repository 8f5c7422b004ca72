/**
 * Framed handlers: an app written over frames instead of bytes, with the
 * frame deadline that stops slowloris peers.
 *
 * Stage: frame decode and encode, between the connection's bytes and the
 * app. `handler(codec, app)` gives a byte-level `Connection.Handler`;
 * `handlerEncoded` does the same for an app that encodes its own output.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
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
 * Decodes `bytes` with `codec`, failing with `FrameTimeout` when part of a
 * frame has been buffered for longer than `deadline`. The failure comes out
 * of the frame stream, so the app can still answer it (chat sends an error
 * line) before the connection ends.
 *
 * The codec reports after each read whether a partial frame is buffered and
 * whether the read completed a frame (`DecodeOptions.onPartial`); the clock
 * starts with the read that began the partial frame (a read that completes
 * a frame and starts the next restarts it) and stops when no partial frame
 * is left. Each frame gets the whole deadline, however the reads fall. A
 * peer trickling one byte at a time never completes its frame, so the
 * deadline fires, including when the trickle follows a complete frame in
 * the same read.
 * Only reads made while a frame is partial wait under a timer; reads between
 * frames cost nothing extra.
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
  const timeout = ConnectionError.make(new ConnectionError.FrameTimeout({ after: limit }))
  return Stream.unwrap(Effect.clockWith((clock) => Effect.sync(() => {
    // Written and read by the decoding fiber only.
    let startedAt: number | undefined
    const onPartial = (partial: boolean, completed: boolean) => {
      if (!partial) startedAt = undefined
      else if (completed || startedAt === undefined) startedAt = clock.currentTimeMillisUnsafe()
    }
    const timed = Stream.transformPull(bytes, (upstream) =>
      Effect.succeed(Effect.suspend(() => {
        if (startedAt === undefined) return upstream
        const remaining = startedAt + limitMillis - clock.currentTimeMillisUnsafe()
        return remaining <= 0
          ? Effect.fail(timeout)
          : Effect.timeoutOrElse(upstream, { duration: remaining, orElse: () => Effect.fail(timeout) })
      })))
    return codec.decode(timed, { onPartial })
  })))
}

// Decodes the input with the frame deadline and counts frames both ways;
// `output` turns the app's output into bytes.
const framed = <Frame, Out, E, R>(
  codec: FrameCodec.FrameCodec<Frame>,
  app: FramedApp<Frame, Out, E, R>,
  options: Options,
  output: (frames: Stream.Stream<Out, E | ConnectionError.ConnectionError, R>) => Stream.Stream<Uint8Array, E | ConnectionError.ConnectionError, R>
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
    return output(app(frames, info).pipe(Stream.mapArray(count(Metrics.framesOut))))
  }))

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
): Connection.Handler<E, R> => framed(codec, app, options, codec.encode)

/**
 * Like `handler`, for an app that encodes its output itself: input bytes
 * are decoded with `codec` (and the frame deadline), and the app emits each
 * output frame already encoded, as one chunk (for lines, with
 * `LineCodec.encodeLine`). An app that sends one frame to many connections
 * (a chat room) encodes it once, and every connection writes the same
 * bytes. One chunk per frame keeps the connection's outbound queue, which
 * counts chunks, bounded in frames.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handlerEncoded = <Frame, E, R>(
  codec: FrameCodec.FrameCodec<Frame>,
  app: FramedApp<Frame, Uint8Array, E, R>,
  options: Options = {}
): Connection.Handler<E, R> => framed(codec, app, options, (bytes) => bytes)
