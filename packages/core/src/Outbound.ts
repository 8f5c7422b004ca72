/**
 * The write stage of one connection: the bounded outbound queue between the
 * app's fiber, which offers the app's output, and the writer, which runs
 * `run` and writes it to the socket, followed by how the output ended
 * (done, or the app's failure). This module is the only one that writes a
 * connection's output: `Connection` offers and runs the writer, `Duplex`
 * moves the bytes.
 *
 * Stage: write. One producer, one consumer, and the hand-over is direct
 * (`Handoff`): a chunk offered while the writer waits is given to it at
 * once, and the writer runs right away, in the producer's turn (its write
 * is usually synchronous: the socket takes the bytes). `effect/Queue` wakes
 * a waiting taker on a later turn of the event loop instead; for small
 * messages that hop cost more than the write itself (docs/performance.md).
 * The writer takes everything queued at once, so a backlog leaves in one
 * corked write.
 *
 * When the socket can write without an effect (`Duplex.writeNow`, a
 * transport's declared direct writer), an offer made while the writer waits,
 * with nothing queued, is written by the producer itself, at once, instead
 * of waking the writer to write it. If the socket then asks to wait, the
 * writer is woken to wait for it, and takes again only once it may write.
 * Order is kept: the producer writes only when the writer has nothing
 * queued or in hand.
 *
 * Bounded in chunks and in bytes. An offer waits while the queue holds
 * `chunks` chunks, or while the bytes the stage holds (queued, plus those
 * handed to the socket that it has not taken yet) would pass `bytes`; an
 * offer too large for either waits until the stage is empty. So the stage
 * holds at most `max(bytes, largest offer)` bytes, plus what the socket
 * buffers in user space below its own mark when it says it takes more
 * (Node's `writableHighWaterMark`).
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Config from "./Config.ts"
import type * as ConnectionError from "./ConnectionError.ts"
import * as Handoff from "./Handoff.ts"

/**
 * What the write stage writes to: a `Duplex`'s write side.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sink {
  /** Writes chunks; completes when the socket took them (waiting on it). */
  readonly write: (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => Effect.Effect<void, ConnectionError.ConnectionError>
  /** Writes chunks at once, if the socket can: whether it takes more (see `Duplex.writeNow`). */
  readonly writeNow: ((chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => boolean) | undefined
  /** Completes once the socket takes more after `writeNow` said to wait. */
  readonly awaitWritable: Effect.Effect<void, ConnectionError.ConnectionError>
}

/**
 * The bounds of the stage.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Chunks queued at most. Default `Config.outboundQueueChunks`. */
  readonly chunks?: number | undefined
  /** Bytes held at most (queued, or handed to the socket and not taken yet). Default `Config.outboundQueueBytes`. */
  readonly bytes?: number | undefined
}

/**
 * The write stage of one connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outbound<E> {
  /** Queues `chunks` (or writes them at once), waiting while the stage is full. Ignored after the end. */
  readonly offer: (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => Effect.Effect<void>
  /** No more chunks: `run` completes once the queued ones are written. */
  end(): Effect.Effect<void>
  /** No more chunks: `run` fails with `cause` once the queued ones are written. */
  failCause(cause: Cause.Cause<E>): Effect.Effect<void>
  /**
   * The writer: writes everything offered, in order, waiting on the socket,
   * until the end; fails with the app's failure (after its queued output)
   * or the socket's. Run it once, in one fiber.
   */
  readonly run: Effect.Effect<void, E | ConnectionError.ConnectionError>
  /** Bytes held now: queued, or handed to the socket while it asks to wait. */
  readonly bufferedBytes: number
}

type Batch = Arr.NonEmptyReadonlyArray<Uint8Array>

// What the writer takes: chunks to write, `undefined` at the end, or
// `mustAwaitWritable` when the producer wrote directly and the socket
// asked to wait.
const mustAwaitWritable: unique symbol = Symbol.for("@socket-to-me/core/Outbound/mustAwaitWritable")
type Taken = Batch | undefined | typeof mustAwaitWritable

const done: Effect.Effect<undefined> = Effect.succeed(undefined)
const awaitWritable: Effect.Effect<typeof mustAwaitWritable> = Effect.succeed(mustAwaitWritable)

const byteLength = (chunks: ReadonlyArray<Uint8Array>): number => {
  let size = 0
  for (let i = 0; i < chunks.length; i++) size += chunks[i]!.byteLength
  return size
}

// A class rather than closures over local variables: every connection has
// one, for its whole life, and methods on the prototype cost it nothing.
class OutboundImpl<E> implements Outbound<E> {
  readonly sink: Sink
  readonly maxChunks: number
  readonly maxBytes: number
  queued: Array<Uint8Array> = []
  queuedBytes = 0
  // Bytes taken by the writer, or written directly, that the socket has not
  // taken yet (it may hold them, or be asked to wait for them).
  inTransport = 0
  // How the output ended, once it has.
  ended: Effect.Effect<undefined, E> | undefined = undefined
  // The writer, while it waits for chunks.
  readonly taker: Handoff.Handoff<Taken, E>
  // The producer, while it waits for room, and the chunks it offers. Made
  // the first time the producer waits: most connections never fill up.
  room: Handoff.Handoff<void> | undefined = undefined
  offered: Batch | undefined = undefined
  offeredBytes = 0
  readonly offer: (chunks: Batch) => Effect.Effect<void>
  readonly run: Effect.Effect<void, E | ConnectionError.ConnectionError>
  readonly written: () => Effect.Effect<void, E | ConnectionError.ConnectionError>

  constructor(sink: Sink, options: Options) {
    this.sink = sink
    this.maxChunks = options.chunks ?? Config.outboundQueueChunks
    this.maxBytes = options.bytes ?? Config.outboundQueueBytes
    this.taker = Handoff.make(this.takeReady, this)
    this.offer = (chunks) => Effect.suspend(() => this.offerNow(chunks))
    // The writer's loop: everything queued, then wait for more, until the end.
    const loop: Effect.Effect<void, E | ConnectionError.ConnectionError> = Effect.flatMap(
      this.taker.take,
      (taken) =>
        taken === undefined
          ? Effect.void
          : Effect.flatMap(taken === mustAwaitWritable ? sink.awaitWritable : sink.write(taken), this.written)
    )
    this.written = () => {
      this.inTransport = 0
      this.admit()
      return loop
    }
    this.run = loop
  }

  get bufferedBytes(): number {
    return this.queuedBytes + this.inTransport
  }

  end(): Effect.Effect<void> {
    return this.finish(done)
  }

  failCause(cause: Cause.Cause<E>): Effect.Effect<void> {
    return this.finish(Effect.failCause(cause))
  }

  finish(how: Effect.Effect<undefined, E>): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.ended !== undefined) return
      this.ended = how
      // A waiting writer has nothing queued.
      this.taker.give(how)
    })
  }

  // Whether `count` chunks of `bytes` bytes may be queued now.
  fits(count: number, bytes: number): boolean {
    const held = this.queuedBytes + this.inTransport
    return (this.queued.length === 0 || this.queued.length + count <= this.maxChunks) &&
      (held === 0 || held + bytes <= this.maxBytes)
  }

  offerNow(chunks: Batch): Effect.Effect<void> {
    if (this.ended !== undefined) return Effect.void
    const bytes = byteLength(chunks)
    if (this.taker.waiting) {
      // The writer waits, so nothing is queued and nothing is being
      // written: write the chunks from here, at once, if the socket can,
      // and let the writer wait on only if the socket takes more.
      const writeNow = this.sink.writeNow
      if (writeNow !== undefined && writeNow(chunks)) return Effect.void
      // Otherwise hand the chunks over as they are, or, if they were
      // written, tell the writer to wait until the socket takes more.
      this.inTransport = bytes
      this.taker.give(writeNow !== undefined ? awaitWritable : Effect.succeed(chunks))
      return Effect.void
    }
    if (this.fits(chunks.length, bytes)) {
      this.push(chunks, bytes)
      return Effect.void
    }
    this.offered = chunks
    this.offeredBytes = bytes
    return (this.room ??= Handoff.make()).take
  }

  push(chunks: Batch, bytes: number): void {
    const queued = this.queued
    for (let i = 0; i < chunks.length; i++) queued.push(chunks[i]!)
    this.queuedBytes += bytes
  }

  // What the writer takes without waiting: everything queued, else the end.
  takeReady(): Effect.Effect<Taken, E> | undefined {
    if (this.queued.length > 0) {
      const batch = this.queued as unknown as Batch
      this.queued = []
      this.inTransport = this.queuedBytes
      this.queuedBytes = 0
      this.admit()
      return Effect.succeed(batch)
    }
    return this.ended
  }

  // Room again (the writer took the queue, or the socket took what it was
  // given): the waiting producer's chunks go in if they fit, and it goes on.
  admit(): void {
    const room = this.room
    if (room === undefined || !room.waiting || !this.fits(this.offered!.length, this.offeredBytes)) return
    const chunks = this.offered!
    this.offered = undefined
    this.push(chunks, this.offeredBytes)
    room.give(Effect.void)
  }
}

/**
 * Creates the write stage of a connection over `sink` (its `Duplex`),
 * empty, bounded by `options`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(sink: Sink, options: Options = {}): Outbound<E> => new OutboundImpl<E>(sink, options)
