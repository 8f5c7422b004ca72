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
  readonly end: Effect.Effect<void>
  /** No more chunks: `take` fails with `cause` once the queued ones are taken. */
  readonly failCause: (cause: Cause.Cause<E>) => Effect.Effect<void>
  /** Everything queued, waiting while the queue is empty; `undefined` at the end. */
  readonly take: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array> | undefined, E>
}

type Batch = Arr.NonEmptyReadonlyArray<Uint8Array>

/**
 * Creates an empty outbound queue of about `capacity` chunks.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E>(capacity: number): Outbound<E> => {
  let queued: Array<Uint8Array> = []
  // How the output ended, once it has.
  let ended: Effect.Effect<undefined, E> | undefined
  // The writer, while it waits for chunks.
  let taker: ((effect: Effect.Effect<Batch | undefined, E>) => void) | undefined
  // The producer, while it waits for room, with the chunks it offers.
  let offerer: { readonly resume: (effect: Effect.Effect<void>) => void; readonly chunks: Batch } | undefined

  const takeQueued = (): Batch => {
    const batch = queued as unknown as Batch
    queued = []
    return batch
  }

  // Room again: the waiting producer's chunks go in, and it goes on.
  const admit = () => {
    if (offerer === undefined) return
    const waiting = offerer
    offerer = undefined
    for (let i = 0; i < waiting.chunks.length; i++) queued.push(waiting.chunks[i]!)
    waiting.resume(Effect.void)
  }

  const finish = (how: Effect.Effect<undefined, E>) =>
    Effect.sync(() => {
      if (ended !== undefined) return
      ended = how
      if (taker !== undefined && queued.length === 0) {
        const resume = taker
        taker = undefined
        resume(how)
      }
    })

  const offer = (chunks: Batch): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (ended !== undefined) return Effect.void
      if (taker !== undefined) {
        // The writer waits, so nothing is queued: hand the chunks over as they are.
        const resume = taker
        taker = undefined
        resume(Effect.succeed(chunks))
        return Effect.void
      }
      if (queued.length === 0 || queued.length + chunks.length <= capacity) {
        for (let i = 0; i < chunks.length; i++) queued.push(chunks[i]!)
        return Effect.void
      }
      return Effect.callback<void>((resume) => {
        offerer = { resume, chunks }
        return Effect.sync(() => {
          if (offerer?.resume === resume) offerer = undefined
        })
      })
    })

  const take: Effect.Effect<Batch | undefined, E> = Effect.callback((resume) => {
    if (queued.length > 0) {
      const batch = takeQueued()
      admit()
      resume(Effect.succeed(batch))
      return
    }
    if (ended !== undefined) {
      resume(ended)
      return
    }
    taker = resume
    return Effect.sync(() => {
      if (taker === resume) taker = undefined
    })
  })

  return {
    offer,
    end: finish(Effect.succeed(undefined)),
    failCause: (cause) => finish(Effect.failCause(cause)),
    take
  }
}
