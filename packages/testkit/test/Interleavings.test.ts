import { assert, describe, it } from "@effect/vitest"
import * as Framing from "@socket-to-me/core/Framing"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Interleavings from "../src/Interleavings.ts"
import * as NetworkScheduler from "../src/NetworkScheduler.ts"
import * as TestTransport from "../src/TestTransport.ts"

// Every client's lines come back to it, in order, whatever the others do.
const echo = Framing.handler(LineCodec.lines, (lines) => lines)
const echoSpec: Interleavings.Spec<TestTransport.TestServer, "a" | "b" | "c", Interleavings.LineSession> = {
  clients: ["ann", "bob", "cat"],
  action: Schema.Literals(["a", "b", "c"]),
  server: (transport) => TestTransport.serve(transport, echo),
  connect: (client) => Interleavings.lineSession(client),
  act: (session, line) => session.send(line),
  check: (outcome) =>
    Effect.forEach(outcome.clients, (client) =>
      Interleavings.expectEqual(Interleavings.receivedLines(client), client.script, `${client.name}'s echo`))
}

// One register shared by every connection: `set V` stores V and answers
// `ok`, `get` answers `= V`. A client that sets and then gets does not
// always read back its own value: another client's set can land between.
const register = Effect.gen(function*() {
  const value = yield* Ref.make("")
  return Framing.handler(LineCodec.lines, (lines) =>
    Stream.mapEffect(lines, (line) =>
      line.startsWith("set ")
        ? Effect.as(Ref.set(value, line.slice(4)), "ok")
        : Effect.map(Ref.get(value), (v) => `= ${v}`)))
})

const Action = Schema.TaggedUnion({ Set: {}, Get: {} })
type Action = typeof Action.Type

const readYourWrites: Interleavings.Spec<TestTransport.TestServer, Action, Interleavings.LineSession> = {
  clients: ["ann", "bob", "cat"],
  action: Action,
  server: (transport) => Effect.flatMap(register, (handler) => TestTransport.serve(transport, handler)),
  connect: (client) => Interleavings.lineSession(client),
  act: (session, action, client) =>
    action._tag === "Set"
      ? Effect.andThen(session.send(`set ${client.name}`), session.expect("ok"))
      : Effect.andThen(session.send("get"), session.expect((line) => line.startsWith("= "))),
  // After its first set, every get of a client reads its own name back.
  check: (outcome) =>
    Effect.forEach(outcome.clients, (client) => {
      const lines = Interleavings.receivedLines(client)
      const afterSet = lines.slice(Math.max(0, lines.indexOf("ok")))
      const stale = afterSet.filter((line) => line.startsWith("= ") && line !== `= ${client.name}`)
      return Interleavings.expect(
        lines.indexOf("ok") === -1 || stale.length === 0,
        `${client.name} set its name, then read ${stale.join(", ")}`
      )
    }, { discard: true })
}

const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect)

describe("Interleavings", () => {
  it.effect("a property that holds in every order passes", () =>
    Effect.gen(function*() {
      const passed = yield* Interleavings.check(echoSpec, { runs: 30, seed: 1 })
      assert.strictEqual(passed.runs, 30)
    }))

  it.effect.prop(
    "it.effect.prop runs the same property: arbitrary(spec) gives the inputs, property(spec) one run",
    [Interleavings.arbitrary(echoSpec)],
    ([input]) => Interleavings.property(echoSpec)(input),
    { arbitrary: { runs: 20 } }
  )

  it.effect("a race is found, shrunk to its smallest scripts and schedule, and printed with what replays it", () =>
    Effect.gen(function*() {
      const falsified = yield* failureOf(Interleavings.check(readYourWrites, { runs: 200, seed: 7 }))
      const failure = falsified.failure
      assert.isFalse(failure.hung)
      // The smallest race: one client sets and gets, another sets between;
      // no third client (shrinking alone leaves one that does nothing:
      // removing it moves every later decision; `minimize` removes it).
      const actions = failure.input.scripts.map((script) => script.map((action) => (action as Action)._tag))
      assert.deepStrictEqual(actions.flat().sort(), ["Get", "Set", "Set"])
      assert.strictEqual(failure.input.scripts.length, 2)
      assert.strictEqual(failure.steps, 5)
      // The schedule shrank to explicit choices, seed 0 after them.
      assert.strictEqual(failure.input.schedule.seed, 0)
      const message = falsified.message
      assert.include(message, "property falsified after")
      assert.include(message, "set its name, then read")
      assert.include(message, "Interleavings.replay(spec, ")
      assert.include(message, "data \"set ")
      // The printed input replays the same failing run, event for event.
      const replayed = yield* failureOf(
        Interleavings.replay(readYourWrites, failure.input as Interleavings.Input<Action>)
      )
      assert.strictEqual(replayed.message, failure.message)
      assert.deepStrictEqual(replayed.events, failure.events)
    }))

  it.effect("the same input gives the same run", () =>
    Effect.gen(function*() {
      const input: Interleavings.Input<Action> = {
        scripts: [[{ _tag: "Set" }, { _tag: "Get" }], [{ _tag: "Set" }, { _tag: "Get" }], [{ _tag: "Set" }]],
        schedule: { seed: 12345, choices: [] }
      }
      const first = yield* Effect.exit(Interleavings.replay(readYourWrites, input))
      const second = yield* Effect.exit(Interleavings.replay(readYourWrites, input))
      assert.deepStrictEqual(second, first)
    }))

  it.effect("a client waiting for a line that never comes makes the run hang, and the failure says who waits", () =>
    Effect.gen(function*() {
      // An echo without an idle timeout: nothing will ever end the wait
      // (with one, simulated time would reach it and close the connection).
      const silent: Interleavings.Spec<TestTransport.TestServer, "ask", Interleavings.LineSession> = {
        clients: ["ann"],
        action: Schema.Literal("ask"),
        server: (transport) => TestTransport.serve(transport, echo, { idleTimeout: Duration.infinity }),
        connect: (client) => Interleavings.lineSession(client),
        act: (session) => Effect.andThen(session.send("ask"), session.expect("answer")),
        check: () => Effect.void
      }
      const failure = yield* failureOf(
        Interleavings.replay(silent, { scripts: [["ask"]], schedule: { seed: 3, choices: [] } })
      )
      assert.isTrue(failure.hung, failure.message)
      assert.include(failure.reason, "nothing left to run")
      assert.include(failure.reason, "waiting: ann in step \"ask\"")
    }))

  it("a seeded schedule shrinks to its choices written out, which then shrink towards the oldest event first", () => {
    const seeded = Interleavings.shrinkSchedule({ seed: 99, choices: [] })
    assert.isTrue(seeded.every((schedule) => schedule.seed === 0))
    assert.deepStrictEqual(
      seeded[0]!.choices,
      [0, 1, 2, 3].map((i) => NetworkScheduler.seededChoice(99, i)).slice(0, seeded[0]!.choices.length)
    )
    const explicit = Interleavings.shrinkSchedule({ seed: 0, choices: [3, 0, 5] })
    // Dropping a tail, zeroing, lowering, removing; nothing twice.
    assert.deepStrictEqual(explicit.map((schedule) => schedule.choices), [
      [],
      [3],
      [0, 0, 5],
      [1, 0, 5],
      [3, 0, 1],
      [3, 0, 2],
      [0, 5],
      [3, 5]
    ])
  })
})
