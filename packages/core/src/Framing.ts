/**
 * Framed handlers: an app written over frames instead of bytes, with the
 * frame deadline that stops slowloris peers.
 *
 * Stage: frame decode and encode, between the connection's bytes and the
 * app. `handler(codec, app)` gives a byte-level `Connection.Handler`;
 * `handlerEncoded` does the same for an app that encodes its own output.
 * An app that drives its input itself uses `decode` and `encode`, the two
 * halves of what `handler` runs, so its frames are timed and counted the
 * same way. Where only decoding matters, a codec is taken as
 * `FrameCodec<In, never>`: any codec that decodes `In`, whatever it encodes.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as Config from "./Config.ts"
import type * as Connection from "./Connection.ts"
import * as ConnectionError from "./ConnectionError.ts"
import type * as FrameCodec from "./FrameCodec.ts"
import * as Handoff from "./Handoff.ts"
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
 * Until a frame is first left partial, reads cost nothing extra. From then
 * on reads are made by a helper fiber and a watchdog fiber holds one timer,
 * re-armed per deadline (not per read), that abandons a read still waiting
 * when the partial frame's time is up; a read between frames is never
 * abandoned.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeWithDeadline = <Frame, E, R>(
  codec: FrameCodec.FrameCodec<Frame, never>,
  bytes: Stream.Stream<Uint8Array, E, R>,
  deadline: Duration.Input
): Stream.Stream<Frame, E | ConnectionError.ConnectionError, R> => {
  const limit = Duration.fromInputUnsafe(deadline)
  if (!Duration.isFinite(limit)) return codec.decode(bytes)
  const limitMillis = Duration.toMillis(limit)
  const timeout = ConnectionError.make(new ConnectionError.FrameTimeout({ after: limit }))
  // At debug level, in the connection's fibers (its id on the line).
  const deadlineHit = Effect.logDebug(`frame deadline hit: a frame not completed within ${Duration.format(limit)}`)
  return Stream.unwrap(Effect.clockWith((clock) => Effect.sync(() => {
    // Written and read by the decoding fiber only.
    let startedAt: number | undefined
    const onPartial = (partial: boolean, completed: boolean) => {
      if (!partial) startedAt = undefined
      else if (completed || startedAt === undefined) startedAt = clock.currentTimeMillisUnsafe()
    }
    const timed = Stream.transformPull(bytes, (upstream, scope) =>
      Effect.sync(() => {
        type Chunks = Arr.NonEmptyReadonlyArray<Uint8Array>
        type Result = Exit.Exit<Chunks, E | Cause.Done>
        // Pulls made while a frame is partial must be abandoned when the
        // deadline passes, so they run in a helper fiber that a watchdog
        // can interrupt. Both are forked the first time a frame is
        // partial and live until the stream ends (or a deadline kills the
        // helper): one timer per deadline, not one race per read, which in
        // a bulk transfer (every read ends inside a 64 KiB frame) cost two
        // fibers and a timer per read. Once the helper exists every pull
        // goes through it, so reads stay in order.
        let helper: Fiber.Fiber<never> | undefined
        // A read asked of the helper before it waited for one.
        let requested = false
        const requests = Handoff.make<void>(() => {
          if (!requested) return undefined
          requested = false
          return Effect.void
        })
        // A result that came after the decoder's pull for it was
        // interrupted, kept for the next one: no byte is ever dropped.
        let ready: Result | undefined
        const takeReady = () => {
          const result = ready
          ready = undefined
          return result
        }
        // The decoder's pull waiting for the helper. It asks for a read once
        // it is about to wait: a read the helper makes at once is then
        // `ready` before it waits.
        const pulls = Handoff.make<Chunks, E | Cause.Done | ConnectionError.ConnectionError>(() => {
          request()
          return takeReady()
        })

        const deliver = (result: Result) => {
          if (!pulls.give(result)) ready = result
        }
        const helperLoop: Effect.Effect<never> = Effect.forever(
          requests.take.pipe(Effect.andThen(Effect.exit(upstream)), Effect.map(deliver))
        )
        const request = () => {
          if (!requests.give(Effect.void)) requested = true
        }
        // Sleeps until the partial frame's deadline, rechecking when it
        // wakes (the frame may have completed and another begun); between
        // frames it sleeps a whole deadline at a time.
        // Uninterruptible from the check on: the failure delivered ends the
        // stream, whose scope then interrupts this fiber, and the debug
        // line must still be logged.
        const timeUp = Effect.uninterruptible(Effect.suspend(() => {
          const stuck = helper
          if (!pulls.waiting || stuck === undefined) return Effect.void
          helper = undefined
          requested = false
          deliver(Exit.fail(timeout) as never)
          return Effect.andThen(deadlineHit, Effect.andThen(Fiber.interrupt(stuck), Effect.interruptible(Effect.sleep(limit))))
        }))
        const watchdog: Effect.Effect<never> = Effect.forever(Effect.suspend(() => {
          if (startedAt === undefined) return Effect.sleep(limit)
          const remaining = startedAt + limitMillis - clock.currentTimeMillisUnsafe()
          if (remaining > 0) return Effect.sleep(remaining)
          if (pulls.waiting && helper !== undefined) return timeUp
          return Effect.sleep(limit)
        }))

        const viaHelper = Effect.suspend(() => {
          const result = takeReady()
          if (result !== undefined) return result
          if (helper !== undefined) return pulls.take
          return Effect.andThen(
            Effect.map(Effect.forkIn(helperLoop, scope, { startImmediately: true }), (fiber) => {
              helper = fiber
            }),
            pulls.take
          )
        })
        let watching = false
        return Effect.suspend(() => {
          if (startedAt === undefined && helper === undefined && ready === undefined) return upstream
          if (startedAt !== undefined && startedAt + limitMillis - clock.currentTimeMillisUnsafe() <= 0) {
            return Effect.andThen(deadlineHit, Effect.fail(timeout))
          }
          if (watching) return viaHelper
          watching = true
          return Effect.andThen(Effect.forkIn(watchdog, scope), viaHelper)
        })
      }))
    return codec.decode(timed, { onPartial })
  })))
}

// Counts each chunk of frames in `counter`, with the context (registry and
// the server's attributes) captured once per connection.
const counting = (counter: typeof Metrics.framesIn, context: Context.Context<never>) =>
<A>(frames: Arr.NonEmptyReadonlyArray<A>) => {
  Metrics.addUnsafe(counter, frames.length, context)
  return frames
}

const decodeCounted = <In, E, R>(
  codec: FrameCodec.FrameCodec<In, never>,
  bytes: Stream.Stream<Uint8Array, E, R>,
  options: Options,
  context: Context.Context<never>
): Stream.Stream<In, E | ConnectionError.ConnectionError, R> =>
  decodeWithDeadline(codec, bytes, options.frameDeadline ?? Config.frameDeadline).pipe(
    Stream.mapArray(counting(Metrics.framesIn, context))
  )

/**
 * The frame stage's input side, as `handler` runs it: decodes `bytes` with
 * `codec` and the frame deadline (`Options.frameDeadline`), and counts the
 * frames in `Metrics.framesIn`. For an app that drives its connection's
 * input itself instead of through `handler` (the files server pulls frames
 * as its conversation needs them).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = <In, E, R>(
  codec: FrameCodec.FrameCodec<In, never>,
  bytes: Stream.Stream<Uint8Array, E, R>,
  options: Options = {}
): Stream.Stream<In, E | ConnectionError.ConnectionError, R> =>
  Stream.unwrap(Effect.map(Effect.context<never>(), (context) => decodeCounted(codec, bytes, options, context)))

/**
 * The frame stage's output side, as `handler` runs it: counts `frames` in
 * `Metrics.framesOut` and encodes them with `codec`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode = <Out, E, R>(
  codec: FrameCodec.FrameCodec<unknown, Out>,
  frames: Stream.Stream<Out, E, R>
): Stream.Stream<Uint8Array, E, R> =>
  Stream.unwrap(
    Effect.map(Effect.context<never>(), (context) => codec.encode(Stream.mapArray(frames, counting(Metrics.framesOut, context))))
  )

// Decodes the input with the frame deadline and counts frames both ways;
// `output` turns the app's output into bytes.
const framed = <In, Out, E, R>(
  codec: FrameCodec.FrameCodec<In, never>,
  app: FramedApp<In, Out, E, R>,
  options: Options,
  output: (frames: Stream.Stream<Out, E | ConnectionError.ConnectionError, R>) => Stream.Stream<Uint8Array, E | ConnectionError.ConnectionError, R>
): Connection.Handler<E, R> =>
(input, info) =>
  Stream.unwrap(Effect.map(Effect.context<never>(), (context) => {
    const frames = decodeCounted(codec, input, options, context)
    return output(app(frames, info).pipe(Stream.mapArray(counting(Metrics.framesOut, context))))
  }))

/**
 * Turns a framed app into a byte-level connection handler: input bytes are
 * decoded (with the frame deadline), output frames encoded, both with
 * `codec`, and frames are counted both ways (`Metrics.framesIn`,
 * `Metrics.framesOut`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler = <In, Out, E, R>(
  codec: FrameCodec.FrameCodec<In, Out>,
  app: FramedApp<In, Out, E, R>,
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
export const handlerEncoded = <In, E, R>(
  codec: FrameCodec.FrameCodec<In, never>,
  app: FramedApp<In, Uint8Array, E, R>,
  options: Options = {}
): Connection.Handler<E, R> => framed(codec, app, options, (bytes) => bytes)
