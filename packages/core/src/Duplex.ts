/**
 * A socket seen as two byte streams: an input `Stream` and a write side that
 * can be half-closed. Both the server's connections and the client use it.
 *
 * Stage: read and write. This is the only place that interprets effect's
 * `SocketError`: end of stream becomes the end of `input`, everything else a
 * typed `ConnectionError` (reset, read, write, closed).
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as ConnectionError from "./ConnectionError.ts"
import * as Metrics from "./Metrics.ts"

/**
 * Byte counters and end-of-input flag of one duplex. Each field has a single
 * writer (the reading fiber or the writing fiber), so plain fields suffice.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Bytes read from the peer so far. */
  bytesIn: number
  /** Bytes handed to the socket so far. */
  bytesOut: number
  /** Whether the peer closed its side in order (FIN / orderly EOF). */
  peerEnded: boolean
  /** `Clock` time in milliseconds of the last read or write. */
  lastActivity: number
}

/**
 * An open socket as byte streams.
 *
 * @since 0.1.0
 * @category models
 */
export interface Duplex {
  /**
   * Bytes from the peer, in order. Pulled lazily: the socket is read only
   * when this stream is pulled, which is what gives backpressure. Ends when
   * the peer closes in order. Consume it at most once.
   */
  readonly input: Stream.Stream<Uint8Array, ConnectionError.ConnectionError>
  /** Writes chunks in order; completes when the socket accepted them (waits on its drain). */
  readonly write: (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => Effect.Effect<void, ConnectionError.ConnectionError>
  /**
   * Hands chunks to the socket at once, without an effect, on transports
   * whose writer can (`ImmediateWriter`; `undefined` on others): `true` if
   * the socket takes more, `false` if it asks to wait, after which nothing
   * may be written before `awaitWritable` completes. A write that fails is
   * reported by `awaitWritable`.
   */
  readonly writeNow: ((chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => boolean) | undefined
  /** Completes once the socket takes more after `writeNow` said to wait; fails if it never will. */
  readonly awaitWritable: Effect.Effect<void, ConnectionError.ConnectionError>
  /** Half-closes: no more writes, the peer sees end of stream; reading goes on. Idempotent. */
  readonly end: Effect.Effect<void>
  /** Destroys the socket at once, discarding unsent output; the peer sees an abrupt close. */
  readonly reset: Effect.Effect<void>
  /** Live counters. */
  readonly stats: Stats
}

/**
 * A socket writer that can also write without an effect (the TCP transport's
 * is one): `writeImmediate` hands the chunks to the socket and says whether
 * it takes more (`true`) or asks to wait (`false`) until `awaitWritable`
 * completes. `Duplex` uses it to write from the app's fiber when the writer
 * has nothing to do, without waking the writer's fiber.
 *
 * @since 0.1.0
 * @category models
 */
export interface ImmediateWriter extends Socket.Writer {
  readonly writeImmediate: (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => boolean
  readonly awaitWritable: Effect.Effect<void, Socket.SocketError>
}

const isImmediateWriter = (writer: Socket.Writer): writer is ImmediateWriter =>
  typeof (writer as Partial<ImmediateWriter>).writeImmediate === "function"

const resetCodes = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_STREAM_DESTROYED"])

const errorCode = (cause: unknown): string | undefined => {
  const code = (cause as { readonly code?: unknown } | null | undefined)?.code
  return typeof code === "string" ? code : undefined
}

const isReset = (cause: unknown): boolean => {
  const code = errorCode(cause)
  return code !== undefined && resetCodes.has(code)
}

/**
 * Classifies a `SocketError` raised while reading or opening; `undefined`
 * means an orderly end of stream.
 *
 * @since 0.1.0
 * @category errors
 */
export const fromReadError = (error: Socket.SocketError): ConnectionError.ConnectionError | undefined => {
  const reason = error.reason
  switch (reason._tag) {
    case "SocketCloseError":
      return reason.code === 1000
        ? undefined
        : ConnectionError.make(new ConnectionError.PeerReset({ cause: reason }))
    case "SocketReadError":
    case "SocketOpenError":
      return ConnectionError.make(
        isReset(reason.cause)
          ? new ConnectionError.PeerReset({ cause: reason.cause })
          : new ConnectionError.ReadFailed({ cause: reason.cause })
      )
    default:
      return ConnectionError.make(new ConnectionError.ReadFailed({ cause: reason }))
  }
}

/**
 * Classifies a `SocketError` raised while writing.
 *
 * @since 0.1.0
 * @category errors
 */
export const fromWriteError = (error: Socket.SocketError): ConnectionError.ConnectionError => {
  const reason = error.reason
  const cause = "cause" in reason ? reason.cause : reason
  return ConnectionError.make(
    isReset(cause)
      ? new ConnectionError.PeerReset({ cause })
      : new ConnectionError.WriteFailed({ cause })
  )
}

// Each chunk handed to the socket costs a write request and an iovec, far
// more than the bytes of a short line. So a batch leaves in as few buffers
// as it can: adjacent views of one buffer (lines encoded together, see
// `LineCodec`) are merged into one view, without copying. A few pieces are
// then written as they are (one writev); more than `gatherAbove` are
// gathered: consecutive small ones (under `gatherBelow` bytes) are copied
// into one buffer of about `gatherBelow` bytes at most. Allocating that
// buffer costs about as much as writing a few more pieces. Large chunks (a
// stream's reads) go as they are.
const gatherAbove = 8
const gatherBelow = 16 * 1024

// Adjacent views of one buffer, merged into one view each.
const mergeAdjacent = (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  const pieces: Array<Uint8Array> = []
  let first = chunks[0]
  let buffer = first.buffer
  let end = first.byteOffset + first.byteLength
  let merged = false
  for (let i = 1; i < chunks.length; i++) {
    const next = chunks[i]!
    if (next.byteOffset === end && next.buffer === buffer) {
      end += next.byteLength
      merged = true
      continue
    }
    pieces.push(merged ? new Uint8Array(buffer, first.byteOffset, end - first.byteOffset) : first)
    first = next
    buffer = next.buffer
    end = next.byteOffset + next.byteLength
    merged = false
  }
  pieces.push(merged ? new Uint8Array(buffer, first.byteOffset, end - first.byteOffset) : first)
  return pieces
}

const coalesce = (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>): Arr.NonEmptyReadonlyArray<Uint8Array> => {
  const pieces = mergeAdjacent(chunks)
  if (pieces.length <= gatherAbove) return pieces as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
  const out: Array<Uint8Array> = []
  let i = 0
  while (i < pieces.length) {
    // The run of small pieces from `i`, up to about `gatherBelow` bytes.
    let size = 0
    let j = i
    while (j < pieces.length && pieces[j]!.byteLength < gatherBelow && size < gatherBelow) {
      size += pieces[j]!.byteLength
      j++
    }
    if (j - i < 2) {
      out.push(pieces[i]!)
      i++
      continue
    }
    const gathered = new Uint8Array(size)
    let at = 0
    for (let k = i; k < j; k++) {
      gathered.set(pieces[k]!, at)
      at += pieces[k]!.byteLength
    }
    out.push(gathered)
    i = j
  }
  return out as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
}

/**
 * Opens a socket's reader and writer in the current scope. Closing the scope
 * with success half-closes the write side (after the pending output), then
 * releases the socket; closing it with a failure or an interruption closes
 * the socket at once, dropping unsent output, so that a peer that stopped
 * reading cannot keep it open.
 * Fails when the socket cannot be opened (for a client, connection refused;
 * for a server, a peer that already went away).
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = Effect.fnUntraced(function*(socket: Socket.Socket) {
  const scope = yield* Effect.scope
  const reader = yield* Scope.provide(socket.reader, scope).pipe(
    Effect.mapError((error) =>
      fromReadError(error) ??
        ConnectionError.make(new ConnectionError.PeerClosed({ detail: "closed before it was opened" }))
    )
  )
  // The writer lives in its own scope so that `end` can release it (FIN)
  // early while the read side stays open.
  const writeScope = yield* Scope.fork(scope)
  const writer = yield* Scope.provide(socket.writer, writeScope)
  // A duplex whose scope fails or is interrupted (idle timeout, drain after
  // the grace period, protocol error) is not flushed: its socket is closed at
  // once, discarding unsent output. The graceful close (FIN after the pending
  // bytes, then release) waits for those bytes to leave, which never happens
  // when the peer stopped reading; the socket, and its file descriptor, would
  // outlive the connection for as long as the peer stays silent. Registered
  // last, so it runs first, before the half-close and the release.
  yield* Scope.addFinalizerExit(scope, (exit) =>
    Exit.isSuccess(exit) ? Effect.void : Effect.ignore(writer.write(new Socket.CloseEvent(1000, "aborted"))))
  // Captured once: counters are bumped synchronously on the hot path.
  const duplex: Duplex = new DuplexImpl(reader.pull, writer, writeScope, yield* Clock.Clock, yield* Effect.context<never>())
  return duplex
})

const encoder = new TextEncoder()

// A class rather than closures over the locals of `open`: every connection
// holds its duplex for its whole life, and methods on the prototype cost it
// nothing.
class DuplexImpl implements Duplex {
  readonly stats: Stats
  readonly input: Stream.Stream<Uint8Array, ConnectionError.ConnectionError>
  readonly write: (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => Effect.Effect<void, ConnectionError.ConnectionError>
  readonly writeNow: ((chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => boolean) | undefined
  readonly writer: Socket.Writer
  readonly writeScope: Scope.Closeable
  // A `writeNow` that threw: `awaitWritable` fails with it.
  writeFailure: ConnectionError.ConnectionError | undefined = undefined
  readonly clock: Clock.Clock
  readonly context: Context.Context<never>

  constructor(
    pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array | string>, Socket.SocketError>,
    writer: Socket.Writer,
    writeScope: Scope.Closeable,
    clock: Clock.Clock,
    context: Context.Context<never>
  ) {
    this.writer = writer
    this.writeScope = writeScope
    this.clock = clock
    this.context = context
    this.stats = { bytesIn: 0, bytesOut: 0, peerEnded: false, lastActivity: clock.currentTimeMillisUnsafe() }
    const read: Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, ConnectionError.ConnectionError> = Effect
      .matchCauseEffect(pull, {
        onFailure: (cause) => this.readFailed(cause),
        onSuccess: (chunks) => this.read(chunks)
      })
    this.input = Stream.fromPull(Effect.succeed(read))
    this.write = (chunks) => this.writeEffect(chunks)
    this.writeNow = isImmediateWriter(writer) ? (chunks) => this.writeImmediate(writer, chunks) : undefined
  }

  get awaitWritable(): Effect.Effect<void, ConnectionError.ConnectionError> {
    if (this.writeFailure !== undefined) return Effect.fail(this.writeFailure)
    return isImmediateWriter(this.writer)
      ? Effect.mapError(this.writer.awaitWritable, fromWriteError)
      : Effect.void
  }

  get end(): Effect.Effect<void> {
    return Scope.close(this.writeScope, Exit.void)
  }

  get reset(): Effect.Effect<void> {
    return Effect.ignore(this.writer.write(new Socket.CloseEvent(1006, "reset")))
  }

  read(chunks: Arr.NonEmptyReadonlyArray<Uint8Array | string>): Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>> {
    const bytes = chunks.some((chunk) => typeof chunk === "string")
      ? chunks.map((chunk) => typeof chunk === "string" ? encoder.encode(chunk) : chunk) as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
      : chunks as Arr.NonEmptyReadonlyArray<Uint8Array>
    let size = 0
    for (let i = 0; i < bytes.length; i++) size += bytes[i]!.byteLength
    const stats = this.stats
    stats.bytesIn += size
    Metrics.addUnsafe(Metrics.bytesIn, size, this.context)
    stats.lastActivity = this.clock.currentTimeMillisUnsafe()
    return Effect.succeed(bytes)
  }

  readFailed(
    cause: Cause.Cause<Socket.SocketError>
  ): Effect.Effect<never, ConnectionError.ConnectionError | Cause.Done> {
    // As `Effect.catch`: defects and interruptions go through.
    const error = Cause.hasDies(cause) ? undefined : Cause.findError(cause)
    if (error === undefined || Result.isFailure(error)) return Effect.failCause(cause as Cause.Cause<never>)
    const failure = fromReadError(error.success)
    if (failure !== undefined) return Effect.fail(failure)
    this.stats.peerEnded = true
    return Cause.done()
  }

  // Counts what is handed to the socket (bytes, metrics, activity) and
  // returns what to hand it: adjacent views merged (see `coalesce`).
  count(chunks: Arr.NonEmptyReadonlyArray<Uint8Array>): Arr.NonEmptyReadonlyArray<Uint8Array> {
    let size = 0
    for (let i = 0; i < chunks.length; i++) size += chunks[i]!.byteLength
    const stats = this.stats
    stats.bytesOut += size
    Metrics.addUnsafe(Metrics.bytesOut, size, this.context)
    stats.lastActivity = this.clock.currentTimeMillisUnsafe()
    return chunks.length === 1 ? chunks : coalesce(chunks)
  }

  writeEffect(chunks: Arr.NonEmptyReadonlyArray<Uint8Array>): Effect.Effect<void, ConnectionError.ConnectionError> {
    return Effect.mapError(this.writer.writeAll(this.count(chunks)), fromWriteError)
  }

  writeImmediate(writer: ImmediateWriter, chunks: Arr.NonEmptyReadonlyArray<Uint8Array>): boolean {
    try {
      return writer.writeImmediate(this.count(chunks))
    } catch (cause) {
      this.writeFailure = ConnectionError.make(new ConnectionError.WriteFailed({ cause }))
      return false
    }
  }

}
