/**
 * A single-waiter hand-off: one fiber waits for a result that someone else
 * (another fiber, a socket's event listener, a timer) hands over, and is
 * resumed at once, in the giver's turn.
 *
 * Stage: none of its own; the wake-up under the write path (the outbound
 * queue's writer and producer), the read path (the TCP socket's pull, the
 * frame deadline's helper), broadcast subscribers and the idle sweeper.
 *
 * Why not effect's own: `Queue` resumes a waiting taker on a later turn of
 * the event loop, which on the write path cost more than the write itself
 * (docs/performance.md); `Deferred` completes once, so each wait would
 * allocate one; `Latch` carries no value and keeps a list of waiters. Every
 * place here has at most one waiter, whose result is a value or a failure,
 * and checks its own state before it waits: that is this module.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"

/**
 * One waiting place. At most one fiber waits at a time (the caller's
 * contract: each user has a single consumer).
 *
 * @since 0.1.0
 * @category models
 */
export interface Handoff<A, E = never> {
  /** Whether a fiber waits now. */
  readonly waiting: boolean
  /**
   * What the waiter gets: the result of `ready` if it has one now (checked
   * first, in the waiter's turn), otherwise the next result given. An
   * interrupted wait is forgotten.
   */
  readonly take: Effect.Effect<A, E>
  /**
   * Resumes the waiting fiber with `result`, at once (it runs before `give`
   * returns, up to its next wait). Returns `false`, and does nothing, when
   * no fiber waits.
   */
  give(result: Effect.Effect<A, E>): boolean
}

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

// A class: every connection holds several of these for its whole life, and
// methods on the prototype cost it nothing.
class HandoffImpl<A, E, S> implements Handoff<A, E> {
  waiter: Resume<A, E> | undefined = undefined
  readonly ready: ((this: S) => Effect.Effect<A, E> | undefined) | undefined
  readonly owner: S
  readonly take: Effect.Effect<A, E>
  // One waiter, so the wait being interrupted is the one registered.
  readonly cancel = Effect.sync(() => {
    this.waiter = undefined
  })

  constructor(ready: ((this: S) => Effect.Effect<A, E> | undefined) | undefined, owner: S) {
    this.ready = ready
    this.owner = owner
    this.take = Effect.callback<A, E>((resume) => {
      const now = this.ready?.call(this.owner)
      if (now !== undefined) {
        resume(now)
        return
      }
      this.waiter = resume
      return this.cancel
    })
  }

  get waiting(): boolean {
    return this.waiter !== undefined
  }

  give(result: Effect.Effect<A, E>): boolean {
    const resume = this.waiter
    if (resume === undefined) return false
    this.waiter = undefined
    resume(result)
    return true
  }
}

/**
 * Creates a hand-off. `ready`, checked each time a fiber is about to wait,
 * gives a result to return at once instead (what is already queued, say),
 * or `undefined` to wait. It is called with `owner` as `this`, so that a
 * method of the owner serves, without a closure for each hand-off (a
 * connection holds several for its whole life).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, E = never, S = undefined>(
  ready?: (this: S) => Effect.Effect<A, E> | undefined,
  owner?: S
): Handoff<A, E> => new HandoffImpl<A, E, S>(ready, owner as S)
