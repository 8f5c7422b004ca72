/**
 * Actors: one fiber that owns a state and handles the messages of a bounded
 * mailbox one at a time, so the state needs no lock and every change to it
 * is ordered.
 *
 * Stage: app. Shared state of an app (a chat's members and rooms) lives in
 * an actor; connections talk to it with `tell` (fire and forget) and `ask`
 * (a typed reply through a `Deferred`).
 *
 * Decisions made here:
 * - The mailbox is bounded; `tell` and `ask` wait while it is full
 *   (backpressure), so a stalled actor slows its senders instead of growing.
 * - The actor's fiber is forked in the caller's `Scope`; closing the scope
 *   stops it. A stopped actor refuses new messages, drops the ones it had
 *   not handled, and every `ask` waiting on it fails with `ActorStopped`.
 * - An `ask` is one offer and one wait on its reply, nothing more: no race
 *   against the actor stopping (the actor fails the replies of the messages
 *   it drops, as it stops) and no error built unless something fails (an
 *   error captures a stack trace, which would cost more than the ask).
 * - A failure (typed error or defect) while handling one message is logged
 *   and the asker of that message gets `MessageFailed`; then the supervision
 *   policy either restarts the actor from a defined state (the initial state
 *   by default, or what `onRestart` returns from the last good state) or
 *   stops it. Too many restarts in a short window stop it too.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as MutableList from "effect/MutableList"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Config from "./Config.ts"

/**
 * The actor is stopped (or stopped before it handled the message).
 *
 * @since 0.1.0
 * @category reasons
 */
export class ActorStopped extends Data.TaggedError("ActorStopped")<{
  readonly actor: string
}> {
  override get message(): string {
    return `actor ${this.actor} is stopped`
  }
}

/**
 * Handling the message failed (typed error or defect).
 *
 * @since 0.1.0
 * @category reasons
 */
export class MessageFailed extends Data.TaggedError("MessageFailed")<{
  readonly actor: string
  readonly cause: Cause.Cause<unknown>
}> {
  override get message(): string {
    return `actor ${this.actor} failed while handling the message`
  }
}

/**
 * The actor handled an `ask` message without completing its reply.
 *
 * @since 0.1.0
 * @category reasons
 */
export class NoReply extends Data.TaggedError("NoReply")<{
  readonly actor: string
}> {
  override get message(): string {
    return `actor ${this.actor} handled the message without replying`
  }
}

/**
 * Every reason talking to an actor can fail.
 *
 * @since 0.1.0
 * @category models
 */
export type ActorErrorReason = ActorStopped | MessageFailed | NoReply

/**
 * The error family of actors; `reason` says which failure it is.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActorError extends Data.TaggedError("ActorError")<{
  readonly reason: ActorErrorReason
}> {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * Where the actor puts the answer to an `ask`. The handler completes it
 * with `Deferred.succeed` (or `Deferred.fail` with the domain error `E`)
 * while it handles the message.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply<A, E = never> = Deferred.Deferred<A, E | ActorError>

/**
 * What an actor does: its initial state and how one message turns the
 * state into the next.
 *
 * @since 0.1.0
 * @category models
 */
export interface Behavior<S, M, E = never, R = never> {
  readonly initial: S
  readonly receive: (state: S, message: M) => Effect.Effect<S, E, R>
}

/**
 * Restart after a failed message: the next message is handled with the
 * state `onRestart` returns, given the last good state (the one the failed
 * message started from) and the failure.
 *
 * @since 0.1.0
 * @category supervision
 */
export interface Restart<S, E> {
  readonly _tag: "Restart"
  readonly onRestart: ((last: S, cause: Cause.Cause<E>) => S) | undefined
  /** More restarts than this within `within` stop the actor. Default `Config.actorMaxRestarts`. */
  readonly maxRestarts: number
  readonly within: Duration.Duration
}

/**
 * Stop after a failed message.
 *
 * @since 0.1.0
 * @category supervision
 */
export interface Stop {
  readonly _tag: "Stop"
}

/**
 * What happens to an actor after a message failed.
 *
 * @since 0.1.0
 * @category supervision
 */
export type Supervision<S, E> = Restart<S, E> | Stop

/**
 * Restart policy; without `onRestart`, from the initial state.
 *
 * @since 0.1.0
 * @category supervision
 */
export const restart = <S, E = unknown>(options: {
  readonly onRestart?: ((last: S, cause: Cause.Cause<E>) => S) | undefined
  readonly maxRestarts?: number | undefined
  readonly within?: Duration.Input | undefined
} = {}): Supervision<S, E> => ({
  _tag: "Restart",
  onRestart: options.onRestart,
  maxRestarts: options.maxRestarts ?? Config.actorMaxRestarts,
  within: Duration.fromInputUnsafe(options.within ?? Config.actorRestartWindow)
})

/**
 * Stop policy.
 *
 * @since 0.1.0
 * @category supervision
 */
export const stop: Stop = { _tag: "Stop" }

/**
 * Actor options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<S, E> {
  /** Shown in logs and errors. Default `"actor"`. */
  readonly name?: string | undefined
  /** Messages queued before senders wait. Default `Config.actorMailboxSize`. */
  readonly mailboxSize?: number | undefined
  /** Default `restart()`: from the initial state. */
  readonly supervision?: Supervision<S, E> | undefined
}

/**
 * A running actor that accepts messages of type `M`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Actor<M> {
  readonly name: string
  /**
   * Queues a message and returns once it is in the mailbox (waiting while
   * the mailbox is full). Fails with `ActorStopped` if the actor is stopped.
   * A message accepted by an actor that stops before handling it is dropped.
   */
  readonly tell: (message: M) => Effect.Effect<void, ActorError>
  /**
   * Builds a message around a fresh reply, queues it like `tell`, and waits
   * for the reply. Fails with the domain error the handler put in the reply,
   * or with `MessageFailed`, `NoReply` or `ActorStopped`.
   */
  readonly ask: <A, E = never>(message: (reply: Reply<A, E>) => M) => Effect.Effect<A, E | ActorError>
  /** Stops the actor (as closing its scope does) and waits until it has stopped. */
  readonly stop: Effect.Effect<void>
  /** Completes when the actor has stopped, whatever the reason. */
  readonly await: Effect.Effect<void>
  /** Messages waiting in the mailbox. */
  readonly mailboxSize: Effect.Effect<number>
}

interface Envelope<M> {
  readonly message: M
  /** For an `ask`: its reply, which the actor fails if the handler leaves it unanswered. */
  readonly reply: Reply<unknown, unknown> | undefined
}

/**
 * Starts an actor whose fiber lives in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*<S, M, E = never, R = never>(
  behavior: Behavior<S, M, E, R>,
  options: Options<S, E> = {}
): Effect.fn.Return<Actor<M>, never, Scope.Scope | R> {
  const name = options.name ?? "actor"
  const supervision: Supervision<S, E> = options.supervision ?? restart<S, E>()
  const mailbox = yield* Queue.bounded<Envelope<M>>(Math.max(1, options.mailboxSize ?? Config.actorMailboxSize))
  const stopped = yield* Deferred.make<void>()
  // Errors are built only when something fails: an Error captures a stack
  // trace, which costs more than a whole ask. ActorStopped is built once,
  // when first needed, and shared by every message it fails.
  const failure = (reason: ActorErrorReason) => Exit.fail(new ActorError({ reason }))
  let stoppedFailure: Exit.Exit<never, ActorError> | undefined
  const stoppedExit = () => (stoppedFailure ??= failure(new ActorStopped({ actor: name })))
  // A no-op when the reply is already complete (the handler answered it).
  const failReply = (reply: Reply<unknown, unknown>, exit: Exit.Exit<never, ActorError>) => {
    Deferred.doneUnsafe(reply, exit)
  }
  // The message being handled. Owned by the actor's fiber: its loop sets
  // it, its finalizer fails its reply if the actor stops in the middle.
  let current: Envelope<M> | undefined

  // After a failed message: answer its asker, log, and apply the
  // supervision policy. Returns the next state, or none to stop.
  const recover = Effect.fnUntraced(function*(state: S, envelope: Envelope<M>, cause: Cause.Cause<E>, restarts: Array<number>) {
    // The actor is being stopped in the middle of this message: the
    // finalizer fails its reply with ActorStopped.
    if (Cause.hasInterruptsOnly(cause)) return Option.none<S>()
    if (envelope.reply !== undefined) failReply(envelope.reply, failure(new MessageFailed({ actor: name, cause })))
    if (supervision._tag === "Stop") {
      yield* Effect.logWarning("actor message failed; stopping (policy: stop)", Cause.pretty(cause))
      return Option.none<S>()
    }
    // Restart intensity: drop restarts older than the window, count this one.
    const now = yield* Clock.currentTimeMillis
    const windowStart = now - Duration.toMillis(supervision.within)
    while (restarts.length > 0 && restarts[0]! <= windowStart) restarts.shift()
    restarts.push(now)
    if (restarts.length > supervision.maxRestarts) {
      yield* Effect.logError(
        `actor message failed; stopping after ${restarts.length} restarts within ${Duration.format(supervision.within)}`,
        Cause.pretty(cause)
      )
      return Option.none<S>()
    }
    yield* Effect.logWarning("actor message failed; restarting", Cause.pretty(cause))
    const onRestart = supervision.onRestart
    if (onRestart === undefined) return Option.some(behavior.initial)
    const next = yield* Effect.exit(Effect.sync(() => onRestart(state, cause)))
    if (Exit.isSuccess(next)) return Option.some(next.value)
    yield* Effect.logError("actor onRestart failed; stopping", Cause.pretty(next.cause))
    return Option.none<S>()
  })

  // Stops in one synchronous step, so that no sender slips in between.
  // Shutting the mailbox down refuses every later message and every sender
  // still waiting for room (ActorStopped at the offer); the message being
  // handled and the queued ones, which the shutdown drops, get
  // ActorStopped in their replies. So every ask is answered, and `ask` needs
  // no race against the actor stopping.
  const close = Effect.sync(() => {
    const queued = MutableList.takeAll(mailbox.messages)
    Queue.shutdownUnsafe(mailbox)
    if (current?.reply !== undefined) failReply(current.reply, stoppedExit())
    current = undefined
    for (const envelope of queued) {
      if (envelope.reply !== undefined) failReply(envelope.reply, stoppedExit())
    }
    Deferred.doneUnsafe(stopped, Exit.void)
  })

  const loop = Effect.gen(function*() {
    // Both are owned by this fiber alone.
    let state = behavior.initial
    const restarts: Array<number> = []
    while (true) {
      // Queue.take hands the message over in the same step as the code
      // below runs, so an interruption cannot fall between them and lose it.
      const envelope = yield* Queue.take(mailbox)
      current = envelope
      const exit = yield* Effect.exit(Effect.suspend(() => behavior.receive(state, envelope.message)))
      if (Exit.isSuccess(exit)) {
        state = exit.value
        const reply = envelope.reply
        if (reply !== undefined && !Deferred.isDoneUnsafe(reply)) failReply(reply, failure(new NoReply({ actor: name })))
      } else {
        const next = yield* recover(state, envelope, exit.cause, restarts)
        if (Option.isNone(next)) return
        state = next.value
      }
      current = undefined
    }
  }).pipe(Effect.ensuring(close), Effect.annotateLogs({ actor: name }))
  // Started at once, so that its finalizer is in place even if the scope
  // closes before the scheduler would have run it.
  const fiber = yield* Effect.forkScoped(loop, { startImmediately: true })

  const ask = <A, E2 = never>(message: (reply: Reply<A, E2>) => M): Effect.Effect<A, E2 | ActorError> =>
    Effect.suspend(() => {
      const reply = Deferred.makeUnsafe<A, E2 | ActorError>()
      const envelope: Envelope<M> = { message: message(reply), reply: reply as Reply<unknown, unknown> }
      // The actor answers or fails every reply it accepted (see close).
      return Effect.flatMap(Queue.offer(mailbox, envelope), (accepted) => accepted ? Deferred.await(reply) : stoppedExit())
    })

  return {
    name,
    tell: (message) =>
      Effect.flatMap(Queue.offer(mailbox, { message, reply: undefined }), (accepted) => accepted ? Effect.void : stoppedExit()),
    ask,
    stop: Effect.andThen(Fiber.interrupt(fiber), Deferred.await(stopped)),
    await: Deferred.await(stopped),
    mailboxSize: Queue.size(mailbox)
  }
})
