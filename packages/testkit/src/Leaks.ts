/**
 * Leak checks for any test: after a test's scopes closed, nothing it opened
 * may still be alive. The memory network is checked through its own counts
 * (open sockets, live connections); real TCP through Node's handle list (see
 * `NodeHandles`, kept apart because it reads `process`). Both report one
 * error family, `LeakError`.
 *
 * Waiting is bounded by turns, not time: finalizers run on other fibers, so
 * a check lets them run (one `Effect.yieldNow`, an event-loop turn, at a
 * time) and fails if they have not finished after `TestkitConfig.leakCheckTurns`
 * turns. No sleep, so `TestClock` tests can use it too.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as MemoryNetwork from "./MemoryNetwork.ts"
import * as TestkitConfig from "./TestkitConfig.ts"

/**
 * Counts of live resources by kind, e.g. `{ TCPSocketWrap: 2 }`.
 *
 * @since 0.1.0
 * @category models
 */
export type ResourceCounts = Readonly<Record<string, number>>

/**
 * The memory network still has open sockets or live connections.
 *
 * @since 0.1.0
 * @category reasons
 */
export class MemoryLeak extends Data.TaggedError("MemoryLeak")<{
  readonly openSockets: number
  readonly connections: number
}> {
  override get message(): string {
    return `memory network not idle: ${this.openSockets} open socket(s), ${this.connections} live connection(s)`
  }
}

/**
 * Node handles (sockets, servers) are still open beyond the baseline.
 *
 * @since 0.1.0
 * @category reasons
 */
export class HandleLeak extends Data.TaggedError("HandleLeak")<{
  readonly baseline: ResourceCounts
  readonly current: ResourceCounts
}> {
  override get message(): string {
    return `handles not back to baseline: ${diffCounts(this.baseline, this.current).join(", ")}`
  }
}

/**
 * Every kind of leak.
 *
 * @since 0.1.0
 * @category models
 */
export type LeakReason = MemoryLeak | HandleLeak

/**
 * Something a test opened is still alive; `reason` says what.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeakError extends Data.TaggedError("LeakError")<{
  readonly reason: LeakReason
}> {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * The kinds whose count grew, as `"TCPSocketWrap: 3 (baseline 1, +2)"`.
 *
 * @since 0.1.0
 * @category utils
 */
export const diffCounts = (baseline: ResourceCounts, current: ResourceCounts): Array<string> =>
  Object.keys(current)
    .filter((kind) => (current[kind] ?? 0) > (baseline[kind] ?? 0))
    .map((kind) => {
      const now = current[kind] ?? 0
      const before = baseline[kind] ?? 0
      return `${kind}: ${now} (baseline ${before}, +${now - before})`
    })

/**
 * Re-checks `condition` after each turn, up to `turns` turns; succeeds with
 * whether it became true.
 *
 * @since 0.1.0
 * @category utils
 */
export const pollFor = (condition: Effect.Effect<boolean>, turns: number): Effect.Effect<boolean> =>
  Effect.flatMap(condition, (holds) =>
    holds || turns <= 0 ? Effect.succeed(holds) : Effect.andThen(Effect.yieldNow, pollFor(condition, turns - 1)))

/**
 * Waits (a bounded number of turns) until `network` has no open socket and
 * no live connection; fails with `LeakError` otherwise.
 *
 * @since 0.1.0
 * @category assertions
 */
export const assertNetworkIdle = (
  network: MemoryNetwork.MemoryNetwork["Service"],
  options?: { readonly turns?: number | undefined }
): Effect.Effect<void, LeakError> =>
  Effect.flatMap(
    pollFor(
      Effect.map(network.stats, (stats) => stats.openSockets === 0 && stats.connections === 0),
      options?.turns ?? TestkitConfig.leakCheckTurns
    ),
    (idle) =>
      idle
        ? Effect.void
        : Effect.flatMap(network.stats, (stats) => Effect.fail(new LeakError({ reason: new MemoryLeak(stats) })))
  )

/**
 * `assertNetworkIdle` for the `MemoryNetwork` in context.
 *
 * @since 0.1.0
 * @category assertions
 */
export const assertIdle = (
  options?: { readonly turns?: number | undefined }
): Effect.Effect<void, LeakError, MemoryNetwork.MemoryNetwork> =>
  MemoryNetwork.MemoryNetwork.use((network) => assertNetworkIdle(network, options))

/**
 * Runs `self` in a scope of its own, then checks that the memory network in
 * context is idle.
 *
 * @since 0.1.0
 * @category combinators
 */
export const checked = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  options?: { readonly turns?: number | undefined }
): Effect.Effect<A, E | LeakError, Exclude<R, Scope.Scope> | MemoryNetwork.MemoryNetwork> =>
  Effect.tap(Effect.scoped(self), () => assertIdle(options))
