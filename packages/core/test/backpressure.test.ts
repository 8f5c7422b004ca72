/**
 * Backpressure end to end, over the memory network where buffer sizes are
 * exact: a client that writes without reading makes the echo server stop
 * writing, then stop pulling its app, then stop reading; the client's own
 * writes stall. Nothing in between grows past the declared bounds. Once the
 * client reads, everything flows again and every byte arrives.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Client from "../src/Client.ts"
import * as Config from "../src/Config.ts"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as TestkitConfig from "@socket-to-me/testkit/TestkitConfig"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"

const chunkSize = 16 * 1024
const total = 4 * 1024 * 1024

// Yields until `read` has not changed for `quiet` consecutive turns (bounded).
const settle = (read: () => number, quiet = 500, maxTurns = 200_000) =>
  Effect.gen(function*() {
    let last = read()
    let still = 0
    for (let turn = 0; turn < maxTurns && still < quiet; turn++) {
      yield* Effect.yieldNow
      const now = read()
      still = now === last ? still + 1 : 0
      last = now
    }
    return still >= quiet
  })

describe("backpressure", () => {
  it.effect("a client that does not read stalls the server's reads at a bounded depth", () =>
    Effect.gen(function*() {
      let serverRead = 0
      const server = yield* TestTransport.serve(TestTransport.memory, (input) =>
        input.pipe(Stream.mapArray((chunks) => {
          for (const chunk of chunks) serverRead += chunk.byteLength
          return chunks
        })))
      const duplex = yield* Client.connect(server.dial, { address: "test" })
      let written = 0
      const chunk = new Uint8Array(chunkSize).fill(7)
      const writer = yield* Effect.forkChild(Effect.gen(function*() {
        while (written < total) {
          yield* duplex.write([chunk])
          written += chunkSize
        }
        yield* duplex.end
      }))

      assert.isTrue(yield* settle(() => written), "the client's writes stalled")
      // What the server may hold: the outbound queue (in chunks), the stream
      // buffers between reader and queue, and one high-water mark per direction.
      const bound = (Config.outboundQueueChunks + 8) * chunkSize + 2 * TestkitConfig.highWaterMark
      assert.isBelow(written, total, "the client could not write everything")
      assert.isAtMost(serverRead, bound, `the server read ${serverRead} bytes, bound ${bound}`)
      assert.isAtMost(written, bound + TestkitConfig.highWaterMark + chunkSize)

      // Reading releases everything, in order and complete.
      const echoed = yield* Stream.runFold(duplex.input, () => 0, (n, bytes) => n + bytes.byteLength)
      yield* Fiber.join(writer)
      assert.strictEqual(echoed, total)
      yield* server.server.awaitIdle
      assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["PeerClosed"])
      yield* server.assertNoLeaks
    }))
})
