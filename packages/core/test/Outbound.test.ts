import { assert, describe, it } from "@effect/vitest"
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Outbound from "../src/Outbound.ts"

const bytes = (...values: ReadonlyArray<number>): Arr.NonEmptyReadonlyArray<Uint8Array> =>
  values.map((value) => Uint8Array.of(value)) as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>

const flat = (batch: unknown) => (batch as ReadonlyArray<Uint8Array>).map((chunk) => chunk[0])

describe("Outbound", () => {
  it.effect("without direct writes, an offer to a waiting writer is handed to it; a busy writer's are queued in order", () =>
    Effect.gen(function*() {
      const outbound = Outbound.make<never>(4)
      const waiting = yield* Effect.forkChild(outbound.take, { startImmediately: true })
      yield* outbound.offer(bytes(1))
      assert.deepStrictEqual(flat(yield* Fiber.join(waiting)), [1])
      yield* outbound.offer(bytes(2, 3))
      yield* outbound.offer(bytes(4))
      assert.deepStrictEqual(flat(yield* outbound.take), [2, 3, 4])
      yield* outbound.end()
      assert.isUndefined(yield* outbound.take)
    }))

  it.effect("with direct writes, the producer writes while the writer waits, and wakes it only when the socket asks to wait", () =>
    Effect.gen(function*() {
      const written: Array<number> = []
      let socketTakesMore = true
      const outbound = Outbound.make<never>(4, (chunks) => {
        for (const chunk of chunks) written.push(chunk[0]!)
        return socketTakesMore
      })
      const writer = yield* Effect.forkChild(outbound.take, { startImmediately: true })
      yield* outbound.offer(bytes(1))
      yield* outbound.offer(bytes(2, 3))
      assert.deepStrictEqual(written, [1, 2, 3], "written at once, in order")
      assert.isUndefined(writer.pollUnsafe(), "the writer was not woken")

      socketTakesMore = false
      yield* outbound.offer(bytes(4))
      assert.deepStrictEqual(written, [1, 2, 3, 4])
      assert.strictEqual(yield* Fiber.join(writer), Outbound.mustAwaitWritable, "the writer must wait for the socket")

      // Until the writer takes again, offers are queued for it, not written.
      yield* outbound.offer(bytes(5))
      assert.deepStrictEqual(written, [1, 2, 3, 4])
      assert.deepStrictEqual(flat(yield* outbound.take), [5])
    }))

  it.effect("a full queue makes the producer wait until the writer takes", () =>
    Effect.gen(function*() {
      const outbound = Outbound.make<never>(2)
      yield* outbound.offer(bytes(1, 2))
      const producer = yield* Effect.forkChild(outbound.offer(bytes(3)), { startImmediately: true })
      assert.isUndefined(producer.pollUnsafe(), "the producer waits")
      assert.deepStrictEqual(flat(yield* outbound.take), [1, 2])
      yield* Fiber.join(producer)
      assert.deepStrictEqual(flat(yield* outbound.take), [3])
    }))
})
