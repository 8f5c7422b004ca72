/**
 * Leak checks for tests over real TCP: Node's active handles of the TCP
 * kinds (`TCPSocketWrap` for sockets, `TCPServerWrap` for listeners) must
 * return to what they were before the test.
 *
 * Node-specific (it reads `process.getActiveResourcesInfo()`), hence a
 * module of its own; the error family is `Leaks.LeakError`. A closed socket's
 * handle goes away a few event-loop turns after `destroy()`, so the check
 * polls turn by turn (bounded, no sleep) before it reports.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Leaks from "./Leaks.ts"
import * as TestkitConfig from "./TestkitConfig.ts"

/**
 * The handle kinds the checks count: TCP sockets and TCP listeners.
 *
 * @since 0.1.0
 * @category models
 */
export const trackedKinds: ReadonlyArray<string> = ["TCPSocketWrap", "TCPServerWrap"]

/**
 * Counts the tracked handles alive now. A synchronous snapshot, so a test can
 * take its baseline before anything else runs.
 *
 * @since 0.1.0
 * @category accessors
 */
export const countHandles = (kinds: ReadonlyArray<string> = trackedKinds): Leaks.ResourceCounts => {
  const counts: Record<string, number> = {}
  for (const kind of kinds) counts[kind] = 0
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind in counts) counts[kind] = (counts[kind] ?? 0) + 1
  }
  return counts
}

/**
 * The baseline to compare with after the test: `countHandles()`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const handleBaseline = (): Leaks.ResourceCounts => countHandles()

/**
 * `countHandles` as an effect.
 *
 * @since 0.1.0
 * @category accessors
 */
export const currentHandles: Effect.Effect<Leaks.ResourceCounts> = Effect.sync(() => countHandles())

const withinBaseline = (baseline: Leaks.ResourceCounts, current: Leaks.ResourceCounts): boolean =>
  Object.keys(current).every((kind) => (current[kind] ?? 0) <= (baseline[kind] ?? 0))

/**
 * Waits (a bounded number of turns) until no tracked kind has more handles
 * than in `baseline`; fails with a `LeakError` listing the kinds that grew.
 *
 * @since 0.1.0
 * @category assertions
 */
export const assertHandlesBackToBaseline = (
  baseline: Leaks.ResourceCounts,
  options?: { readonly turns?: number | undefined }
): Effect.Effect<void, Leaks.LeakError> => {
  const kinds = Object.keys(baseline)
  const current = Effect.sync(() => countHandles(kinds))
  return Effect.flatMap(
    Leaks.pollFor(Effect.map(current, (counts) => withinBaseline(baseline, counts)), options?.turns ?? TestkitConfig.leakCheckTurns),
    (back) =>
      back
        ? Effect.void
        : Effect.flatMap(current, (counts) =>
          Effect.fail(new Leaks.LeakError({ reason: new Leaks.HandleLeak({ baseline, current: counts }) })))
  )
}

/**
 * Takes a baseline, runs `self` in a scope of its own, then asserts the
 * handles are back to the baseline.
 *
 * @since 0.1.0
 * @category combinators
 */
export const checked = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  options?: { readonly turns?: number | undefined }
): Effect.Effect<A, E | Leaks.LeakError, Exclude<R, Scope.Scope>> =>
  Effect.suspend(() => {
    const baseline = handleBaseline()
    return Effect.tap(Effect.scoped(self), () => assertHandlesBackToBaseline(baseline, options))
  })
