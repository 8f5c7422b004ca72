import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
// Core does not depend on the testkit package; its tests reach the memory
// transport by path.
import * as MemorySocket from "@socket-to-me/testkit/MemorySocket"
import * as Connection from "../src/Connection.ts"
import * as ConnectionError from "../src/ConnectionError.ts"
import * as Duplex from "../src/Duplex.ts"

const text = (chunks: Iterable<Uint8Array>): string => {
  const decoder = new TextDecoder()
  let out = ""
  for (const chunk of chunks) out += decoder.decode(chunk, { stream: true })
  return out + decoder.decode()
}

const idleNotice = (after: Duration.Duration) => new TextEncoder().encode(`idle for ${Duration.format(after)}\n`)

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

  it.effect("an app's abort ends its connection at once, though its output is stuck behind a peer that never reads", () =>
    Effect.gen(function*() {
      const { server } = yield* MemorySocket.pair()
      const cutOff = yield* Deferred.make<void>()
      const flood = new Uint8Array(16 * 1024)
      const reasons: Array<Connection.ExitReason> = []
      // Endless output; the peer reads none of it. The app aborts when told.
      const handler: Connection.Handler = (_input, info) =>
        Stream.unwrap(Effect.as(
          Effect.forkScoped(Effect.andThen(
            Deferred.await(cutOff),
            info.abort(new ConnectionError.SlowConsumer({ capacity: 1 }))
          )),
          Stream.forever(Stream.succeed(flood))
        ))
      const fiber = yield* Effect.forkChild(
        Connection.run(server, 1, handler, { onEnd: (_, reason) => Effect.sync(() => reasons.push(reason)) }),
        { startImmediately: true }
      )
      yield* Deferred.succeed(cutOff, undefined)
      yield* Fiber.await(fiber)
      assert.deepStrictEqual(reasons.map((reason) => reason._tag), ["SlowConsumer"])
    }))

  it.effect("an app that aborts as it starts ends with that reason; a second abort changes nothing", () =>
    Effect.gen(function*() {
      const { server } = yield* MemorySocket.pair()
      const handler: Connection.Handler = (_input, info) =>
        Stream.unwrap(Effect.as(
          Effect.andThen(
            info.abort(new ConnectionError.DecodeFailed({ detail: "not this protocol" })),
            info.abort(new ConnectionError.SlowConsumer({ capacity: 1 }))
          ),
          Stream.never
        ))
      const reason = yield* Connection.run(server, 1, handler)
      assert.strictEqual(reason._tag, "DecodeFailed")
    }))

  it.effect("a connection closed for being idle is told so first (idleNotice), and ends with IdleTimeout", () =>
    Effect.gen(function*() {
      const { client, server } = yield* MemorySocket.pair()
      const peer = yield* Duplex.open(client)
      const reasons: Array<Connection.ExitReason> = []
      const fiber = yield* Effect.forkChild(
        Connection.run(server, 1, (input) => input, {
          idleTimeout: "10 seconds",
          idleNotice,
          onEnd: (_, reason) => Effect.sync(() => reasons.push(reason))
        }),
        { startImmediately: true }
      )
      yield* peer.write([new TextEncoder().encode("ping\n")])
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.await(fiber)
      assert.deepStrictEqual(reasons.map((reason) => reason._tag), ["IdleTimeout"])
      assert.strictEqual(text(yield* Stream.runCollect(peer.input)), "ping\nidle for 10s\n")
    }))

  it.effect("the idle notice is not written behind output a peer does not read: the close does not wait for it", () =>
    Effect.gen(function*() {
      const { client, server } = yield* MemorySocket.pair({ highWaterMark: 1024 })
      const reasons: Array<Connection.ExitReason> = []
      const fiber = yield* Effect.forkChild(
        Connection.run(server, 1, () => Stream.concat(Stream.succeed(new Uint8Array(64 * 1024)), Stream.never), {
          idleTimeout: "10 seconds",
          idleNotice,
          onEnd: (_, reason) => Effect.sync(() => reasons.push(reason))
        }),
        { startImmediately: true }
      )
      // Only the idle timeout moves: were the notice written, it would wait
      // on the peer (up to the failure-flush timeout, which never comes).
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.await(fiber)
      assert.deepStrictEqual(reasons.map((reason) => reason._tag), ["IdleTimeout"])
      const received = text(yield* Stream.runCollect((yield* Duplex.open(client)).input))
      assert.notInclude(received, "idle for")
    }))
})
