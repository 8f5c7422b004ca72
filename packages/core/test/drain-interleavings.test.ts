/**
 * A drain concurrent with accepts, under interleavings: clients open
 * connections while one of them shuts the server down (drain, then unbind
 * the listener, as the product's runner does), every delivery, accept and
 * close ordered by a seeded scheduler (`Interleavings`). Whatever the
 * order, every connection is served (its line comes back), drained (told
 * goodbye) or refused (closed at once, or not accepted at all), and none
 * hangs: a run in which a client waits for what never comes is `Hung`.
 */
import { describe, it } from "@effect/vitest"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Interleavings from "@socket-to-me/testkit/Interleavings"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Connection from "../src/Connection.ts"

// CI runs this many; SOCKET_TO_ME_INTERLEAVING_RUNS=5000 runs more by hand.
const runs = 100

// Echoes until the peer ends; says goodbye when the server drains. A
// drain then lasts until its clients end their side, a round trip during
// which others may arrive (and must be refused).
const politeEcho: Connection.Handler = (input, info) =>
  Stream.merge(input, Stream.fromEffect(Effect.as(info.draining, Bytes.encode("bye\n"))), { haltStrategy: "left" })

interface Served extends TestTransport.TestServer {
  /** Drains the server, then unbinds its listener. */
  readonly shutdown: Effect.Effect<void>
}

const serve = (transport: TestTransport.TestTransport) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const server = yield* TestTransport.serve(transport, politeEcho, { shutdownGrace: "1 second" }).pipe(
      Scope.provide(scope)
    )
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const served: Served = { ...server, shutdown: Scope.close(scope, Exit.void) }
    return served
  })

const Action = Schema.Literals(["connect", "shutdown"])
type Action = typeof Action.Type

type Ending = "served" | "drained" | "closed at once" | "refused" | "failed"

interface Session {
  readonly endings: Array<{ readonly ending: Ending; readonly detail: string }>
}

// One connection: send a line, wait for it to come back (or for the
// server's goodbye, or the end), half-close, read to the end.
const attempt = (session: Session, client: Interleavings.ClientContext<Served>) =>
  Effect.scoped(Effect.gen(function*() {
    const opened = yield* Effect.result(Interleavings.lineSession(client))
    if (opened._tag === "Failure") {
      return session.endings.push({ ending: "refused", detail: String(opened.failure) })
    }
    const line = opened.success
    yield* Effect.ignore(line.send("ping"))
    const answer = yield* Effect.result(line.expect((text) => text === "ping" || text === "bye"))
    yield* line.end
    yield* Effect.ignore(line.expect(() => false))
    const ended = line.duplex.stats.peerEnded
    const ending: Ending = answer._tag === "Failure"
      ? (ended ? "closed at once" : "failed")
      : answer.success === "ping"
      ? "served"
      : "drained"
    session.endings.push({ ending, detail: `received ${JSON.stringify(line.lines)}, ended in order: ${ended}` })
  }))

// Every connection ended one of the expected ways, and the server saw each
// it accepted end as served, drained or refused: none was cut off by the
// grace period.
const check = (outcome: Interleavings.Outcome<Served, Action, Session>) =>
  Effect.gen(function*() {
    for (const client of outcome.clients) {
      for (const { detail, ending } of client.session?.endings ?? []) {
        yield* Interleavings.expect(ending !== "failed", `${client.name}'s connection ended badly: ${detail}`)
      }
    }
    const reasons = outcome.server.exits.map((exit) => exit.reason._tag)
    yield* Interleavings.expect(
      reasons.every((reason) => ["Completed", "PeerClosed", "Drained", "Refused"].includes(reason)),
      `connections ended as ${reasons.join(", ")}`
    )
  })

const spec: Interleavings.Spec<Served, Action, Session> = {
  clients: ["ann", "bob", "cat"],
  action: Action,
  maxActions: 3,
  server: serve,
  connect: () => Effect.succeed<Session>({ endings: [] }),
  act: (session, action, client) => action === "shutdown" ? client.server.shutdown : attempt(session, client),
  check
}

describe("drain under interleavings", () => {
  it.effect("a drain concurrent with accepts: every connection is served, drained or refused, none hangs", () =>
    Effect.asVoid(Interleavings.check(spec, { runs })))
})
