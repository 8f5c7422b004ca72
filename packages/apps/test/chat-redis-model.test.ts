/**
 * The chat's model-based property test over three servers sharing one chat
 * through a real `redis-server` (see support/ChatModel.ts): clients are
 * spread over the servers, and every connection's whole transcript must
 * equal what the one-server model predicts. So a room spans the servers,
 * `/who`, `/rooms` and `/msg` see every server's members, nicknames are
 * unique across them, and per sender lines arrive in order, each once.
 * A failing script shrinks to a short one, printed as a transcript.
 *
 * Each run gets a fresh Redis (no persistence) and fresh servers. Skipped,
 * with the reason, when `redis-server` is not installed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as RedisServer from "@socket-to-me/testkit/RedisServer"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as ChatModel from "./support/ChatModel.ts"
import * as ChatServer from "./support/ChatServer.ts"
import * as Redis from "./support/Redis.ts"

const servers = 3
const name = "every connection, whichever server it is on, receives exactly what the one-server model says"

describe("chat model over three servers on one Redis", () => {
  if (!RedisServer.available) return Redis.skip(name)
  it.live.prop(
    name,
    [ChatModel.Script],
    ([script]) =>
      Effect.scoped(Effect.gen(function*() {
        const redis = yield* RedisServer.start
        const cluster = yield* Effect.forEach(
          Array.from({ length: servers }),
          () =>
            ChatModel.served((options) =>
              ChatServer.serveOnRedis(TestTransport.memory, { url: redis.url }, { rateLimit: 0 }, options)
            )
        )
        const result = yield* ChatModel.runScript(cluster, script)
        for (const { actual, expected, message } of ChatModel.transcripts(script, result)) {
          assert.deepStrictEqual(actual, expected, message)
        }
      })),
    { timeout: 240_000, arbitrary: { runs: 25 } }
  )
})
