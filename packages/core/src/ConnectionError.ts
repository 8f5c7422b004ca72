/**
 * The error family of one connection: every way a connection can fail, as one
 * tagged `ConnectionError` whose `reason` says which.
 *
 * Stage: all of them. Readers, codecs, handlers and writers fail with a
 * `ConnectionError`; the connection turns it into its exit reason
 * (see `Connection.ts`) and it never leaves that connection.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"

/**
 * The peer closed its side while the connection still needed input (for
 * example in the middle of a frame).
 *
 * @since 0.1.0
 * @category reasons
 */
export class PeerClosed extends Data.TaggedError("PeerClosed")<{
  readonly detail: string
}> {
  override get message(): string {
    return `peer closed: ${this.detail}`
  }
}

/**
 * The peer reset the connection (TCP RST, ECONNRESET, EPIPE).
 *
 * @since 0.1.0
 * @category reasons
 */
export class PeerReset extends Data.TaggedError("PeerReset")<{
  readonly cause: unknown
}> {
  override get message(): string {
    return "connection reset by peer"
  }
}

/**
 * Dialing found nothing listening at the address (ECONNREFUSED on TCP):
 * the server is not running there. Only a client's connect fails this way.
 *
 * @since 0.1.0
 * @category reasons
 */
export class NoListener extends Data.TaggedError("NoListener")<{
  readonly cause: unknown
}> {
  override get message(): string {
    return "nothing listens there"
  }
}

/**
 * Reading from the socket failed for a reason other than a reset.
 *
 * @since 0.1.0
 * @category reasons
 */
export class ReadFailed extends Data.TaggedError("ReadFailed")<{
  readonly cause: unknown
}> {
  override get message(): string {
    return `read failed: ${describeCause(this.cause)}`
  }
}

/**
 * Writing to the socket failed.
 *
 * @since 0.1.0
 * @category reasons
 */
export class WriteFailed extends Data.TaggedError("WriteFailed")<{
  readonly cause: unknown
}> {
  override get message(): string {
    return `write failed: ${describeCause(this.cause)}`
  }
}

/**
 * No traffic in either direction for the configured time.
 *
 * @since 0.1.0
 * @category reasons
 */
export class IdleTimeout extends Data.TaggedError("IdleTimeout")<{
  readonly after: Duration.Duration
}> {
  override get message(): string {
    return "idle timeout"
  }
}

/**
 * A frame was started but not completed within the frame deadline (a peer
 * trickling bytes, as in slowloris).
 *
 * @since 0.1.0
 * @category reasons
 */
export class FrameTimeout extends Data.TaggedError("FrameTimeout")<{
  readonly after: Duration.Duration
}> {
  override get message(): string {
    return "frame not completed within the frame deadline"
  }
}

/**
 * The peer does not read fast enough: its bounded outbound queue filled up
 * and the declared policy is to disconnect.
 *
 * @since 0.1.0
 * @category reasons
 */
export class SlowConsumer extends Data.TaggedError("SlowConsumer")<{
  /** Capacity of the queue that overflowed. */
  readonly capacity: number
}> {
  override get message(): string {
    return `slow consumer: outbound queue of ${this.capacity} full`
  }
}

/**
 * A frame grew past its codec's byte cap. Raised as soon as the cap is passed,
 * before the rest of the frame is read.
 *
 * @since 0.1.0
 * @category reasons
 */
export class FrameTooLarge extends Data.TaggedError("FrameTooLarge")<{
  /** Bytes seen (or announced by a length prefix) so far. */
  readonly size: number
  readonly limit: number
}> {
  override get message(): string {
    return `frame too large: ${this.size} bytes exceeds the limit of ${this.limit}`
  }
}

/**
 * Bytes that do not decode into a valid message of the protocol.
 *
 * @since 0.1.0
 * @category reasons
 */
export class DecodeFailed extends Data.TaggedError("DecodeFailed")<{
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `decode failed: ${this.detail}`
  }
}

/**
 * The app's handler failed with an error or a defect.
 *
 * @since 0.1.0
 * @category reasons
 */
export class HandlerFailed extends Data.TaggedError("HandlerFailed")<{
  readonly cause: unknown
}> {
  override get message(): string {
    return `handler failed: ${describeCause(this.cause)}`
  }
}

/**
 * Every reason a connection can fail.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionErrorReason =
  | PeerClosed
  | PeerReset
  | NoListener
  | ReadFailed
  | WriteFailed
  | IdleTimeout
  | FrameTimeout
  | SlowConsumer
  | FrameTooLarge
  | DecodeFailed
  | HandlerFailed

/**
 * The one error type of a connection; `reason` tells which failure it is.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Data.TaggedError("ConnectionError")<{
  readonly reason: ConnectionErrorReason
}> {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * Wraps a reason into a `ConnectionError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (reason: ConnectionErrorReason): ConnectionError => new ConnectionError({ reason })

/**
 * A short, single-line description of an unknown cause, for log lines and
 * error messages.
 *
 * @since 0.1.0
 * @category utils
 */
export const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as { readonly code?: unknown }).code
    return typeof code === "string" ? `${code}: ${cause.message}` : cause.message
  }
  return String(cause)
}
