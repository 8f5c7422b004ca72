import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Scope from "effect/Scope"
import * as Actor from "../src/Actor.ts"

// A counter: `Add` changes the state, `Get` replies with it, `Boom` fails
// (typed), `Crash` dies (defect), `Hold` waits for a gate before returning,
// `Forget` is an ask that never replies, `Refuse` replies with a domain error.
type Message =
  | { readonly _tag: "Add"; readonly n: number }
  | { readonly _tag: "Get"; readonly reply: Actor.Reply<number> }
  | { readonly _tag: "Boom"; readonly reply?: Actor.Reply<number> }
  | { readonly _tag: "Crash" }
  | {
    readonly _tag: "Hold"
    readonly gate: Deferred.Deferred<void>
    readonly entered?: Deferred.Deferred<void>
    readonly reply?: Actor.Reply<number>
  }
  | { readonly _tag: "Forget"; readonly reply: Actor.Reply<number> }
  | { readonly _tag: "Refuse"; readonly reply: Actor.Reply<number, "refused"> }

const counter: Actor.Behavior<number, Message, "boom"> = {
  initial: 0,
  receive: (state, message) => {
    switch (message._tag) {
      case "Add":
        return Effect.succeed(state + message.n)
      case "Get":
        return Effect.as(Deferred.succeed(message.reply, state), state)
      case "Boom":
        return Effect.fail("boom" as const)
      case "Crash":
        return Effect.die(new Error("crash"))
      case "Hold":
        return Effect.andThen(
          Effect.andThen(message.entered === undefined ? Effect.void : Deferred.succeed(message.entered, undefined), Deferred.await(message.gate)),
          Effect.as(
          message.reply === undefined ? Effect.void : Deferred.succeed(message.reply, state),
          state
        ))
      case "Forget":
        return Effect.succeed(state)
      case "Refuse":
        return Effect.as(Deferred.fail(message.reply, "refused"), state)
    }
  }
}

const get = (actor: Actor.Actor<Message>) => actor.ask<number>((reply) => ({ _tag: "Get", reply }))

const reasonOf = <A>(exit: Exit.Exit<A, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = exit.cause.reasons[0]
  if (error === undefined || error._tag !== "Fail") return error?._tag
  const value = error.error
  return value instanceof Actor.ActorError ? value.reason._tag : String(value)
}

// The failures below are expected; their warnings would only clutter the output.
const quiet = Effect.provide(Logger.layer([]))

// Forks `effect` and runs it at once, up to where it first waits (for its
// reply, or for room in the mailbox): no scheduler turn is needed before
// the test looks at the mailbox.
const start = <A, E>(effect: Effect.Effect<A, E>) => Effect.forkChild(effect, { startImmediately: true })

// Counts constructions of the actor's errors while the scope is open. Each
// constructor assigns its fields (`reason`, `actor`) to the new object; a
// setter for them on the prototype sees every assignment, then puts the
// field on the object as the constructor would have.
const countErrors = Effect.acquireRelease(
  Effect.sync(() => {
    const counter = { built: 0 }
    const fields: Array<readonly [object, string]> = [
      [Actor.ActorError.prototype, "reason"],
      [Actor.ActorStopped.prototype, "actor"],
      [Actor.MessageFailed.prototype, "actor"],
      [Actor.NoReply.prototype, "actor"]
    ]
    for (const [prototype, key] of fields) {
      Object.defineProperty(prototype, key, {
        configurable: true,
        set(this: object, value: unknown) {
          counter.built++
          Object.defineProperty(this, key, { value, writable: true, enumerable: true, configurable: true })
        }
      })
    }
    return { counter, fields }
  }),
  ({ fields }) =>
    Effect.sync(() => {
      for (const [prototype, key] of fields) Reflect.deleteProperty(prototype, key)
    })
).pipe(Effect.map(({ counter }) => counter))

describe("Actor", () => {
  it.effect("handles messages in order and answers asks with the state at that point", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make(counter)
      yield* actor.tell({ _tag: "Add", n: 1 })
      const first = yield* get(actor)
      yield* Effect.forEach([2, 3, 4], (n) => actor.tell({ _tag: "Add", n }))
      assert.strictEqual(first, 1)
      assert.strictEqual(yield* get(actor), 10)
    }))

  it.effect("a reply may carry the handler's typed error", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make(counter)
      const exit = yield* Effect.exit(actor.ask<number, "refused">((reply) => ({ _tag: "Refuse", reply })))
      assert.deepStrictEqual(exit, Exit.fail("refused"))
    }))

  it.effect("a successful ask or tell builds no error object", () =>
    Effect.gen(function*() {
      const errors = yield* countErrors
      const actor = yield* Actor.make(counter)
      for (let i = 0; i < 100; i++) {
        yield* actor.tell({ _tag: "Add", n: 1 })
        assert.strictEqual(yield* get(actor), i + 1)
      }
      assert.strictEqual(errors.built, 0)
      // The count does see the errors an actor builds: NoReply, in an ActorError.
      const exit = yield* Effect.exit(actor.ask<number>((reply) => ({ _tag: "Forget", reply })))
      assert.strictEqual(reasonOf(exit), "NoReply")
      assert.strictEqual(errors.built, 2)
    }))

  it.effect("an ask the handler does not answer fails with NoReply", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make(counter)
      const exit = yield* Effect.exit(actor.ask<number>((reply) => ({ _tag: "Forget", reply })))
      assert.strictEqual(reasonOf(exit), "NoReply")
      assert.strictEqual(yield* get(actor), 0)
    }))

  it.effect("tell waits while the mailbox is full (backpressure) and resumes when it drains", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make(counter, { mailboxSize: 2 })
      const gate = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const started = yield* Deferred.make<number>()
      // The actor takes `Hold` and waits; two more messages fill the mailbox.
      yield* actor.tell({ _tag: "Hold", gate, entered })
      yield* Deferred.await(entered)
      const held = yield* Effect.forkChild(actor.ask<number>((reply) => ({ _tag: "Hold", gate, reply })))
      yield* Effect.forkChild(Effect.andThen(actor.tell({ _tag: "Add", n: 1 }), Deferred.succeed(started, 1)))
      yield* Effect.yieldNow
      assert.strictEqual(yield* actor.mailboxSize, 2)
      const third = yield* Effect.forkChild(actor.tell({ _tag: "Add", n: 10 }))
      // Let every fiber run as far as it can: the third tell stays suspended.
      for (let i = 0; i < 50; i++) yield* Effect.yieldNow
      assert.isUndefined(third.pollUnsafe())
      assert.isTrue(yield* Deferred.isDone(started))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(third)
      assert.strictEqual(yield* Fiber.join(held), 0)
      assert.strictEqual(yield* get(actor), 11)
    }))

  it.effect("a typed failure is logged and the actor restarts from the initial state", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make(counter, { supervision: Actor.restart() })
      yield* actor.tell({ _tag: "Add", n: 5 })
      const exit = yield* Effect.exit(actor.ask<number>((reply) => ({ _tag: "Boom", reply })))
      assert.strictEqual(reasonOf(exit), "MessageFailed")
      // The asker gets the handler's own cause.
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.isTrue(error instanceof Actor.ActorError && error.reason._tag === "MessageFailed")
      assert.deepStrictEqual((error as Actor.ActorError & { reason: Actor.MessageFailed }).reason.cause, Cause.fail("boom"))
      assert.strictEqual(yield* get(actor), 0)
    }).pipe(quiet))

  it.effect("a defect restarts from what onRestart returns, given the last good state", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const actor = yield* Actor.make(counter, {
        supervision: Actor.restart({
          onRestart: (last) => {
            seen.push(last)
            return last * 100
          }
        })
      })
      yield* actor.tell({ _tag: "Add", n: 3 })
      yield* actor.tell({ _tag: "Crash" })
      yield* actor.tell({ _tag: "Add", n: 1 })
      assert.strictEqual(yield* get(actor), 301)
      assert.deepStrictEqual(seen, [3])
    }).pipe(quiet))

  it.effect("with the stop policy a failure stops the actor: queued asks and later messages fail with ActorStopped", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make(counter, { supervision: Actor.stop })
      const gate = yield* Deferred.make<void>()
      yield* actor.tell({ _tag: "Hold", gate })
      yield* actor.tell({ _tag: "Boom" })
      const queued = yield* Effect.forkChild(get(actor))
      yield* Effect.yieldNow
      yield* Deferred.succeed(gate, undefined)
      yield* actor.await
      assert.strictEqual(reasonOf(yield* Fiber.await(queued)), "ActorStopped")
      assert.strictEqual(reasonOf(yield* Effect.exit(actor.tell({ _tag: "Add", n: 1 }))), "ActorStopped")
      assert.strictEqual(reasonOf(yield* Effect.exit(get(actor))), "ActorStopped")
    }).pipe(quiet))

  it.effect("too many restarts within the window stop the actor", () =>
    Effect.gen(function*() {
      // TestClock does not move: every restart falls in the same window.
      const actor = yield* Actor.make(counter, { supervision: Actor.restart({ maxRestarts: 3, within: "1 second" }) })
      for (let i = 0; i < 3; i++) yield* actor.tell({ _tag: "Boom" })
      assert.strictEqual(yield* get(actor), 0)
      yield* actor.tell({ _tag: "Boom" })
      yield* actor.await
      assert.strictEqual(reasonOf(yield* Effect.exit(get(actor))), "ActorStopped")
    }).pipe(quiet))

  it.effect("closing the actor's scope stops it, failing an ask in progress and the queued ones", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const actor = yield* Actor.make(counter).pipe(Scope.provide(scope))
      const gate = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const inProgress = yield* Effect.forkChild(actor.ask<number>((reply) => ({ _tag: "Hold", gate, entered, reply })))
      yield* Deferred.await(entered)
      const queued = yield* Effect.forkChild(get(actor))
      yield* Effect.yieldNow
      assert.strictEqual(yield* actor.mailboxSize, 1)
      yield* Scope.close(scope, Exit.void)
      yield* actor.await
      assert.strictEqual(reasonOf(yield* Fiber.await(inProgress)), "ActorStopped")
      assert.strictEqual(reasonOf(yield* Fiber.await(queued)), "ActorStopped")
      assert.strictEqual(reasonOf(yield* Effect.exit(actor.tell({ _tag: "Add", n: 1 }))), "ActorStopped")
    }))

  it.effect("stop fails the ask in progress, the queued asks and an ask waiting for room; a later ask fails at once", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make(counter, { mailboxSize: 2 })
      const gate = yield* Deferred.make<void>() // never opened: the actor holds until stopped
      const entered = yield* Deferred.make<void>()
      const inProgress = yield* start(actor.ask<number>((reply) => ({ _tag: "Hold", gate, entered, reply })))
      yield* Deferred.await(entered)
      const queued = [yield* start(get(actor)), yield* start(get(actor))]
      assert.strictEqual(yield* actor.mailboxSize, 2)
      const waiting = yield* start(get(actor))
      assert.isUndefined(waiting.pollUnsafe())
      yield* actor.stop
      for (const fiber of [inProgress, ...queued, waiting]) {
        assert.strictEqual(reasonOf(yield* Fiber.await(fiber)), "ActorStopped")
      }
      assert.strictEqual(reasonOf(yield* Effect.exit(get(actor))), "ActorStopped")
      assert.strictEqual(yield* actor.mailboxSize, 0)
    }))

  it.effect("an actor whose scope closes before its fiber ran is stopped all the same", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const actor = yield* Actor.make(counter).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      yield* actor.await
      assert.strictEqual(reasonOf(yield* Effect.exit(get(actor))), "ActorStopped")
    }))

  it.effect("a tell waiting on a full mailbox fails with ActorStopped when the actor stops", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make(counter, { mailboxSize: 1 })
      const gate = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      yield* actor.tell({ _tag: "Hold", gate, entered })
      yield* Deferred.await(entered)
      yield* actor.tell({ _tag: "Add", n: 1 })
      const waiting = yield* Effect.forkChild(actor.tell({ _tag: "Add", n: 2 }))
      yield* Effect.yieldNow
      yield* actor.stop
      assert.strictEqual(reasonOf(yield* Fiber.await(waiting)), "ActorStopped")
    }))
})
