/**
 * The error family of the accept stage: why a listener could not take
 * connections it was offered, and how often that happened since it last
 * said so.
 *
 * Stage: accept. A listener (a `SocketServer`) reports an accept failure by
 * failing its `run` with a `SocketServerError` whose cause is an
 * `AcceptError`; the server's accept loop then counts it
 * (`Metrics.acceptErrors`, by reason), logs it, waits (its back-off) and
 * runs the listener again. A listener that cannot stop accepting meanwhile
 * (Node's) keeps counting, and its next report carries every occurrence
 * since the last one: one log line per back-off step, however many
 * connections the failure cost. Only the transport knows its platform's
 * error codes (Node's are read in `@socket-to-me/node`'s `NodeErrors`).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"
import { describeCause } from "./ConnectionError.ts"

/**
 * The process (or the whole system) has no file descriptor left for
 * another connection. `code` is the platform's name for which limit it
 * hit (`EMFILE`: the process's, `ENFILE`: the system's).
 *
 * @since 0.1.0
 * @category reasons
 */
export class DescriptorsExhausted extends Data.TaggedError("DescriptorsExhausted")<{
  readonly code: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `out of file descriptors (${this.code})`
  }
}

/**
 * Any other failure to accept a connection.
 *
 * @since 0.1.0
 * @category reasons
 */
export class AcceptFailed extends Data.TaggedError("AcceptFailed")<{
  readonly cause: unknown
}> {
  override get message(): string {
    return `accept failed: ${describeCause(this.cause)}`
  }
}

/**
 * Every reason an accept can fail.
 *
 * @since 0.1.0
 * @category models
 */
export type AcceptErrorReason = DescriptorsExhausted | AcceptFailed

/**
 * Key that marks an `AcceptError`, so that it is recognized across copies
 * of this package.
 *
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId = "~@socket-to-me/core/AcceptError"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = typeof TypeId

/**
 * The one error type of the accept stage: `reason` says which failure,
 * `occurrences` how many times it happened since the listener last
 * reported it (at least 1).
 *
 * @since 0.1.0
 * @category errors
 */
export class AcceptError extends Data.TaggedError("AcceptError")<{
  readonly reason: AcceptErrorReason
  readonly occurrences: number
}> {
  /** Marks this value as an `AcceptError` for `isAcceptError`. */
  readonly [TypeId]: TypeId = TypeId

  override get message(): string {
    return `${this.reason.message}, ${this.occurrences} ${this.occurrences === 1 ? "time" : "times"} since the last report`
  }
}

/**
 * Whether `u` is an `AcceptError` (the cause a listener gives a failed `run`).
 *
 * @since 0.1.0
 * @category guards
 */
export const isAcceptError = (u: unknown): u is AcceptError => Predicate.hasProperty(u, TypeId)
