/**
 * Signal-driven shutdown for the CLI's servers: the first SIGINT or SIGTERM
 * interrupts the main fiber, which closes the server's scope and so drains
 * it; a second one forces the stop (the drain stops waiting and interrupts
 * what remains); a third exits at once.
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
 * Runs `program` as the process's main fiber with the signal policy above
 * and exits with 0 on success or a signal-driven stop, 1 on failure (the
 * failure has already been printed).
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = <E>(program: Effect.Effect<void, E>): void => {
  const forced = Deferred.makeUnsafe<void>()
  const fiber: Fiber.Fiber<void, E> = Effect.runFork(Effect.provideService(program, Forced, Deferred.await(forced)))
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
    const failed = Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
    process.exit(failed ? 1 : 0)
  })
}
