/**
 * One direction of an in-memory connection: the bytes one endpoint wrote and
 * the other has not read yet. It plays the part of the kernel buffers and
 * the wire between two TCP sockets.
 *
 * Stage: transport. Bytes are buffered without limit, but a writer waits
 * after its write while more than `highWaterMark` bytes are in flight, the
 * way Node's `write()` returns `false` and the writer waits for `'drain'`.
 * That bounds what a writer can have in flight to one write past the mark.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Socket from "effect/socket/Socket"

/**
 * One direction of a memory connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryPipe {
  /** Bytes in flight above which a writer waits. */
  readonly highWaterMark: number
  /** Chunks in flight, in write order; ended by the writer's FIN. */
  readonly chunks: Queue.Queue<Uint8Array, Cause.Done>
  readonly state: Ref.Ref<PipeState>
  /** Open while the bytes in flight are below the high-water mark. */
  readonly drained: Latch.Latch
}

/**
 * The bookkeeping of a pipe beside its chunks.
 *
 * @since 0.1.0
 * @category models
 */
export interface PipeState {
  /** Bytes written and not yet read. */
  readonly inFlight: number
  /** Once set, reads fail with it and the bytes still in flight are dropped. */
  readonly readError: Socket.SocketError | undefined
  /** Once set, writes fail with it: nobody will ever read them. */
  readonly writeError: Socket.SocketError | undefined
}

/**
 * Creates an empty pipe.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (highWaterMark: number): Effect.Effect<MemoryPipe> =>
  Effect.all({
    chunks: Queue.unbounded<Uint8Array, Cause.Done>(),
    state: Ref.make<PipeState>({ inFlight: 0, readError: undefined, writeError: undefined }),
    drained: Latch.make(true)
  }).pipe(Effect.map(({ chunks, drained, state }) => ({ highWaterMark, chunks, state, drained })))

const byteLength = (chunks: ReadonlyArray<Uint8Array>): number => {
  let total = 0
  for (const chunk of chunks) total += chunk.byteLength
  return total
}

/**
 * How written chunks reach the reader when a scheduler orders deliveries:
 * given the chunks and the effect that appends them, it queues that effect
 * to run later (see `NetworkScheduler`).
 *
 * @since 0.1.0
 * @category models
 */
export type Deliver = (chunks: ReadonlyArray<Uint8Array>, append: Effect.Effect<void>) => Effect.Effect<void>

/**
 * Appends chunks (at once, or through `deliver`), then waits while the
 * bytes in flight (delivered or not, until read) are at or over the
 * high-water mark. Fails with the pipe's write error once the reading side
 * is gone, including while waiting.
 *
 * @since 0.1.0
 * @category writing
 */
export const write = Effect.fnUntraced(function*(
  self: MemoryPipe,
  chunks: ReadonlyArray<Uint8Array>,
  deliver?: Deliver
) {
  const nonEmpty = chunks.filter((chunk) => chunk.byteLength > 0)
  const bytes = byteLength(nonEmpty)
  const refused = yield* Ref.modify(self.state, (state): readonly [Socket.SocketError | undefined, PipeState] =>
    state.writeError !== undefined
      ? [state.writeError, state]
      : [undefined, { ...state, inFlight: state.inFlight + bytes }]
  )
  if (refused !== undefined) return yield* Effect.fail(refused)
  if (nonEmpty.length > 0) {
    const offer = Queue.offerAll(self.chunks, nonEmpty)
    yield* deliver === undefined ? offer : deliver(nonEmpty, Effect.asVoid(offer))
  }
  // Close, then check, then wait: a reader that drains between the check and
  // the wait has already reopened the latch, so no wake-up is lost.
  while (true) {
    yield* self.drained.close
    const state = yield* Ref.get(self.state)
    if (state.writeError !== undefined) return yield* Effect.fail(state.writeError)
    if (state.inFlight < self.highWaterMark) return
    yield* self.drained.await
  }
})

/**
 * Takes every chunk in flight, waiting while there is none. Fails with
 * `Cause.Done` after the writer's FIN once everything before it was read, and
 * with the pipe's read error (dropping what is in flight) once it is set.
 *
 * @since 0.1.0
 * @category reading
 */
export const read = Effect.fnUntraced(function*(
  self: MemoryPipe
): Effect.fn.Return<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError | Cause.Done> {
  const taken = yield* Queue.takeAll(self.chunks).pipe(Effect.option)
  const state = yield* Ref.get(self.state)
  if (state.readError !== undefined) return yield* Effect.fail(state.readError)
  if (taken._tag === "None") return yield* Cause.done()
  const bytes = byteLength(taken.value)
  const inFlight = yield* Ref.modify(self.state, (state) => {
    const inFlight = state.inFlight - bytes
    return [inFlight, { ...state, inFlight }]
  })
  if (inFlight < self.highWaterMark) yield* self.drained.open
  return taken.value
})

/**
 * The writer's FIN: the reader gets what is in flight, then `Cause.Done`.
 *
 * @since 0.1.0
 * @category closing
 */
export const finish = (self: MemoryPipe): Effect.Effect<void> => Effect.asVoid(Queue.end(self.chunks))

/**
 * Makes reads fail with `error` from now on (the first such error wins),
 * waking a reader that is waiting.
 *
 * @since 0.1.0
 * @category closing
 */
export const failReads = (self: MemoryPipe, error: Socket.SocketError): Effect.Effect<void> =>
  Ref.update(self.state, (state) => state.readError === undefined ? { ...state, readError: error } : state).pipe(
    Effect.andThen(Queue.end(self.chunks)),
    Effect.asVoid
  )

/**
 * Makes writes fail with `error` from now on (the first such error wins),
 * waking writers waiting for the pipe to drain.
 *
 * @since 0.1.0
 * @category closing
 */
export const failWrites = (self: MemoryPipe, error: Socket.SocketError): Effect.Effect<void> =>
  Ref.update(self.state, (state) => state.writeError === undefined ? { ...state, writeError: error } : state).pipe(
    Effect.andThen(self.drained.open),
    Effect.asVoid
  )
