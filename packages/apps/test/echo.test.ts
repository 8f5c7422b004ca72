/**
 * Echo end to end. Every test body runs over the memory network and over
 * real loopback TCP.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Client from "@socket-to-me/core/Client"
import type * as Duplex from "@socket-to-me/core/Duplex"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Echo from "../src/echo/Echo.ts"
import { every as transports } from "@socket-to-me/testkit/TcpTransport"

const address = "test"

// Sends `payload` in 16 KiB pieces, half-closes, returns all that came back.
const echoOnce = (server: TestTransport.TestServer, payload: Uint8Array) =>
  Effect.scoped(Effect.gen(function*() {
    const duplex = yield* Client.connect(server.dial, { address })
    const pieces = Stream.fromIterable(
      Array.from({ length: Math.ceil(payload.byteLength / 16384) }, (_, i) => payload.subarray(i * 16384, (i + 1) * 16384))
    )
    return Bytes.concat(yield* Stream.runCollect(Client.exchange(duplex, pieces)))
  }))

// Reads from a pull until `size` bytes arrived.
const readExactly = Effect.fnUntraced(function*(duplex: Duplex.Duplex, size: number) {
  const pull = yield* Stream.toPull(duplex.input)
  const chunks: Array<Uint8Array> = []
  let got = 0
  while (got < size) {
    for (const chunk of yield* pull) {
      chunks.push(chunk)
      got += chunk.byteLength
    }
  }
  return { bytes: Bytes.concat(chunks), pull }
})

for (const transport of transports) {
  describe(`echo over ${transport.name}`, () => {
    it.live("200 concurrent clients each echo 64 KiB of random bytes intact", () =>
      Effect.gen(function*() {
        const server = yield* TestTransport.serve(transport, Echo.handler)
        const payloads = Array.from({ length: 200 }, () => Bytes.random(64 * 1024))
        const replies = yield* Effect.forEach(payloads, (payload) => echoOnce(server, payload), {
          concurrency: "unbounded"
        })
        replies.forEach((reply, i) => assert.isTrue(Bytes.equals(reply, payloads[i]!), `client ${i} got its bytes back`))
        yield* server.server.awaitIdle
        assert.strictEqual(server.exits.length, 200)
        assert.deepStrictEqual(new Set(server.exits.map((exit) => exit.reason._tag)), new Set(["PeerClosed"]))
      }))

    it.live("a defect in one connection's handler closes only that connection", () =>
      Effect.gen(function*() {
        const boom = Bytes.encode("boom")
        const server = yield* TestTransport.serve(transport, (input) =>
          input.pipe(Stream.map((chunk) => {
            if (Bytes.equals(chunk.subarray(0, 4), boom)) throw new Error("handler defect")
            return chunk
          })))
        const healthy = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), () => Client.connect(server.dial, { address }))
        // Every healthy connection is mid-conversation when the defect happens.
        const first = Bytes.encode("first part")
        const pulls = yield* Effect.forEach(healthy, (duplex) =>
          Effect.andThen(duplex.write([first]), readExactly(duplex, first.byteLength)))
        pulls.forEach(({ bytes }) => assert.isTrue(Bytes.equals(bytes, first)))

        yield* Effect.scoped(Effect.gen(function*() {
          const bad = yield* Client.connect(server.dial, { address })
          yield* bad.write([boom])
          // The server closes the failed connection: its input ends or resets.
          yield* Stream.runDrain(bad.input).pipe(Effect.ignore)
        }))

        const second = Bytes.encode("second part")
        yield* Effect.forEach(healthy, (duplex, i) =>
          Effect.gen(function*() {
            yield* duplex.write([second])
            yield* duplex.end
            const rest: Array<Uint8Array> = []
            const pull = pulls[i]!.pull
            yield* pull.pipe(Effect.tap((chunks) => Effect.sync(() => rest.push(...chunks))), Effect.forever, Effect.catchCause(() => Effect.void))
            assert.isTrue(Bytes.equals(Bytes.concat(rest), second), `healthy client ${i} carried on`)
          }))
        yield* Effect.forEach(healthy, (duplex) => duplex.reset)
        yield* server.server.awaitIdle
        const failed = server.exits.filter((exit) => exit.reason._tag === "HandlerFailed")
        assert.strictEqual(failed.length, 1)
        assert.strictEqual(server.exits.length, 11)
      }))

    it.live("a peer reset mid-stream ends the connection with a typed reason", () =>
      Effect.gen(function*() {
        const server = yield* TestTransport.serve(transport, Echo.handler)
        yield* Effect.scoped(Effect.gen(function*() {
          const duplex = yield* Client.connect(server.dial, { address })
          yield* duplex.write([Bytes.random(1024)])
          // The server has echoed (so it is mid-stream) when we reset.
          yield* readExactly(duplex, 1)
          yield* duplex.write([Bytes.random(1024)])
          yield* duplex.reset
        }))
        yield* server.server.awaitIdle
        assert.strictEqual(server.exits.length, 1)
        assert.strictEqual(server.exits[0]!.reason._tag, "PeerReset")
      }))

    it.live("1,000 connect/disconnect cycles leave no connection, socket or handle behind", () =>
      Effect.gen(function*() {
        const server = yield* TestTransport.serve(transport, Echo.handler)
        const one = new Uint8Array([1])
        yield* Effect.forEach(Array.from({ length: 1000 }, (_, i) => i), () =>
          Effect.map(echoOnce(server, one), (reply) => assert.isTrue(Bytes.equals(reply, one))), { concurrency: 10 })
        yield* server.server.awaitIdle
        assert.strictEqual(yield* server.server.activeConnections, 0)
        assert.strictEqual(server.exits.length, 1000)
        yield* server.assertNoLeaks
      }))
  })
}
