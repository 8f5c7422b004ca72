/**
 * The frame stage's contract: a codec owns both directions of one wire
 * framing, bytes to frames (decode) and frames to bytes (encode).
 *
 * Stage: frame decode / frame encode. Decoders must be correct under any
 * split or coalescing of their input, and must fail with
 * `FrameTooLarge` as soon as a frame passes the cap, never buffering more.
 *
 * @since 0.1.0
 */
import type * as Stream from "effect/Stream"
import type * as ConnectionError from "./ConnectionError.ts"

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
 * A framing codec for frames of type `Frame`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameCodec<Frame> {
  /** A short name for logs and docs, e.g. `"lines"`. */
  readonly name: string
  /** Cuts a byte stream into frames. Fails with `FrameTooLarge`, `DecodeFailed` or `PeerClosed` (EOF mid-frame). */
  readonly decode: <E, R>(
    bytes: Stream.Stream<Uint8Array, E, R>,
    options?: DecodeOptions
  ) => Stream.Stream<Frame, E | ConnectionError.ConnectionError, R>
  /** Turns frames into wire bytes. */
  readonly encode: <E, R>(frames: Stream.Stream<Frame, E, R>) => Stream.Stream<Uint8Array, E, R>
}
