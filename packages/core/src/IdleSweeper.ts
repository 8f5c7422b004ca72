/**
 * The idle timeout of many connections, kept by one fiber: a server watches
 * each of its connections here instead of giving each one a watchdog fiber
 * of its own (a sleeping fiber, its timer and its continuations are most of
 * what an idle connection would otherwise cost).
 *
 * Stage: connection scope (the idle timeout), shared by a server's
 * connections.
 *
 * Every connection of a sweeper has the same timeout, so the next connection
 * to fall idle is the one whose activity is the oldest. Watched connections
 * sit in a list ordered by a recorded activity time, never later than their
 * real last activity (`Duplex.Stats.lastActivity`, which the read and write
 * paths keep as before: nothing is added to the hot path). The sweeper sleeps
 * until the head's recorded time plus the timeout, which is never later than
 * the first real deadline, so it is exact; on waking it ends the connections
 * that really were silent that long and moves the others, recorded at their
 * real last activity, to their place in the list. A busy connection so costs
 * one move per timeout, not one per chunk.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Duplex from "./Duplex.ts"
import * as Handoff from "./Handoff.ts"

/**
 * What a sweeper watches: a connection's activity, and what to do when it
 * has been silent for the timeout.
 *
 * @since 0.1.0
 * @category models
 */
export interface Watcher {
  readonly stats: Duplex.Stats
  /** Called once, from the sweeper's fiber; the watcher is then no longer watched. */
  onIdle(): void
}

/**
 * One watched connection. Opaque to callers: pass it back to `unwatch`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Watch {
  readonly watcher: Watcher
  // Never later than `stats.lastActivity`; the list is ordered by it.
  recorded: number
  prev: Watch | undefined
  next: Watch | undefined
  watched: boolean
}

/**
 * The idle timeout of a set of connections.
 *
 * @since 0.1.0
 * @category models
 */
export interface IdleSweeper {
  /** The timeout: a connection silent in both directions for this long is idle. */
  readonly timeout: Duration.Duration
  /**
   * Starts watching a connection's activity (`watcher.stats`);
   * `watcher.onIdle` is called when it has been silent for the timeout.
   */
  readonly watch: (watcher: Watcher) => Watch
  /** Stops watching. Idempotent. */
  readonly unwatch: (watch: Watch) => void
}

/**
 * Starts a sweeper with `timeout` (which must be finite) whose fiber lives in
 * the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(
  timeout: Duration.Duration
): Effect.fn.Return<IdleSweeper, never, Scope.Scope> {
  const clock = yield* Clock.Clock
  const timeoutMillis = Duration.toMillis(timeout)
  let head: Watch | undefined
  let tail: Watch | undefined
  // What the sweeper sleeps until (`Infinity`: until woken), and where it
  // waits to be woken when a watch with an earlier deadline arrives.
  let sleepingUntil = Infinity
  const woken = Handoff.make<void>()

  const unlink = (watch: Watch) => {
    if (watch.prev === undefined) head = watch.next
    else watch.prev.next = watch.next
    if (watch.next === undefined) tail = watch.prev
    else watch.next.prev = watch.prev
    watch.prev = undefined
    watch.next = undefined
  }

  // From the tail: new watches and moved ones were active just now, so
  // their place is at or near the end.
  const insert = (watch: Watch) => {
    let after = tail
    while (after !== undefined && after.recorded > watch.recorded) after = after.prev
    watch.prev = after
    watch.next = after === undefined ? head : after.next
    if (after === undefined) head = watch
    else after.next = watch
    if (watch.next === undefined) tail = watch
    else watch.next.prev = watch
  }

  const watch = (watcher: Watcher): Watch => {
    const entry: Watch = {
      watcher,
      recorded: watcher.stats.lastActivity,
      prev: undefined,
      next: undefined,
      watched: true
    }
    insert(entry)
    if (entry === head && entry.recorded + timeoutMillis < sleepingUntil) woken.give(Effect.void)
    return entry
  }

  const unwatch = (watch: Watch) => {
    if (!watch.watched) return
    watch.watched = false
    unlink(watch)
  }

  const sweep = Effect.suspend(() => {
    const now = clock.currentTimeMillisUnsafe()
    while (head !== undefined && head.recorded + timeoutMillis <= now) {
      const due = head
      unwatch(due)
      const lastActivity = due.watcher.stats.lastActivity
      if (lastActivity + timeoutMillis <= now) {
        due.watcher.onIdle()
      } else {
        due.recorded = lastActivity
        due.watched = true
        insert(due)
      }
    }
    if (head === undefined) {
      sleepingUntil = Infinity
      return woken.take
    }
    sleepingUntil = head.recorded + timeoutMillis
    return Effect.raceFirst(clock.sleep(Duration.millis(sleepingUntil - now)), woken.take)
  })

  yield* Effect.forkScoped(Effect.forever(sweep))
  return { timeout, watch, unwatch }
})
