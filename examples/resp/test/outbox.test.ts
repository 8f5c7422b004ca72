/**
 * A connection's outbox: replies wait for room, published messages never
 * wait (a subscriber too far behind is cut off), and both leave in the
 * order they came. Fibers are started immediately, so "it waits" is what a
 * fiber that ran until it suspended left behind, not a guess about timing.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as Outbox from "../Outbox.ts"
import * as Resp from "./support/Resp.ts"

const bytes = (size: number, fill: string) => Resp.bytes(fill.repeat(size))

describe("Outbox", () => {
  it.effect("a reply that does not fit waits until the output takes what is queued", () =>
    Effect.gen(function*() {
      const outbox = yield* Outbox.make(100)
      yield* outbox.reply(bytes(60, "a"))
      const second = yield* Effect.forkChild(outbox.reply(bytes(60, "b")), { startImmediately: true })
      assert.strictEqual(yield* outbox.size, 60, "the second reply waits")
      const pull = yield* Stream.toPull(outbox.stream)
      assert.deepStrictEqual((yield* pull).map(Resp.text), ["a".repeat(60)])
      yield* Fiber.join(second)
      assert.strictEqual(yield* outbox.size, 60)
      yield* outbox.end
      assert.deepStrictEqual((yield* pull).map(Resp.text), ["b".repeat(60)])
    }).pipe(Effect.scoped))

  it.effect("a reply larger than the bound is taken alone, once the outbox is empty", () =>
    Effect.gen(function*() {
      const outbox = yield* Outbox.make(100)
      yield* outbox.reply(bytes(500, "a"))
      assert.strictEqual(yield* outbox.size, 500)
    }).pipe(Effect.scoped))

  it.effect("a message that does not fit cuts the subscriber off: queue emptied, stream failed with SlowConsumer", () =>
    Effect.gen(function*() {
      const outbox = yield* Outbox.make(100)
      assert.strictEqual(outbox.offerUnsafe(bytes(60, "a")), "queued")
      assert.strictEqual(outbox.offerUnsafe(bytes(60, "b")), "disconnected")
      assert.strictEqual(yield* outbox.size, 0)
      assert.strictEqual(outbox.offerUnsafe(bytes(1, "c")), "closed")
      yield* outbox.disconnected
      const error = yield* Effect.flip(Stream.runDrain(outbox.stream))
      assert.strictEqual(error.reason._tag, "SlowConsumer")
    }).pipe(Effect.scoped))

  it.effect("replies and messages leave in the order they came", () =>
    Effect.gen(function*() {
      const outbox = yield* Outbox.make(1000)
      yield* outbox.reply(Resp.bytes("reply 1"))
      outbox.offerUnsafe(Resp.bytes("message 1"))
      yield* outbox.reply(Resp.bytes("reply 2"))
      outbox.offerUnsafe(Resp.bytes("message 2"))
      yield* outbox.end
      const out = yield* Stream.runCollect(outbox.stream)
      assert.deepStrictEqual(out.map(Resp.text), ["reply 1", "message 1", "reply 2", "message 2"])
    }).pipe(Effect.scoped))
})
