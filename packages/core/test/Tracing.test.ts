import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
// Core does not depend on the testkit package; its tests reach the memory
// transport by path.
import * as MemorySocket from "@socket-to-me/testkit/MemorySocket"
import * as Connection from "../src/Connection.ts"
import * as ConnectionError from "../src/ConnectionError.ts"

// A tracer that keeps every span it makes, for the test to read.
const collecting = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

const ended = (span: Tracer.Span) => {
  assert.strictEqual(span.status._tag, "Ended", `${span.name} ended`)
  return span.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>
}

describe("connection spans", () => {
  it.effect("a connection is a root span with its id, server, addresses and exit reason; the app's spans are its children", () =>
    Effect.gen(function*() {
      const { spans, tracer } = collecting()
      const { client, server } = yield* MemorySocket.pair()
      const handler: Connection.Handler = (input) =>
        // A request as the app starts; nothing is sent back.
        Stream.unwrap(Effect.as(Effect.withSpan(Effect.void, "app.request"), Stream.drain(input)))
      const fiber = yield* Effect.forkChild(
        Connection.run(server, 7, handler, { name: "test" }).pipe(Effect.withTracer(tracer)),
        { startImmediately: true }
      )
      yield* Option.getOrThrow(MemorySocket.controls(client)).end
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "PeerClosed")
      const connection = spans.find((span) => span.name === "connection")
      assert.isDefined(connection)
      assert.isTrue(Option.isNone(connection!.parent), "a root span")
      assert.strictEqual(connection!.kind, "server")
      assert.strictEqual(connection!.attributes.get("server"), "test")
      assert.strictEqual(connection!.attributes.get("connection.id"), 7)
      assert.isString(connection!.attributes.get("connection.peer"))
      assert.isString(connection!.attributes.get("connection.local"))
      assert.strictEqual(connection!.attributes.get("connection.reason"), "PeerClosed")
      assert.strictEqual(connection!.attributes.get("connection.detail"), "peer closed: end of stream")
      assert.isTrue(Exit.isSuccess(ended(connection!).exit), "an orderly close is no failure")
      const request = spans.find((span) => span.name === "app.request")
      assert.isDefined(request)
      assert.strictEqual(Option.getOrUndefined(request!.parent), connection)
      ended(request!)
    }))

  it.effect("with no tracer installed, a connection makes no span: its app runs under none", () =>
    Effect.gen(function*() {
      const seen: Array<Option.Option<Tracer.Span>> = []
      const handler: Connection.Handler = (input) =>
        Stream.unwrap(Effect.map(Effect.option(Effect.currentSpan), (span) => (seen.push(span), Stream.drain(input))))
      const { spans, tracer } = collecting()
      for (const traced of [true, false]) {
        const { client, server } = yield* MemorySocket.pair()
        const run = Connection.run(server, 1, handler)
        const fiber = yield* Effect.forkChild(traced ? Effect.withTracer(run, tracer) : run, { startImmediately: true })
        yield* Option.getOrThrow(MemorySocket.controls(client)).end
        yield* Fiber.join(fiber)
      }
      assert.lengthOf(seen, 2)
      assert.strictEqual(Option.getOrUndefined(seen[0]!), spans[0], "under the connection's span when traced")
      assert.isTrue(Option.isNone(seen[1]!), "under none without a tracer")
    }))

  it.effect("a connection that ends with a failure ends its span failed, with the reason's detail", () =>
    Effect.gen(function*() {
      const { spans, tracer } = collecting()
      const { server } = yield* MemorySocket.pair()
      const tooLarge = new ConnectionError.FrameTooLarge({ size: 10, limit: 4 })
      const reason = yield* Connection.run(server, 1, () => Stream.fail(ConnectionError.make(tooLarge))).pipe(
        Effect.withTracer(tracer)
      )
      assert.strictEqual(reason._tag, "FrameTooLarge")
      const connection = spans.find((span) => span.name === "connection")!
      assert.strictEqual(connection.attributes.get("connection.reason"), "FrameTooLarge")
      assert.strictEqual(connection.attributes.get("connection.detail"), tooLarge.message)
      const exit = ended(connection).exit
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(exit, Exit.fail(tooLarge))
    }))
})
