import { assert, describe, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Socket from "effect/socket/Socket"
import * as Duplex from "../src/Duplex.ts"

// A socket that never delivers input and records every batch written to it.
const recordingSocket = (batches: Array<ReadonlyArray<Uint8Array>>): Socket.Socket =>
  Socket.make({
    reader: Effect.succeed({
      pull: Effect.never,
      upgrade: () => Effect.die("no upgrade")
    }),
    writer: Effect.succeed({
      write: () => Effect.void,
      writeAll: (chunks) =>
        Effect.sync(() => {
          batches.push(chunks as ReadonlyArray<Uint8Array>)
        })
    })
  })

const concat = (chunks: ReadonlyArray<Uint8Array>): string =>
  chunks.flatMap((chunk) => chunk.byteLength === 0 ? [] : [chunk.join(",")]).join(",")
const size = (chunks: ReadonlyArray<Uint8Array>): number => chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0)

// Chunks as a writer may get them: small ones, large ones, and runs of
// adjacent views of one buffer (a batch of lines encoded at once).
const chunks = Arbitrary.schema(
  Schema.Array(
    Schema.Struct({
      size: Schema.Union([Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 64 })), Schema.Literal(20_000)]),
      views: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 }))
    })
  ).check(Schema.isMinLength(1), Schema.isMaxLength(40))
).pipe(Arbitrary.map((specs) => {
  let seed = 1
  const out: Array<Uint8Array> = []
  for (const spec of specs) {
    const buffer = new Uint8Array(spec.size * spec.views + 3)
    for (let i = 0; i < buffer.length; i++) buffer[i] = (seed = (seed * 31 + 7) % 251)
    for (let v = 0; v < spec.views; v++) out.push(buffer.subarray(1 + v * spec.size, 1 + (v + 1) * spec.size))
  }
  return out as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
}))

const written = (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) =>
  Effect.scoped(Effect.gen(function*() {
    const batches: Array<ReadonlyArray<Uint8Array>> = []
    const duplex = yield* Duplex.open(recordingSocket(batches))
    yield* duplex.write(chunks)
    return batches
  }))

describe("Duplex.write", () => {
  it.effect("writes adjacent views of one buffer as one view, without copying", () =>
    Effect.gen(function*() {
      const buffer = new Uint8Array(100)
      const batches = yield* written([buffer.subarray(0, 10), buffer.subarray(10, 30), buffer.subarray(30, 31)])
      assert.strictEqual(batches[0]!.length, 1)
      assert.strictEqual(batches[0]![0]!.buffer, buffer.buffer)
      assert.strictEqual(batches[0]![0]!.byteLength, 31)
    }))

  it.effect("writes a few separate buffers as they are, and gathers many small ones into one", () =>
    Effect.gen(function*() {
      const few = Array.from({ length: 3 }, (_, i) => Uint8Array.of(i)) as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
      assert.strictEqual((yield* written(few))[0]!.length, 3)
      const many = Array.from({ length: 20 }, (_, i) => Uint8Array.of(i)) as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
      const sent = (yield* written(many))[0]!
      assert.strictEqual(sent.length, 1)
      assert.deepStrictEqual(Array.from(sent[0]!), Array.from({ length: 20 }, (_, i) => i))
    }))


  it.effect.prop(
    "writes the bytes of every chunk in order, small chunks gathered",
    [chunks],
    ([written]) =>
      Effect.scoped(Effect.gen(function*() {
        const batches: Array<ReadonlyArray<Uint8Array>> = []
        const duplex = yield* Duplex.open(recordingSocket(batches))
        yield* duplex.write(written)
        assert.strictEqual(batches.length, 1)
        assert.strictEqual(concat(batches[0]!), concat(written))
        // A few buffers go as they are; more are gathered, so that only
        // large ones stand alone.
        const sent = batches[0]!
        assert.isAtMost(sent.length, written.length)
        if (sent.length > 8) {
          for (let i = 1; i < sent.length; i++) {
            assert.isTrue(sent[i - 1]!.byteLength >= 16 * 1024 || sent[i]!.byteLength >= 16 * 1024)
          }
        }
        assert.strictEqual(duplex.stats.bytesOut, size(written))
      })),
    { arbitrary: { runs: 300 } }
  )
})
