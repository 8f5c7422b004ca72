/**
 * Signal-driven shutdown for the CLI: the first SIGINT or SIGTERM interrupts
 * the main fiber, which closes a server's scope and so drains it; a second
 * one forces the stop (the drain stops waiting and interrupts what remains);
 * a third exits at once. A server stopped this way exits 0 (stopping is its
 * normal end); a client command stopped this way exits 130, since it did not
 * finish its job.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Cause from "effect/Cause"

/**
 * Completes when a forced stop was requested.
 *
 * @since 0.1.0
 * @category services
 */
export const Forced = Context.Reference<Effect.Effect<void>>("@socket-to-me/apps/cli/Shutdown/Forced", {
  defaultValue: () => Effect.never
})

/**
 * Marks the program as a server, for which a signal-driven stop is success.
 *
 * @since 0.1.0
 * @category services
 */
export const MarkServing = Context.Reference<Effect.Effect<void>>("@socket-to-me/apps/cli/Shutdown/MarkServing", {
  defaultValue: () => Effect.void
})

/**
 * Runs `program` as the process's main fiber with the signal policy above
 * and exits with 0 on success or a server's signal-driven stop, 130 when a
 * signal stopped a client command, 1 on failure (already printed).
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = <E>(program: Effect.Effect<void, E>): void => {
  const forced = Deferred.makeUnsafe<void>()
  let serving = false
  const fiber: Fiber.Fiber<void, E> = Effect.runFork(program.pipe(
    Effect.provideService(Forced, Deferred.await(forced)),
    Effect.provideService(MarkServing, Effect.sync(() => {
      serving = true
    }))
  ))
  let signals = 0
  const onSignal = () => {
    signals++
    if (signals === 1) fiber.interruptUnsafe()
    else if (signals === 2) Deferred.doneUnsafe(forced, Exit.void)
    else process.exit(130)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    process.exit(
      Exit.isSuccess(exit) ? 0 : !Cause.hasInterruptsOnly(exit.cause) ? 1 : serving ? 0 : 130
    )
  })
}
