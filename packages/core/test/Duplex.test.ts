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
  ).check(Schema.isMinLength(1))
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

describe("Duplex.write", () => {
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
        // Only large chunks stand alone: no two small chunks are written apart.
        const sent = batches[0]!
        for (let i = 1; i < sent.length; i++) {
          assert.isTrue(sent[i - 1]!.byteLength >= 16 * 1024 || sent[i]!.byteLength >= 16 * 1024)
        }
        assert.strictEqual(duplex.stats.bytesOut, size(written))
      })),
    { arbitrary: { runs: 300 } }
  )
})
