/**
 * Chapter 6, many orders: three clients run generated scripts of SETs and
 * GETs on one shared key at once, with no barrier between them, under the
 * testkit's seeded scheduler; whatever the order of their bytes, each GET
 * must answer a value some client set, and a client's own writes never go
 * back in time for it; once all are done, they all read the same value.
 */
import { describe, it } from "@effect/vitest"
import { Interleavings, TestTransport } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { kv, makeStore } from "../server.ts"

// #region spec
const spec: Interleavings.Spec<TestTransport.TestServer, "set" | "get", Interleavings.LineSession> = {
  clients: ["ann", "bob", "cat"],
  action: Schema.Literals(["set", "get"]),
  server: (transport) => Effect.flatMap(makeStore, (store) => TestTransport.serve(transport, kv(store))),
  connect: (client) => Interleavings.lineSession(client),
  // Each step sends one command and waits for its reply: a barrier within
  // a client, none between clients. A client's values are its name and how
  // many replies it had, so each is unique and they grow.
  act: (session, action, client) =>
    Effect.andThen(
      session.send(action === "set" ? `SET k ${client.name}-${session.lines.length}` : "GET k"),
      session.expect(() => true)
    ),
  check: (outcome) =>
    Effect.gen(function*() {
      const setBy = new Set(outcome.clients.flatMap((c) => Interleavings.sentLines(c)).filter((l) => l.startsWith("SET ")).map((l) => l.slice(6)))
      for (const client of outcome.clients) {
        const sent = Interleavings.sentLines(client)
        const replies = Interleavings.receivedLines(client)
        let own: string | undefined // the value of this client's last SET
        for (const [i, command] of sent.entries()) {
          const reply = replies[i]
          if (command.startsWith("SET ")) {
            yield* Interleavings.expectEqual(reply, "OK", `${client.name}: ${command}`)
            own = command.slice(6)
          } else if (own === undefined) {
            yield* Interleavings.expect(reply === "(nil)" || setBy.has(reply!), `${client.name}: GET k -> ${reply}, which nobody set`)
          } else {
            yield* Interleavings.expect(reply !== "(nil)", `${client.name}: GET k -> (nil) after its own SET`)
            // Another client's later value may win; an older value of its own may not.
            const mine = reply!.startsWith(`${client.name}-`)
            yield* Interleavings.expect(mine ? reply === own : setBy.has(reply!), `${client.name}: GET k -> ${reply} after SET k ${own}`)
          }
        }
      }
      // Once everyone is done, all of them read the same value: one keyspace.
      const last = yield* Effect.forEach(outcome.clients, (client) =>
        client.session === undefined ? Effect.succeed(undefined) : Effect.andThen(client.session.send("GET k"), client.session.expect(() => true)))
      const read = last.filter((value) => value !== undefined)
      yield* Interleavings.expect(read.every((value) => value === read[0]), `the last GETs disagree: ${read.join(", ")}`)
    })
}
// #endregion spec

// #region property
describe("the key-value server under interleavings", () => {
  it.effect("every GET answers a value someone set, own writes never go back in time, and all end agreeing", () =>
    Effect.asVoid(Interleavings.check(spec, { runs: 100 })))
})
// #endregion property
