import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
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
