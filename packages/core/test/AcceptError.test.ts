/**
 * The accept loop's side of accept failures: a listener reports them by
 * failing `run`; each report is counted in
 * `socket_to_me_accept_errors_total` by its reason, as many times as its
 * `AcceptError` says it happened, and logged on one warning line with that
 * count; a failure that is not an `AcceptError` counts once as
 * `AcceptFailed`. The back-off runs on the `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as SocketServer from "effect/socket/SocketServer"
import { TestClock } from "effect/testing"
import * as AcceptError from "../src/AcceptError.ts"
import * as Metrics from "../src/Metrics.ts"
import * as Server from "../src/Server.ts"

const failure = (cause: unknown) =>
  new SocketServer.SocketServerError({ reason: new SocketServer.SocketServerUnknownError({ cause }) })

const failures = [
  failure(new AcceptError.AcceptError({
    reason: new AcceptError.DescriptorsExhausted({ code: "EMFILE", cause: new Error("too many open files") }),
    occurrences: 7
  })),
  failure(new AcceptError.AcceptError({ reason: new AcceptError.AcceptFailed({ cause: new Error("boom") }), occurrences: 1 })),
  failure(new Error("untyped"))
]

// A memory listener whose first runs fail with `failures`, one each; each
// call to `run` is offered to `runs` as it starts.
const failingListener = Effect.gen(function*() {
  const listener = yield* TestTransport.memory.listen
  const runs = yield* Queue.unbounded<number>()
  let calls = 0
  const socketServer = SocketServer.SocketServer.of({
    address: listener.socketServer.address,
    run: (handler) =>
      Effect.suspend(() => {
        const call = calls++
        return Effect.andThen(
          Queue.offer(runs, call),
          call < failures.length ? Effect.fail(failures[call]!) : listener.socketServer.run(handler)
        )
      })
  })
  return { socketServer, runs }
})

const counted = (reason: string) =>
  Effect.map(
    Metric.value(Metric.withAttributes(Metrics.acceptErrors, { server: "accepting", reason })),
    (state) => Number(state.count)
  )

describe("accept failures", () => {
  it.effect("each report is counted by reason as often as it happened, and logged once with that count", () => {
    const warnings: Array<string> = []
    const logger = Logger.make<unknown, void>(({ logLevel, message }) => {
      if (logLevel === "Warn") warnings.push((Array.isArray(message) ? message : [message]).join(" "))
    })
    return Effect.gen(function*() {
      const { runs, socketServer } = yield* failingListener
      yield* Server.make((input) => input, { name: "accepting" }).pipe(
        Effect.provideService(SocketServer.SocketServer, socketServer)
      )
      assert.strictEqual(yield* Queue.take(runs), 0)
      // Each failure is followed by the back-off (10, 20, 40 ms) and a new run.
      for (const [run, delay] of [[1, 10], [2, 20], [3, 40]] as const) {
        yield* TestClock.adjust(delay)
        assert.strictEqual(yield* Queue.take(runs), run)
      }
      assert.deepStrictEqual(
        { exhausted: yield* counted("DescriptorsExhausted"), failed: yield* counted("AcceptFailed") },
        { exhausted: 7, failed: 2 }
      )
      assert.deepStrictEqual(warnings, [
        "accept failed, retrying out of file descriptors (EMFILE), 7 times since the last report",
        "accept failed, retrying accept failed: boom, 1 time since the last report",
        "accept failed, retrying untyped"
      ])
    }).pipe(
      Effect.scoped,
      Effect.provideService(Metric.MetricRegistry, new Map()),
      Effect.provideService(Logger.CurrentLoggers, new Set([logger]))
    )
  })
})
