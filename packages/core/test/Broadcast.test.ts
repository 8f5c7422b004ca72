import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Broadcast from "../src/Broadcast.ts"
import * as ConnectionError from "../src/ConnectionError.ts"

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

// Everything the subscriber's stream yields until it ends or fails.
const drain = <A>(subscriber: Broadcast.Subscriber<A>) =>
  Effect.gen(function*() {
    const got: Array<A> = []
    const exit = yield* Effect.exit(Stream.runForEach(subscriber.stream, (a) => Effect.sync(() => got.push(a))))
    return { got, exit }
  })

const slowConsumerCapacity = (exit: Exit.Exit<unknown, ConnectionError.ConnectionError>) => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons[0]
  if (reason?._tag !== "Fail") return undefined
  return reason.error.reason._tag === "SlowConsumer" ? reason.error.reason.capacity : undefined
}

describe("Broadcast", () => {
  it.effect("delivers every message to every subscriber in order, except the one excluded", () =>
    Effect.gen(function*() {
      const hub = yield* Broadcast.make<number>()
      const a = yield* hub.subscribe({ capacity: 16 })
      const b = yield* hub.subscribe({ capacity: 16 })
      const c = yield* hub.subscribe({ capacity: 16 })
      for (const n of range(10)) yield* hub.publish(n, { except: n % 2 === 0 ? c : undefined })
      yield* Effect.forEach([a, b, c], (s) => s.end)
      assert.deepStrictEqual((yield* drain(a)).got, range(10))
      assert.deepStrictEqual((yield* drain(b)).got, range(10))
      assert.deepStrictEqual((yield* drain(c)).got, [1, 3, 5, 7, 9])
    }))

  it.effect("disconnect: a subscriber that never reads is cut off at once, others lose nothing, publish never waits", () =>
    Effect.gen(function*() {
      const hub = yield* Broadcast.make<number>()
      const slow = yield* hub.subscribe({ capacity: 8 })
      const fast = yield* hub.subscribe({ capacity: 8 })
      const received: Array<number> = []
      const reader = yield* Effect.forkChild(
        Stream.runForEach(fast.stream, (n) => Effect.sync(() => received.push(n)))
      )
      // The fast reader keeps up (it runs between publishes); the slow one never reads.
      const results: Array<Broadcast.PublishResult> = []
      for (const n of range(1000)) {
        results.push(yield* hub.publish(n))
        yield* Effect.yieldNow
      }
      assert.strictEqual(results.filter((r) => r.disconnected === 1).length, 1)
      assert.strictEqual(results.findIndex((r) => r.disconnected === 1), 8)
      assert.strictEqual(yield* slow.size, 0, "the slow queue is emptied when it is cut off")
      assert.isFalse(yield* slow.isOpen)
      yield* slow.disconnected
      assert.strictEqual(yield* hub.size, 1, "the disconnected subscriber left the hub")
      const { exit, got } = yield* drain(slow)
      assert.deepStrictEqual(got, [])
      assert.strictEqual(slowConsumerCapacity(exit), 8)
      yield* fast.end
      yield* Fiber.join(reader)
      assert.deepStrictEqual(received, range(1000))
    }))

  it.effect("dropOldest keeps the newest messages and counts the dropped ones", () =>
    Effect.gen(function*() {
      const hub = yield* Broadcast.make<number>()
      const s = yield* hub.subscribe({ capacity: 4, policy: "dropOldest" })
      for (const n of range(10)) yield* hub.publish(n)
      assert.strictEqual(yield* s.size, 4)
      assert.strictEqual(yield* s.dropped, 6)
      yield* s.end
      assert.deepStrictEqual((yield* drain(s)).got, [6, 7, 8, 9])
    }))

  it.effect("dropNewest keeps the oldest messages and counts the dropped ones", () =>
    Effect.gen(function*() {
      const hub = yield* Broadcast.make<number>()
      const s = yield* hub.subscribe({ capacity: 4, policy: "dropNewest" })
      const results = yield* Effect.forEach(range(10), (n) => hub.publish(n))
      assert.deepStrictEqual(results.map((r) => r.dropped), [0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
      assert.strictEqual(yield* s.dropped, 6)
      yield* s.end
      assert.deepStrictEqual((yield* drain(s)).got, [0, 1, 2, 3])
    }))

  it.effect("fail delivers the queued messages, then fails the stream with the given error", () =>
    Effect.gen(function*() {
      const s = yield* Broadcast.subscriber<string>({ capacity: 4 })
      yield* s.offer("last words")
      const error = ConnectionError.make(new ConnectionError.FrameTooLarge({ size: 10, limit: 4 }))
      yield* s.fail(error)
      assert.strictEqual(yield* s.offer("too late"), "closed")
      const { exit, got } = yield* drain(s)
      assert.deepStrictEqual(got, ["last words"])
      assert.deepStrictEqual(exit, Exit.fail(error))
    }))

  it.effect("a subscription ends with its scope; a subscriber can move between hubs", () =>
    Effect.gen(function*() {
      const lobby = yield* Broadcast.make<string>()
      const dev = yield* Broadcast.make<string>()
      const scope = yield* Scope.make()
      yield* lobby.subscribe().pipe(Scope.provide(scope))
      const mover = yield* Broadcast.subscriber<string>()
      yield* lobby.add(mover)
      yield* lobby.publish("in lobby")
      yield* lobby.remove(mover)
      yield* dev.add(mover)
      yield* lobby.publish("lobby only")
      yield* dev.publish("in dev")
      assert.strictEqual(yield* lobby.size, 1)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* lobby.size, 0)
      yield* mover.end
      assert.deepStrictEqual((yield* drain(mover)).got, ["in lobby", "in dev"])
    }))

  it.effect.prop(
    "memory stays bounded: a queue never holds more than its capacity, whatever the policy and the interleaving",
    {
      capacity: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 8 })),
      policy: Schema.Literals(["disconnect", "dropOldest", "dropNewest"]),
      // true: publish one message; false: the reader takes what is queued, if anything.
      steps: Schema.Array(Schema.Boolean).check(Schema.isMaxLength(200))
    },
    ({ capacity, policy, steps }) =>
      Effect.gen(function*() {
        const hub = yield* Broadcast.make<number>()
        const s = yield* hub.subscribe({ capacity, policy })
        const pull = yield* Stream.toPull(s.stream)
        let published = 0
        let taken = 0
        for (const publish of steps) {
          if (publish) yield* hub.publish(published++)
          else if ((yield* s.size) > 0) {
            // A pull takes everything queued.
            taken += (yield* pull).length
          }
          assert.isAtMost(yield* s.size, capacity)
        }
        const dropped = yield* s.dropped
        if (yield* s.isOpen) assert.strictEqual(published, taken + (yield* s.size) + dropped)
      }).pipe(Effect.scoped),
    { arbitrary: { runs: 200 } }
  )
})
