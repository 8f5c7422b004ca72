/**
 * The chat under interleavings: clients run their scripts concurrently,
 * with no barrier between them, over a memory network whose every delivery,
 * accept and close is ordered by a seeded scheduler (`Interleavings`), and
 * a check over every client's transcript must hold for each order tried.
 *
 * The model test (`chat-model.test.ts`) predicts every line, one step at a
 * time; these properties are weaker but hold in every order: what a client
 * could have known when it acted (the lines it had read) decides what
 * others must receive.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Interleavings from "@socket-to-me/testkit/Interleavings"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import { nickSpec, roomSpec, sayingSpec } from "./support/ChatInterleavings.ts"
import * as ChatServer from "./support/ChatServer.ts"
import * as PlantedChat from "./support/PlantedChat.ts"

// CI runs this many per property; SOCKET_TO_ME_INTERLEAVING_RUNS=5000 runs
// more by hand.
const runs = 100

const realChat = (transport: TestTransport.TestTransport) => ChatServer.serve(transport, { rateLimit: 0 })

describe("chat under interleavings", () => {
  it.effect("finds the planted race", () =>
    Effect.gen(function*() {
      const falsified = yield* Effect.flip(Interleavings.check(sayingSpec(PlantedChat.serve), { runs: 200, seed: 1 }))
      assert.isAtMost(falsified.runs, 200)
      assert.isAtMost(falsified.failure.steps, 6, falsified.message)
      assert.include(falsified.failure.reason, "joined lobby\", but")
    }))

  it.effect("the same property holds for the real chat server", () =>
    Effect.asVoid(Interleavings.check(sayingSpec(realChat), { runs })))

  it.effect("nobody receives a room's message after the notice that they left it", () =>
    Effect.asVoid(Interleavings.check(roomSpec(realChat), { runs })))

  it.effect("nicknames stay unique under concurrent /nick", () =>
    Effect.asVoid(
      Interleavings.check(
        nickSpec(realChat, (server) => Effect.map(server.room.snapshot, (snapshot) => snapshot.nicknames)),
        { runs }
      )
    ))
})
