import { assert, describe, it } from "@effect/vitest"
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Outbound from "../src/Outbound.ts"

const bytes = (...values: ReadonlyArray<number>): Arr.NonEmptyReadonlyArray<Uint8Array> =>
  values.map((value) => Uint8Array.of(value)) as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>

const sized = (...sizes: ReadonlyArray<number>): Arr.NonEmptyReadonlyArray<Uint8Array> =>
  sizes.map((size) => new Uint8Array(size)) as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>

const flat = (batch: ReadonlyArray<Uint8Array>) => batch.map((chunk) => chunk[0])

// A socket whose effectful writes and waits for writability each block
// until the test lets them go (`release`), recording what was written and
// how: `writes` by the writer, `direct` by the producer (when `direct` is on).
const fakeSink = (options: { readonly direct?: boolean } = {}) => {
  const writes: Array<ReadonlyArray<Uint8Array>> = []
  const direct: Array<number> = []
  let gates: Array<Deferred.Deferred<void>> = []
  let waits = 0
  let takesMore = true
  const gate = Effect.suspend(() => {
    const deferred = Deferred.makeUnsafe<void>()
    gates.push(deferred)
    return Deferred.await(deferred)
  })
  const sink: Outbound.Sink = {
    write: (chunks) => Effect.andThen(Effect.sync(() => writes.push(chunks)), gate),
    writeNow: options.direct === true
      ? (chunks) => {
        for (const chunk of chunks) direct.push(chunk[0]!)
        return takesMore
      }
      : undefined,
    awaitWritable: Effect.andThen(Effect.sync(() => waits++), gate)
  }
  return {
    sink,
    writes,
    direct,
    waits: () => waits,
    setTakesMore: (more: boolean) => {
      takesMore = more
    },
    // Lets every blocked write or wait go on.
    release: Effect.suspend(() => {
      const open = gates
      gates = []
      return Effect.forEach(open, (deferred) => Deferred.succeed(deferred, undefined), { discard: true })
    }),
    blocked: () => gates.length
  }
}

describe("Outbound", () => {
  it.effect("without direct writes, an offer to a waiting writer is handed to it; a busy writer's are queued in order", () =>
    Effect.gen(function*() {
      const socket = fakeSink()
      const outbound = Outbound.make<never>(socket.sink, { chunks: 4 })
      const writer = yield* Effect.forkChild(outbound.run, { startImmediately: true })
      yield* outbound.offer(bytes(1))
      assert.deepStrictEqual(socket.writes.map(flat), [[1]], "handed to the waiting writer at once")
      yield* outbound.offer(bytes(2, 3))
      yield* outbound.offer(bytes(4))
      assert.deepStrictEqual(socket.writes.map(flat), [[1]], "queued while the writer writes")
      yield* socket.release
      assert.deepStrictEqual(socket.writes.map(flat), [[1], [2, 3, 4]], "the writer takes everything queued at once")
      yield* socket.release
      yield* outbound.end()
      yield* Fiber.join(writer)
    }))

  it.effect("with direct writes, the producer writes while the writer waits, and wakes it only when the socket asks to wait", () =>
    Effect.gen(function*() {
      const socket = fakeSink({ direct: true })
      const outbound = Outbound.make<never>(socket.sink, { chunks: 4 })
      const writer = yield* Effect.forkChild(outbound.run, { startImmediately: true })
      yield* outbound.offer(bytes(1))
      yield* outbound.offer(bytes(2, 3))
      assert.deepStrictEqual(socket.direct, [1, 2, 3], "written at once, in order")
      assert.strictEqual(socket.waits(), 0, "the writer was not woken")
      assert.lengthOf(socket.writes, 0)

      socket.setTakesMore(false)
      yield* outbound.offer(bytes(4))
      assert.deepStrictEqual(socket.direct, [1, 2, 3, 4])
      assert.strictEqual(socket.waits(), 1, "the writer must wait for the socket")

      // Until the socket takes more, offers are queued for the writer, not written.
      yield* outbound.offer(bytes(5))
      assert.deepStrictEqual(socket.direct, [1, 2, 3, 4])
      yield* socket.release
      assert.deepStrictEqual(socket.writes.map(flat), [[5]], "the writer writes what was queued meanwhile")
      yield* socket.release
      yield* outbound.end()
      yield* Fiber.join(writer)
    }))

  it.effect("a full queue makes the producer wait until the writer takes", () =>
    Effect.gen(function*() {
      const socket = fakeSink()
      const outbound = Outbound.make<never>(socket.sink, { chunks: 2 })
      yield* outbound.offer(bytes(1, 2))
      const producer = yield* Effect.forkChild(outbound.offer(bytes(3)), { startImmediately: true })
      assert.isUndefined(producer.pollUnsafe(), "the producer waits")
      const writer = yield* Effect.forkChild(outbound.run, { startImmediately: true })
      assert.deepStrictEqual(socket.writes.map(flat), [[1, 2]])
      yield* Fiber.join(producer)
      yield* socket.release
      assert.deepStrictEqual(socket.writes.map(flat), [[1, 2], [3]])
      yield* socket.release
      yield* outbound.end()
      yield* Fiber.join(writer)
    }))

  it.effect("bytes bound the stage whatever the chunk sizes: queued and in the socket's hands together", () =>
    Effect.gen(function*() {
      const socket = fakeSink()
      const outbound = Outbound.make<never>(socket.sink, { chunks: 64, bytes: 100 })
      const writer = yield* Effect.forkChild(outbound.run, { startImmediately: true })
      // Handed to the writer, which is blocked on the socket with 60 bytes.
      yield* outbound.offer(sized(60))
      yield* outbound.offer(sized(30))
      assert.strictEqual(outbound.bufferedBytes, 90)
      const producer = yield* Effect.forkChild(outbound.offer(sized(20)), { startImmediately: true })
      assert.isUndefined(producer.pollUnsafe(), "110 bytes would pass the bound: the producer waits")
      assert.strictEqual(outbound.bufferedBytes, 90)
      // The socket takes the 60: the 20 fit now, and the writer takes them
      // with the 30.
      yield* socket.release
      yield* Fiber.join(producer)
      assert.strictEqual(outbound.bufferedBytes, 50)
      const sizes = () => socket.writes.map((batch) => batch.map((chunk) => chunk.byteLength))
      assert.deepStrictEqual(sizes(), [[60], [30, 20]])

      // An offer larger than the bound waits for the stage to be empty, and is taken alone.
      const large = yield* Effect.forkChild(outbound.offer(sized(500)), { startImmediately: true })
      assert.isUndefined(large.pollUnsafe(), "50 bytes are still in the socket's hands")
      yield* socket.release
      yield* Fiber.join(large)
      assert.strictEqual(outbound.bufferedBytes, 500)
      yield* socket.release
      assert.strictEqual(outbound.bufferedBytes, 0)
      yield* outbound.end()
      yield* Fiber.join(writer)
      assert.deepStrictEqual(sizes(), [[60], [30, 20], [500]])
    }))

  it.effect("the app's failure comes after its queued output; the writer fails with it", () =>
    Effect.gen(function*() {
      const socket = fakeSink()
      const outbound = Outbound.make<string>(socket.sink)
      yield* outbound.offer(bytes(1))
      yield* outbound.failCause(Cause.fail("bad request"))
      yield* outbound.offer(bytes(2))
      const writer = yield* Effect.forkChild(Effect.flip(outbound.run), { startImmediately: true })
      assert.deepStrictEqual(socket.writes.map(flat), [[1]], "the queued output is written first")
      assert.isUndefined(writer.pollUnsafe(), "the failure waits for it")
      yield* socket.release
      assert.strictEqual(yield* Fiber.join(writer), "bad request")
      assert.deepStrictEqual(socket.writes.map(flat), [[1]], "an offer after the end is ignored")
    }))
})
