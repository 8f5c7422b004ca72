/**
 * The accept loop's side of accept failures: a listener reports them by
 * failing `run`; each report is counted in
 * `socket_to_me_accept_errors_total` by its reason, as many times as its
 * `AcceptError` says it happened, and logged on one warning line with that
 * count; a failure that is not an `AcceptError` counts once as
 * `AcceptFailed`. The back-off (10 ms doubling, at most 1 s, from 10 ms
 * again after a run that lasted 1 s) runs on the `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
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

// A memory listener whose first runs fail with `script`'s errors, one each,
// after the run's `after` milliseconds; each call to `run` is offered to
// `runs` as it starts.
const failingListener = (
  script: ReadonlyArray<{ readonly error: SocketServer.SocketServerError; readonly after?: number }>
) => Effect.gen(function*() {
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
          call < script.length
            ? Effect.andThen(Effect.sleep(script[call]!.after ?? 0), Effect.fail(script[call]!.error))
            : listener.socketServer.run(handler)
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
      const { runs, socketServer } = yield* failingListener(failures.map((error) => ({ error })))
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
        "out of file descriptors (EMFILE), 7 times since the last report; accepting again in 10 ms",
        "accept failed: boom, 1 time since the last report; accepting again in 20 ms",
        "accept failed: untyped; accepting again in 40 ms"
      ])
    }).pipe(
      Effect.scoped,
      Effect.provideService(Metric.MetricRegistry, new Map()),
      Effect.provideService(Logger.CurrentLoggers, new Set([logger]))
    )
  })

  it.effect("a run that lasted the cap was a recovery: the next failure pauses 10 ms again", () =>
    Effect.gen(function*() {
      const error = failures[1]!
      const { runs, socketServer } = yield* failingListener([
        { error },
        { error },
        { error },
        { error, after: 1_000 },
        { error }
      ])
      yield* Server.make((input) => input, { name: "accepting" }).pipe(
        Effect.provideService(SocketServer.SocketServer, socketServer)
      )
      assert.strictEqual(yield* Queue.take(runs), 0)
      // 10, 20 and 40 ms after the three quick failures; the fourth run
      // lasts 1 s, so the pause after it is 10 ms again, not 80.
      for (const [run, delay] of [[1, 10], [2, 20], [3, 40], [4, 1_000 + 10]] as const) {
        yield* TestClock.adjust(delay - 1)
        assert.isTrue(Option.isNone(yield* Queue.poll(runs)), `run ${run} started before its pause`)
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(yield* Queue.poll(runs), Option.some(run), `run ${run} did not start after ${delay} ms`)
      }
    }).pipe(
      Effect.scoped,
      Effect.provideService(Metric.MetricRegistry, new Map()),
      Effect.provideService(Logger.CurrentLoggers, new Set())
    ))
})
