/**
 * Model-based property test of the chat on one server (see
 * support/ChatModel.ts for the model and the runner): every connection's
 * whole transcript must equal what the model predicts. A failing script
 * shrinks (steps are removed) to a short one, printed as a transcript.
 * Every test body runs over every transport in `transports`.
 */
import { assert, describe, it } from "@effect/vitest"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"
import * as Effect from "effect/Effect"
import * as ChatModel from "./support/ChatModel.ts"
import * as ChatServer from "./support/ChatServer.ts"

for (const transport of transports) {
  describe(`chat model over ${transport.name}`, () => {
    it.live.prop(
      "every connection receives exactly what the model says: room messages to the room's other members, private messages to their target, announcements to the room",
      [ChatModel.Script],
      ([script]) =>
        Effect.scoped(Effect.gen(function*() {
          const server = yield* ChatModel.served((options) => ChatServer.serve(transport, { rateLimit: 0 }, options))
          const result = yield* ChatModel.runScript([server], script)
          for (const { actual, expected, message } of ChatModel.transcripts(script, result)) {
            assert.deepStrictEqual(actual, expected, message)
          }
        })),
      { timeout: 60_000, arbitrary: { runs: 40 } }
    )
  })
}
