/**
 * Signal-driven shutdown for the CLI: the first SIGINT or SIGTERM interrupts
 * the main fiber, which closes a server's scope and so drains it; a second
 * one forces the stop (the drain stops waiting and interrupts what remains);
 * a third exits at once. A server stopped this way exits 0 (stopping is its
 * normal end); a client command stopped this way exits 130, since it did not
 * finish its job.
 *
 * One Ctrl-C is one request, however many copies of it arrive: a terminal
 * signals its whole foreground process group, and a wrapper in that group
 * (npm, the `socket-to-me` launcher) may pass its own copy on. So the same
 * signal again within `repeatWindowMillis` of the one counted is that
 * request again, not a second one; a different signal always counts.
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
 * Whether a stop was requested (a signal, or the parent exiting under
 * `stopWithParent`): a server uses it to tell the user that it is draining
 * and how to force the stop. Always false outside `runMain`.
 *
 * @since 0.1.0
 * @category services
 */
export const Stopping = Context.Reference<Effect.Effect<boolean>>("@socket-to-me/apps/cli/Shutdown/Stopping", {
  defaultValue: () => Effect.succeed(false)
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
 * How close (in milliseconds) a repeat of the signal just counted must
 * follow it to be taken as a copy of it. A wrapper passes its copy on as
 * soon as its idle event loop wakes, well within this; a person pressing
 * Ctrl-C twice on purpose, having read the draining line, is well outside.
 *
 * @since 0.1.0
 * @category policy
 */
export const repeatWindowMillis = 250

/**
 * How often `stopWithParent` checks the parent process, in milliseconds.
 *
 * @since 0.1.0
 * @category policy
 */
export const parentCheckMillis = 200

/**
 * Whether `signal`, received `at` (milliseconds on any monotonic clock),
 * is a new request given the last request counted (`undefined` if none):
 * a different signal always is; the same one only from `repeatWindowMillis`
 * after it.
 *
 * @since 0.1.0
 * @category policy
 */
export const isNewRequest = (
  last: { readonly signal: string; readonly at: number } | undefined,
  signal: string,
  at: number
): boolean => last === undefined || last.signal !== signal || at - last.at >= repeatWindowMillis

/**
 * Options of `runMain`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunMainOptions {
  /**
   * Also stop, as on a first signal (and never as a second), when the
   * process that started this one exits: for a program whose parent is a
   * wrapper (`npx`, a launcher) that may be killed without passing the
   * signal on, which would leave this one running unseen. Default false: a
   * server started from a shell with `nohup ... &` outlives the shell.
   */
  readonly stopWithParent?: boolean | undefined
}

/**
 * Runs `program` as the process's main fiber with the signal policy above
 * and exits with 0 on success or a server's signal-driven stop, 130 when a
 * signal stopped a client command, 1 on failure (already printed).
 *
 * @since 0.1.0
 * @category running
 */
export const runMain = <E>(program: Effect.Effect<void, E>, options: RunMainOptions = {}): void => {
  const forced = Deferred.makeUnsafe<void>()
  let serving = false
  let requests = 0
  const fiber: Fiber.Fiber<void, E> = Effect.runFork(program.pipe(
    Effect.provideService(Forced, Deferred.await(forced)),
    Effect.provideService(Stopping, Effect.sync(() => requests > 0)),
    Effect.provideService(MarkServing, Effect.sync(() => {
      serving = true
    }))
  ))
  const request = () => {
    requests++
    if (requests === 1) fiber.interruptUnsafe()
    else if (requests === 2) Deferred.doneUnsafe(forced, Exit.void)
    else process.exit(130)
  }
  let last: { signal: string; at: number } | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    // The program's edge, outside any fiber: the monotonic clock of the
    // process, not effect's Clock.
    const at = performance.now()
    if (!isNewRequest(last, signal, at)) return
    last = { signal, at }
    request()
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  // Node has no parent-death signal: the parent is gone when this process
  // has been handed to another one (init or a subreaper).
  const parent = process.ppid
  const watch = options.stopWithParent === true
    ? setInterval(() => {
      if (process.ppid === parent) return
      clearInterval(watch)
      if (requests === 0) request()
    }, parentCheckMillis).unref()
    : undefined
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    clearInterval(watch)
    process.exit(
      Exit.isSuccess(exit) ? 0 : !Cause.hasInterruptsOnly(exit.cause) ? 1 : serving ? 0 : 130
    )
  })
}
