import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { TestClock } from "effect/testing"
import type * as Duplex from "../src/Duplex.ts"
import * as IdleSweeper from "../src/IdleSweeper.ts"

const statsAt = (lastActivity: number): Duplex.Stats => ({ bytesIn: 0, bytesOut: 0, peerEnded: false, lastActivity })

describe("IdleSweeper", () => {
  it.effect("ends each connection exactly when it has been silent for the timeout, busy ones later", () =>
    Effect.gen(function*() {
      const sweeper = yield* IdleSweeper.make(Duration.seconds(10))
      const idled: Array<string> = []
      const now = () => Clock.currentTimeMillis
      const quiet = statsAt(yield* now())
      const busy = statsAt(yield* now())
      sweeper.watch({ stats: quiet, onIdle: () => idled.push("quiet") })
      sweeper.watch({ stats: busy, onIdle: () => idled.push("busy") })
      yield* TestClock.adjust("4 seconds")
      busy.lastActivity = yield* now()
      yield* TestClock.adjust("5999 millis")
      assert.deepStrictEqual(idled, [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(idled, ["quiet"])
      // busy was last active at 4 s: idle at 14 s, not before.
      yield* TestClock.adjust("3999 millis")
      assert.deepStrictEqual(idled, ["quiet"])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(idled, ["quiet", "busy"])
    }))

  it.effect("an unwatched connection is never ended; watching again after an empty spell wakes the sweeper", () =>
    Effect.gen(function*() {
      const sweeper = yield* IdleSweeper.make(Duration.seconds(10))
      const idled: Array<string> = []
      const gone = sweeper.watch({ stats: statsAt(yield* Clock.currentTimeMillis), onIdle: () => idled.push("gone") })
      sweeper.unwatch(gone)
      sweeper.unwatch(gone)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(idled, [])
      sweeper.watch({ stats: statsAt(yield* Clock.currentTimeMillis), onIdle: () => idled.push("late") })
      yield* TestClock.adjust("9999 millis")
      assert.deepStrictEqual(idled, [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(idled, ["late"])
    }))

  it.effect("a watch whose activity is older than every other one's still ends on time", () =>
    Effect.gen(function*() {
      const sweeper = yield* IdleSweeper.make(Duration.seconds(10))
      const idled: Array<string> = []
      const start = yield* Clock.currentTimeMillis
      yield* TestClock.adjust("5 seconds")
      sweeper.watch({ stats: statsAt(yield* Clock.currentTimeMillis), onIdle: () => idled.push("recent") })
      // Registered later, but silent since the start: it goes first.
      sweeper.watch({ stats: statsAt(start), onIdle: () => idled.push("old") })
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(idled, ["old"])
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(idled, ["old", "recent"])
    }))
})

// For each of up to 8 connections, up to 6 moments of activity in the first 30 s.
const activity = Schema.Array(
  Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 30_000 }))).check(Schema.isMaxLength(6))
).check(Schema.isMinLength(1), Schema.isMaxLength(8))

describe("IdleSweeper precision", () => {
  it.effect.prop(
    "every connection is ended between T and 1.1 T after its last activity, whatever the activity of the others",
    [activity],
    ([schedules]) =>
      Effect.gen(function*() {
        const timeout = 10_000
        const sweeper = yield* IdleSweeper.make(Duration.millis(timeout))
        const clock = yield* Clock.Clock
        const start = clock.currentTimeMillisUnsafe()
        const watched = schedules.map((times) => ({
          stats: statsAt(start),
          activity: [...times].sort((a, b) => a - b),
          idledAt: undefined as number | undefined
        }))
        for (const entry of watched) {
          sweeper.watch({
            stats: entry.stats,
            onIdle: () => {
              entry.idledAt = clock.currentTimeMillisUnsafe() - start
            }
          })
        }
        // Activity only while a connection is still watched (an ended one is gone).
        for (let at = 0; at <= 30_000 + 2 * timeout; at += 250) {
          for (const entry of watched) {
            if (entry.idledAt === undefined && entry.activity.some((time) => time > at - 250 && time <= at)) {
              entry.stats.lastActivity = start + at
            }
          }
          yield* TestClock.adjust("250 millis")
        }
        for (const entry of watched) {
          assert.isDefined(entry.idledAt)
          const last = entry.stats.lastActivity - start
          assert.isAtLeast(entry.idledAt!, last + timeout)
          assert.isAtMost(entry.idledAt!, last + timeout * 1.1)
        }
      }).pipe(Effect.scoped),
    { arbitrary: { runs: 50 } }
  )
})
