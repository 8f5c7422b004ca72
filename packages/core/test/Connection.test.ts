import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { TestClock } from "effect/testing"
// Core does not depend on the testkit package; its tests reach the memory
// transport by path.
import * as MemorySocket from "@socket-to-me/testkit/MemorySocket"
import * as Connection from "../src/Connection.ts"

describe("Connection.run", () => {
  it.effect("without a server's sweeper, a connection keeps its own idle timeout", () =>
    Effect.gen(function*() {
      const { server } = yield* MemorySocket.pair()
      const reasons: Array<Connection.ExitReason> = []
      const fiber = yield* Effect.forkChild(
        Connection.run(server, 1, (input) => input, {
          idleTimeout: "10 seconds",
          onEnd: (_, reason) => Effect.sync(() => reasons.push(reason))
        }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("9999 millis")
      assert.deepStrictEqual(reasons, [])
      yield* TestClock.adjust("1 millis")
      yield* Fiber.await(fiber)
      assert.strictEqual(reasons.length, 1)
      assert.strictEqual(reasons[0]!._tag, "IdleTimeout")
      assert.deepInclude(reasons[0], { after: Duration.seconds(10) })
    }))

  it.effect("a connection whose peer ends in order returns PeerClosed", () =>
    Effect.gen(function*() {
      const { client, server } = yield* MemorySocket.pair()
      const fiber = yield* Effect.forkChild(Connection.run(server, 1, (input) => input), { startImmediately: true })
      yield* Option.getOrThrow(MemorySocket.controls(client)).end
      const reason = yield* Fiber.join(fiber)
      assert.strictEqual(reason._tag, "PeerClosed")
    }))
})
