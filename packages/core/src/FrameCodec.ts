/**
 * The frame stage's contract: a codec owns both directions of one wire
 * framing, bytes to frames (decode) and frames to bytes (encode). The
 * frames a codec decodes and those it encodes may differ in type (a server
 * reads requests and writes replies).
 *
 * Stage: frame decode / frame encode. Decoders must be correct under any
 * split or coalescing of their input, and must fail with
 * `FrameTooLarge` as soon as a frame passes the cap, never buffering more.
 *
 * A codec is written as its decoding step, given to {@link make}: what one
 * read completes, what is left at the end of input, and whether part of a
 * frame is buffered. `make` owns the rest (pulling reads, emitting each
 * read's frames as one chunk, stopping at the first error, the report the
 * frame deadline is built on), so every codec pulls the same way.
 *
 * @example
 * ```ts
 * import { ConnectionError, FrameCodec } from "@socket-to-me/core"
 * import * as Stream from "effect/Stream"
 *
 * const colon = 0x3a
 * const comma = 0x2c
 *
 * // Netstrings ("5:hello,"): a decimal length, ":", the payload, ",".
 * export const netstrings = (maxBytes: number) =>
 *   FrameCodec.make<Uint8Array>({
 *     name: "netstrings",
 *     decoder: () => {
 *       // Digits of the length read so far (0 between frames), the length,
 *       // and once ":" has come, the payload being filled.
 *       let digits = 0
 *       let size = 0
 *       let payload: Uint8Array | undefined
 *       let filled = 0
 *       return {
 *         step: (chunk, out) => {
 *           let i = 0
 *           while (i < chunk.length) {
 *             if (payload === undefined) {
 *               const byte = chunk[i++]!
 *               if (byte === colon && digits > 0) {
 *                 payload = new Uint8Array(size)
 *                 filled = 0
 *               } else if (byte >= 0x30 && byte <= 0x39) {
 *                 size = size * 10 + byte - 0x30
 *                 digits++
 *                 if (size > maxBytes) return new ConnectionError.FrameTooLarge({ size, limit: maxBytes })
 *               } else {
 *                 return new ConnectionError.DecodeFailed({ detail: "netstring length expected" })
 *               }
 *             } else if (filled < payload.length) {
 *               const n = Math.min(payload.length - filled, chunk.length - i)
 *               payload.set(chunk.subarray(i, i + n), filled)
 *               filled += n
 *               i += n
 *             } else {
 *               if (chunk[i++] !== comma) return new ConnectionError.DecodeFailed({ detail: "\",\" expected" })
 *               out.push(payload)
 *               payload = undefined
 *               digits = 0
 *               size = 0
 *             }
 *           }
 *           return undefined
 *         },
 *         // No `flush`: input that ends inside a frame fails with `PeerClosed`.
 *         partial: () => digits > 0
 *       }
 *     },
 *     encode: (frames) =>
 *       Stream.map(frames, (frame) => {
 *         const head = new TextEncoder().encode(`${frame.length}:`)
 *         const wire = new Uint8Array(head.length + frame.length + 1)
 *         wire.set(head)
 *         wire.set(frame, head.length)
 *         wire[wire.length - 1] = comma
 *         return wire
 *       })
 *   })
 * ```
 *
 * @since 0.1.0
 */
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Stream from "effect/Stream"
import * as ConnectionError from "./ConnectionError.ts"

/**
 * Options of a decode.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeOptions {
  /**
   * Called after each read is processed: `partial` says whether part of a
   * frame is buffered, waiting for more bytes; `completed` whether that read
   * completed at least one frame (so a partial frame left after it began in
   * this read). The frame deadline is built on it.
   */
  readonly onPartial?: ((partial: boolean, completed: boolean) => void) | undefined
}

/**
 * A framing codec that decodes frames of type `In` from the bytes it reads
 * and encodes frames of type `Out` into the bytes it writes; most codecs
 * have one frame type for both.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameCodec<In, Out = In> {
  /** A short name for logs and docs, e.g. `"lines"`. */
  readonly name: string
  /** Cuts a byte stream into frames. Fails with `FrameTooLarge`, `DecodeFailed` or `PeerClosed` (EOF mid-frame). */
  readonly decode: <E, R>(
    bytes: Stream.Stream<Uint8Array, E, R>,
    options?: DecodeOptions
  ) => Stream.Stream<In, E | ConnectionError.ConnectionError, R>
  /** Turns frames into wire bytes. */
  readonly encode: <E, R>(frames: Stream.Stream<Out, E, R>) => Stream.Stream<Uint8Array, E, R>
}

/**
 * The state of one decode (one connection's input), as {@link make} drives
 * it: `step` for each read, in order, then `flush` once at the end of input.
 * Every method runs in the decoding fiber, so plain `let`s hold the state.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoder<In> {
  /**
   * Appends to `out` every frame that `chunk` completes, and keeps what is
   * left of a frame for the next read. Returns the reason that stops
   * decoding (frames appended before it are still emitted), or `undefined`.
   * `chunk` may be a view that is not the decoder's to keep past the
   * frames it hands on: copy what is held across reads, or keep views only
   * when the input's buffers are never reused (a socket's are not).
   */
  readonly step: (chunk: Uint8Array, out: Array<In>) => ConnectionError.ConnectionErrorReason | undefined
  /**
   * At the end of input: appends a last frame, or returns why the input
   * may not end here. Without it, input that ends while `partial()` fails
   * with `PeerClosed`.
   */
  readonly flush?: ((out: Array<In>) => ConnectionError.ConnectionErrorReason | undefined) | undefined
  /** Whether part of a frame is buffered, waiting for more bytes (the frame deadline runs while it is). */
  readonly partial: () => boolean
}

/**
 * What {@link make} builds a codec from.
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions<In, Out> {
  /** A short name for logs and docs. */
  readonly name: string
  /** A fresh decoder for each decode: its state is one input's. */
  readonly decoder: () => Decoder<In>
  /** Turns frames into wire bytes. */
  readonly encode: <E, R>(frames: Stream.Stream<Out, E, R>) => Stream.Stream<Uint8Array, E, R>
}

const endedInsideFrame: ConnectionError.ConnectionErrorReason = new ConnectionError.PeerClosed({
  detail: "input ended inside a frame"
})

/**
 * Builds a codec from its decoding step and its encoder.
 *
 * The decode pulls one read (a chunk of buffers) at a time and runs `step`
 * on each buffer; all the frames one read completes are emitted together as
 * one chunk, and a read that completes none is followed by the next read at
 * once. After each read it reports `partial()` to `DecodeOptions.onPartial`.
 * The first reason `step` or `flush` returns ends the decode with that
 * `ConnectionError`, after the frames before it; later pulls repeat the
 * error without reading more. No fiber, no buffer and no effect is added
 * per read beyond the chunk of frames emitted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <In, Out = In>(options: MakeOptions<In, Out>): FrameCodec<In, Out> => ({
  name: options.name,
  decode: decodeWith(options.decoder),
  encode: options.encode
})

const decodeWith = <In>(makeDecoder: () => Decoder<In>) =>
<E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  options?: DecodeOptions
): Stream.Stream<In, E | ConnectionError.ConnectionError, R> =>
  Stream.transformPull(bytes, (upstream) =>
    Effect.sync(() => {
      const decoder = makeDecoder()
      const onPartial = options?.onPartial
      // Set once decoding has failed or input has ended; later pulls repeat
      // it without touching upstream again.
      let failure: ConnectionError.ConnectionError | undefined
      let ended = false

      const emit = (out: Array<In>): Pull.Pull<Arr.NonEmptyReadonlyArray<In>, ConnectionError.ConnectionError> | undefined => {
        if (Arr.isArrayNonEmpty(out)) return Effect.succeed(out)
        return failure !== undefined ? Effect.fail(failure) : undefined
      }

      const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<In>, E | ConnectionError.ConnectionError> = Effect.suspend(
        () => {
          if (failure !== undefined) return Effect.fail(failure)
          if (ended) return Cause.done()
          return Pull.matchEffect(upstream, {
            onSuccess: (chunks) => {
              const out: Array<In> = []
              for (let c = 0; c < chunks.length; c++) {
                const reason = decoder.step(chunks[c]!, out)
                if (reason !== undefined) {
                  failure = ConnectionError.make(reason)
                  break
                }
              }
              onPartial?.(decoder.partial(), out.length > 0)
              return emit(out) ?? pull
            },
            onFailure: Effect.failCause,
            onDone: () => {
              ended = true
              const out: Array<In> = []
              const reason = decoder.flush !== undefined
                ? decoder.flush(out)
                : decoder.partial()
                ? endedInsideFrame
                : undefined
              if (reason !== undefined) failure = ConnectionError.make(reason)
              return emit(out) ?? Cause.done()
            }
          })
        }
      )
      return pull
    }))
