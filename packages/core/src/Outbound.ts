/**
 * The outbound queue of one connection: a bounded buffer of chunks between
 * the fiber that pulls the app's output and the fiber that writes to the
 * socket, followed by how the output ended (done, or the app's failure).
 *
 * Stage: write. One producer, one consumer, and the hand-over is direct: a
 * chunk offered while the writer waits is given to it at once, and the
 * writer runs right away, in the producer's turn (its write is usually
 * synchronous: the socket takes the bytes). `effect/Queue` wakes a waiting
 * taker on a later turn of the event loop instead; for small messages that
 * hop cost more than the write itself (docs/performance.md). The writer
 * takes everything queued at once, so a backlog leaves in one corked write.
 *
 * Bounded: an offer waits while the queue holds `capacity` chunks or more,
 * and a batch that does not fit waits for an empty queue, so the queue
 * holds at most `max(capacity, largest batch)` chunks.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

/**
 * A bounded single-producer single-consumer queue of byte chunks.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outbound<E> {
  /** Queues `chunks`, waiting while the queue is full. Ignored after the end. */
  readonly offer: (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => Effect.Effect<void>
  /** No more chunks: `take` gives `undefined` once the queued ones are taken. */
  end(): Effect.Effect<void>
  /** No more chunks: `take` fails with `cause` once the queued ones are taken. */
  failCause(cause: Cause.Cause<E>): Effect.Effect<void>
  /**
   * Everything queued, waiting while the queue is empty; `undefined` at the
   * end; `mustAwaitWritable` when an offer was written directly and the
   * socket asked to wait (the writer waits for it, then takes again).
   */
  readonly take: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array> | undefined | MustAwaitWritable, E>
}

/**
 * What `take` gives when chunks were written directly (see `make`) and the
 * socket asked to wait before it takes more.
 *
 * @since 0.1.0
 * @category models
 */
export type MustAwaitWritable = typeof mustAwaitWritable

/**
 * See `MustAwaitWritable`.
 *
 * @since 0.1.0
 * @category models
 */
export const mustAwaitWritable: unique symbol = Symbol.for("@socket-to-me/core/Outbound/mustAwaitWritable")

type Batch = Arr.NonEmptyReadonlyArray<Uint8Array>

const done: Effect.Effect<undefined> = Effect.succeed(undefined)
const awaitWritable: Effect.Effect<MustAwaitWritable> = Effect.succeed(mustAwaitWritable)

// A class rather than closures over local variables: every connection has
// one, for its whole life, and methods on the prototype cost it nothing.
class OutboundImpl<E> implements Outbound<E> {
  readonly capacity: number
  queued: Array<Uint8Array> = []
  // How the output ended, once it has.
  ended: Effect.Effect<undefined, E> | undefined = undefined
  // The writer, while it waits for chunks.
  taker: ((effect: Effect.Effect<Batch | undefined | MustAwaitWritable, E>) => void) | undefined = undefined
  // Writes chunks at once, if the transport can (see `make`).
  readonly writeNow: ((chunks: Batch) => boolean) | undefined
  // The producer, while it waits for room, and the chunks it offers.
  offerer: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  offered: Batch | undefined = undefined
  readonly offer: (chunks: Batch) => Effect.Effect<void>
  readonly take: Effect.Effect<Batch | undefined | MustAwaitWritable, E>

  constructor(capacity: number, writeNow: ((chunks: Batch) => boolean) | undefined) {
    this.capacity = capacity
    this.writeNow = writeNow
    this.offer = (chunks) => Effect.suspend(() => this.offerNow(chunks))
    this.take = Effect.callback((resume) => this.takeNow(resume))
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
      if (this.taker !== undefined && this.queued.length === 0) {
        const resume = this.taker
        this.taker = undefined
        resume(how)
      }
    })
  }

  offerNow(chunks: Batch): Effect.Effect<void> {
    if (this.ended !== undefined) return Effect.void
    if (this.taker !== undefined) {
      // The writer waits, so nothing is queued and nothing is being
      // written: write the chunks from here, at once, if the transport
      // can, and let the writer wait on only if the socket takes more.
      if (this.writeNow !== undefined && this.writeNow(chunks)) return Effect.void
      // Otherwise hand the chunks over as they are, or, if they were
      // written, tell the writer to wait until the socket takes more.
      const resume = this.taker
      this.taker = undefined
      resume(this.writeNow !== undefined ? awaitWritable : Effect.succeed(chunks))
      return Effect.void
    }
    const queued = this.queued
    if (queued.length === 0 || queued.length + chunks.length <= this.capacity) {
      for (let i = 0; i < chunks.length; i++) queued.push(chunks[i]!)
      return Effect.void
    }
    return Effect.callback<void>((resume) => {
      this.offerer = resume
      this.offered = chunks
      return Effect.sync(() => {
        if (this.offerer === resume) {
          this.offerer = undefined
          this.offered = undefined
        }
      })
    })
  }

  takeNow(resume: (effect: Effect.Effect<Batch | undefined | MustAwaitWritable, E>) => void): Effect.Effect<void> | undefined {
    if (this.queued.length > 0) {
      const batch = this.queued as unknown as Batch
      this.queued = []
      this.admit()
      resume(Effect.succeed(batch))
      return
    }
    if (this.ended !== undefined) {
      resume(this.ended)
      return
    }
    this.taker = resume
    return this.cancelTake
  }

  // One consumer: a take that is interrupted is the one waiting.
  readonly cancelTake = Effect.sync(() => {
    this.taker = undefined
  })

  // Room again: the waiting producer's chunks go in, and it goes on.
  admit(): void {
    const resume = this.offerer
    if (resume === undefined) return
    const chunks = this.offered!
    this.offerer = undefined
    this.offered = undefined
    for (let i = 0; i < chunks.length; i++) this.queued.push(chunks[i]!)
    resume(Effect.void)
  }
}

/**
 * Creates an empty outbound queue of about `capacity` chunks.
 *
 * `writeNow`, when the transport can write without waiting (see
 * `Duplex.writeNow`): an offer made while the writer waits, with nothing
 * queued, is written by the producer itself, at once, instead of waking the
 * writer to write it; it returns whether the socket takes more. If it does
 * not, the writer is woken with `mustAwaitWritable` and waits for the
 * socket before it takes again. Order is kept: the producer writes only
 * when the writer has nothing queued or in hand.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(
  capacity: number,
  writeNow?: ((chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => boolean) | undefined
): Outbound<E> => new OutboundImpl<E>(capacity, writeNow)
