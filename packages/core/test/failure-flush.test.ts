/**
 * An app that fails after queueing its last words (an error reply) has them
 * written before the connection closes; a peer that does not read cannot
 * hold such a connection open past the flush timeout.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Client from "../src/Client.ts"
import * as ConnectionError from "../src/ConnectionError.ts"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"

const reply = Bytes.encode("* error: bad request\n")
const refusal = ConnectionError.make(new ConnectionError.DecodeFailed({ detail: "bad request" }))

// Waits for the first input chunk, then replies with an error and fails.
const strict = (input: Stream.Stream<Uint8Array, ConnectionError.ConnectionError>) =>
  Stream.unwrap(Effect.map(Stream.runHead(input), () => Stream.concat(Stream.make(reply), Stream.fail(refusal))))

for (const transport of transports) {
  describe(`failure flush over ${transport.name}`, () => {
    it.live("the error reply queued before a failure reaches the peer, then the connection closes", () =>
      Effect.gen(function*() {
        const server = yield* TestTransport.serve(transport, strict)
        const received = yield* Effect.scoped(Effect.gen(function*() {
          const duplex = yield* Client.connect(server.dial, { address: "test" })
          yield* duplex.write([Bytes.encode("hello\n")])
          const chunks = yield* Stream.runCollect(duplex.input).pipe(Effect.orElseSucceed(() => []))
          return Bytes.decode(Bytes.concat(chunks))
        }))
        assert.strictEqual(received, "* error: bad request\n")
        yield* server.server.awaitIdle
        assert.strictEqual(server.exits[0]?.reason._tag, "DecodeFailed")
        yield* server.assertNoLeaks
      }))
  })
}

describe("failure flush over memory (TestClock)", () => {
  it.effect("a peer that does not read holds a failed connection only for the flush timeout", () =>
    Effect.gen(function*() {
      // Ten 64 KiB chunks fit an outbound queue of 1 MiB, so the app reaches
      // its failure while the writer is blocked on the first one (the peer
      // never reads past the memory pipe's 64 KiB high-water mark).
      const flood = new Uint8Array(64 * 1024)
      const server = yield* TestTransport.serve(
        TestTransport.memory,
        (input) =>
          Stream.unwrap(Effect.map(
            Stream.runHead(input),
            () => Stream.concat(Stream.take(Stream.forever(Stream.succeed(flood)), 10), Stream.fail(refusal))
          )),
        { failureFlushTimeout: "1 second", idleTimeout: "1 hour", outboundQueueBytes: 1024 * 1024 }
      )
      yield* Effect.scoped(Effect.gen(function*() {
        const duplex = yield* Client.connect(server.dial, { address: "test" })
        yield* duplex.write([Bytes.encode("go\n")])
        const ended = yield* Effect.forkChild(server.server.awaitIdle)
        yield* TestClock.adjust("999 millis")
        assert.isUndefined(ended.pollUnsafe(), "still flushing before the timeout")
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(ended)
        assert.strictEqual(server.exits[0]?.reason._tag, "DecodeFailed")
      }))
      yield* server.assertNoLeaks
    }))
})
