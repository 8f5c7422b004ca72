import { assert, describe, it } from "@effect/vitest"
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Socket from "effect/socket/Socket"
import { TestClock } from "effect/testing"
import * as Bytes from "../src/Bytes.ts"
import * as Faults from "../src/Faults.ts"
import * as MemorySocket from "../src/MemorySocket.ts"
import { describeError, readExactly, readToEnd } from "./support/sockets.ts"

// Both ends of a memory connection, with readers and writers open.
const connected = (options?: {
  readonly client?: (socket: Socket.Socket) => Socket.Socket
  readonly server?: (socket: Socket.Socket) => Socket.Socket
  readonly highWaterMark?: number
}) =>
  Effect.gen(function*() {
    const raw = yield* MemorySocket.pair({ highWaterMark: options?.highWaterMark })
    const open = Effect.fnUntraced(function*(socket: Socket.Socket) {
      const { pull } = yield* socket.reader
      const writer = yield* socket.writer
      return { pull, writer }
    })
    const client = yield* open(options?.client?.(raw.client) ?? raw.client)
    const server = yield* open(options?.server?.(raw.server) ?? raw.server)
    return { client, server, raw }
  })

const texts = (pulls: ReadonlyArray<Uint8Array>) => pulls.map(Bytes.decode)

// Pulls `count` times, returning each pull's bytes.
const pullTimes = Effect.fnUntraced(function*(
  pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array | string>, Socket.SocketError>,
  count: number
) {
  const out: Array<Uint8Array> = []
  for (let i = 0; i < count; i++) out.push(Bytes.concat(yield* pull))
  return out
})

describe("Faults", () => {
  it.effect("rechunk splits large chunks and coalesces chunks that arrived together", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ server: Faults.rechunk([3]) })
      yield* client.writer.write("abcdefgh")
      assert.deepStrictEqual(texts(yield* pullTimes(server.pull, 3)), ["abc", "def", "gh"])
      yield* client.writer.writeAll([Bytes.encode("ij"), Bytes.encode("kl")])
      yield* client.writer.write("m")
      assert.deepStrictEqual(texts(yield* pullTimes(server.pull, 2)), ["ijk", "lm"])
    }))

  it.effect("rechunk cycles through its sizes and ends input after the last byte", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ server: Faults.rechunk([1, 2, 4]) })
      yield* client.writer.write("abcdefghij")
      yield* client.writer.write(new Socket.CloseEvent(1000))
      const { bytes, end, pulls } = yield* readToEnd(server.pull)
      assert.strictEqual(Bytes.decode(bytes), "abcdefghij")
      assert.strictEqual(pulls, 5) // a, bc, defg, h, ij
      assert.strictEqual(end, "close 1000")
    }))

  it.effect("bytewise hands out one byte per pull", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ server: Faults.bytewise })
      const payload = Bytes.pattern(300)
      yield* client.writer.write(payload)
      const pulls = yield* pullTimes(server.pull, 300)
      assert.isTrue(pulls.every((chunk) => chunk.byteLength === 1))
      assert.deepStrictEqual(Bytes.concat(pulls), payload)
    }))

  it.effect("rechunk on the write side sends each piece as its own chunk", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ client: Faults.rechunk([2], { direction: "write" }) })
      yield* client.writer.write("abcde")
      const batch = yield* server.pull
      assert.deepStrictEqual(batch.map((chunk) => typeof chunk === "string" ? chunk : Bytes.decode(chunk)), ["ab", "cd", "e"])
    }))

  it.effect("rechunkRandom keeps every byte, in order, in chunks within its range", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ server: Faults.rechunkRandom({ min: 1, max: 5 }) })
      const payload = Bytes.pattern(500, 7)
      yield* client.writer.write(payload)
      const chunks: Array<Uint8Array> = []
      let got = 0
      while (got < payload.byteLength) {
        const chunk = Bytes.concat(yield* server.pull)
        assert.isTrue(chunk.byteLength >= 1 && chunk.byteLength <= 5)
        chunks.push(chunk)
        got += chunk.byteLength
      }
      assert.deepStrictEqual(Bytes.concat(chunks), payload)
    }).pipe(Random.withSeed("rechunk")))

  it.effect("delay holds each chunk back until the clock moves", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ server: Faults.delay("1 second") })
      yield* client.writer.write("late")
      const pulled = yield* Effect.forkChild(server.pull)
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(pulled.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(Bytes.decode(Bytes.concat(yield* Fiber.join(pulled))), "late")
    }))

  it.effect("delay on the write side starts each write late", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ client: Faults.delay("50 millis", { direction: "write" }) })
      const written = yield* Effect.forkChild(client.writer.write("x"))
      yield* TestClock.adjust("49 millis")
      assert.isUndefined(written.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(written)
      assert.strictEqual(Bytes.decode(Bytes.concat(yield* server.pull)), "x")
    }))

  it.effect("stall keeps the reader from reading until the gate opens; the writer backs up meanwhile", () =>
    Effect.gen(function*() {
      const gate = yield* Latch.make(false)
      const { client, server } = yield* connected({ server: Faults.stall(gate), highWaterMark: 1024 })
      const pulled = yield* Effect.forkChild(readExactly(server.pull, 4096))
      const written = yield* Effect.forkChild(client.writer.write(Bytes.pattern(4096)))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.isUndefined(pulled.pollUnsafe())
      assert.isUndefined(written.pollUnsafe(), "the writer waits on the stalled reader")
      yield* gate.open
      yield* Fiber.join(written)
      assert.deepStrictEqual(yield* Fiber.join(pulled), Bytes.pattern(4096))
    }))

  it.effect("resetAfter (read) lets exactly N bytes through, then resets both ends", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ server: Faults.resetAfter(5) })
      yield* client.writer.write("0123")
      assert.strictEqual(Bytes.decode(Bytes.concat(yield* server.pull)), "0123")
      yield* client.writer.write("456789")
      assert.strictEqual(Bytes.decode(Bytes.concat(yield* server.pull)), "4")
      assert.strictEqual(describeError(yield* Effect.flip(server.pull)), "SocketReadError ECONNRESET")
      assert.strictEqual(describeError(yield* Effect.flip(server.writer.write("x"))), "SocketWriteError EPIPE")
      // The memory peer saw a real reset.
      assert.strictEqual(describeError(yield* Effect.flip(client.pull)), "SocketReadError ECONNRESET")
      assert.strictEqual(describeError(yield* Effect.flip(client.writer.write("x"))), "SocketWriteError EPIPE")
    }))

  it.effect("resetAfter (write) fails the write that crosses N bytes and resets the peer", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ client: Faults.resetAfter(4, { direction: "write" }) })
      yield* client.writer.write("ab")
      assert.strictEqual(Bytes.decode(Bytes.concat(yield* server.pull)), "ab")
      assert.strictEqual(describeError(yield* Effect.flip(client.writer.write("cdef"))), "SocketWriteError EPIPE")
      assert.strictEqual(describeError(yield* Effect.flip(server.pull)), "SocketReadError ECONNRESET")
      assert.strictEqual(describeError(yield* Effect.flip(client.pull)), "SocketReadError ECONNRESET")
    }))

  it.effect("failWrites after N writes fails later writes and leaves reading alone", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ client: Faults.failWrites({ afterWrites: 2 }) })
      yield* client.writer.write("a")
      yield* client.writer.writeAll([Bytes.encode("b"), Bytes.encode("c")])
      const failed = yield* Effect.flip(client.writer.write("d"))
      assert.strictEqual(describeError(failed), "SocketWriteError EPIPE")
      assert.strictEqual(Bytes.decode(yield* readExactly(server.pull, 3)), "abc")
      yield* server.writer.write("still readable")
      assert.strictEqual(Bytes.decode(yield* readExactly(client.pull, 14)), "still readable")
    }))

  it.effect("failWrites after N bytes writes up to N, then fails with the given cause", () =>
    Effect.gen(function*() {
      const cause = new Error("disk on fire")
      const { client, server } = yield* connected({ client: Faults.failWrites({ afterBytes: 5, cause }) })
      yield* client.writer.write("abc")
      const failed = yield* Effect.flip(client.writer.write("defg"))
      assert.strictEqual(failed.reason._tag, "SocketWriteError")
      assert.strictEqual((failed.reason as Socket.SocketWriteError).cause, cause)
      assert.strictEqual(Bytes.decode(yield* readExactly(server.pull, 5)), "abcde")
    }))

  it.effect("wrapping a memory socket keeps its controls", () =>
    Effect.gen(function*() {
      const { client } = yield* MemorySocket.pair()
      const wrapped = Faults.delay("1 millis")(Faults.bytewise(client))
      assert.isTrue(Option.isSome(MemorySocket.controls(wrapped)))
    }))
})
