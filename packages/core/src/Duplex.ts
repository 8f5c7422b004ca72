/**
 * A socket seen as two byte streams: an input `Stream` and a write side that
 * can be half-closed. Both the server's connections and the client use it.
 *
 * Stage: read and write. This is the only place that interprets effect's
 * `SocketError`: end of stream becomes the end of `input`, everything else a
 * typed `ConnectionError`, with the reasons the socket's transport declared
 * (see `Transport`: reset, read, write). It is also where a transport's
 * direct writer, if it declared one, is acquired (`writeNow`).
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
import * as Transport from "./Transport.ts"

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
   * that declare a direct writer (`Transport.DirectWriter`; `undefined` on
   * others): `true` if the socket takes more, `false` if it asks to wait,
   * after which nothing may be written before `awaitWritable` completes. A
   * write that fails is reported by `awaitWritable`.
   */
  readonly writeNow: ((chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => boolean) | undefined
  /** Completes once the socket takes more after `writeNow` said to wait; fails if it never will. At once without a direct writer. */
  readonly awaitWritable: Effect.Effect<void, ConnectionError.ConnectionError>
  /** Half-closes: no more writes, the peer sees end of stream; reading goes on. Idempotent. */
  readonly end: Effect.Effect<void>
  /** Destroys the socket at once, discarding unsent output; the peer sees an abrupt close. */
  readonly reset: Effect.Effect<void>
  /** Live counters. */
  readonly stats: Stats
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
  const capabilities = Transport.capabilities(socket)
  const reader = yield* Scope.provide(socket.reader, scope).pipe(
    Effect.mapError((error) =>
      ConnectionError.make(
        Transport.readFailure(capabilities.failure, error) ??
          new ConnectionError.PeerClosed({ detail: "closed before it was opened" })
      )
    )
  )
  // The writer lives in its own scope so that `end` can release it (FIN)
  // early while the read side stays open.
  const writeScope = yield* Scope.fork(scope)
  const direct = capabilities.directWriter === undefined
    ? undefined
    : yield* Scope.provide(capabilities.directWriter, writeScope)
  const writer = direct ?? (yield* Scope.provide(socket.writer, writeScope))
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
  const duplex: Duplex = new DuplexImpl(
    reader.pull,
    writer,
    direct,
    capabilities.failure,
    writeScope,
    yield* Clock.Clock,
    yield* Effect.context<never>()
  )
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
  readonly direct: Transport.DirectWriter | undefined
  // How the transport's failures read (see `Transport`).
  readonly failure: Transport.Capabilities["failure"]
  readonly writeScope: Scope.Closeable
  readonly clock: Clock.Clock
  readonly context: Context.Context<never>

  constructor(
    pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array | string>, Socket.SocketError>,
    writer: Socket.Writer,
    direct: Transport.DirectWriter | undefined,
    failure: Transport.Capabilities["failure"],
    writeScope: Scope.Closeable,
    clock: Clock.Clock,
    context: Context.Context<never>
  ) {
    this.writer = writer
    this.direct = direct
    this.failure = failure
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
    this.writeNow = direct === undefined ? undefined : (chunks) => direct.writeNow(this.count(chunks))
  }

  // Made when the socket asks to wait, not held by every connection.
  get awaitWritable(): Effect.Effect<void, ConnectionError.ConnectionError> {
    const direct = this.direct
    return direct === undefined ? Effect.void : Effect.mapError(direct.awaitWritable, (error) => this.writeFailed(error))
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
    const failure = Transport.readFailure(this.failure, error.success)
    if (failure !== undefined) return Effect.fail(ConnectionError.make(failure))
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
    return Effect.mapError(this.writer.writeAll(this.count(chunks)), (error) => this.writeFailed(error))
  }

  writeFailed(error: Socket.SocketError): ConnectionError.ConnectionError {
    return ConnectionError.make(Transport.writeFailure(this.failure, error))
  }
}
