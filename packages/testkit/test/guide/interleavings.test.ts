// The interleavings example of docs/testing.md, verbatim from the first
// import on (docs.test.ts checks that it is): run with the rest of the suite.
import { describe, it } from "@effect/vitest"
import { Framing, LineCodec } from "@socket-to-me/core"
import { Interleavings, TestTransport } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

// The server under test: one counter shared by every connection; each line
// adds one and is answered with the new value.
const counter = Effect.map(Ref.make(0), (count) =>
  Framing.handler(LineCodec.lines, (lines) =>
    Stream.mapEffect(lines, () => Effect.map(Ref.updateAndGet(count, (n) => n + 1), String))))

const spec: Interleavings.Spec<TestTransport.TestServer, "inc", Interleavings.LineSession> = {
  clients: ["ann", "bob", "cat"],
  action: Schema.Literal("inc"),
  server: (transport) => Effect.flatMap(counter, (handler) => TestTransport.serve(transport, handler)),
  connect: (client) => Interleavings.lineSession(client),
  // Each step sends a line and waits for its answer: a barrier within one
  // client, none between clients.
  act: (session) => Effect.andThen(session.send("inc"), session.expect(() => true)),
  // Whatever the order: no increment is lost or counted twice, and each
  // client sees its own answers go up.
  check: (outcome) =>
    Effect.gen(function*() {
      const answers = outcome.clients.map((client) => Interleavings.receivedLines(client).map(Number))
      const all = answers.flat().sort((a, b) => a - b)
      yield* Interleavings.expectEqual(all, all.map((_, i) => i + 1), "the answers")
      for (const mine of answers) {
        yield* Interleavings.expect(mine.every((n, i) => i === 0 || n > mine[i - 1]!), `answers ${mine.join(", ")}`)
      }
    })
}

describe("a shared counter under interleavings", () => {
  it.effect("no increment is lost, whatever the order", () => Effect.asVoid(Interleavings.check(spec, { runs: 50 })))

  it.effect("one input, run again exactly", () =>
    Interleavings.replay(spec, { scripts: [["inc", "inc"], ["inc"]], schedule: { seed: 42, choices: [] } }))
})
