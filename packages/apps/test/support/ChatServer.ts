/**
 * A chat server for tests: a chat room (actor) and the chat handler served
 * on a test transport, both in the test's scope (the server drains before
 * the room stops).
 */
import type * as Server from "@socket-to-me/core/Server"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as References from "effect/References"
import * as Chat from "../../src/chat/Chat.ts"
import type * as ChatBus from "../../src/chat/ChatBus.ts"
import * as ChatRoom from "../../src/chat/ChatRoom.ts"
import * as RedisBus from "../../src/chat/RedisBus.ts"

export interface ChatTestServer extends TestTransport.TestServer {
  readonly room: ChatRoom.ChatRoom["Service"]
}

export const serve = Effect.fnUntraced(function*(
  transport: TestTransport.TestTransport,
  options: Chat.Options = {},
  serverOptions: Server.Options = {},
  bus?: ChatBus.Bus
) {
  const room = yield* ChatRoom.make({ bus })
  const server = yield* TestTransport.serve(transport, Chat.handler(options), {
    ...Chat.serverOptions,
    ...serverOptions
  }).pipe(
    Effect.provideService(ChatRoom.ChatRoom, room),
    // Every connection logs its end at Info; the tests read exit reasons
    // from `exits` instead, and keep warnings (failures) visible.
    Effect.provideService(References.MinimumLogLevel, "Warn")
  )
  const chat: ChatTestServer = { ...server, room }
  return chat
})

/** Exit reason tags of ended connections. */
export const exitTags = (server: TestTransport.TestServer): ReadonlyArray<string> =>
  server.exits.map((exit) => exit.reason._tag)

/** Waits (up to 5 s) until at least `count` connections have ended and been recorded. */
export const awaitExits = (server: TestTransport.TestServer, count: number) =>
  Effect.suspend(() => server.exits.length >= count ? Effect.void : Effect.fail(server.exits.length)).pipe(
    Effect.retry({ schedule: Schedule.spaced("5 millis"), times: 1000 }),
    Effect.orDie
  )

/**
 * A chat server sharing its chat through the Redis at `url` (its own bus
 * link, as a separate process would have), with warnings of the link kept
 * visible.
 */
export const serveOnRedis = Effect.fnUntraced(function*(
  transport: TestTransport.TestTransport,
  redis: RedisBus.Options,
  options: Chat.Options = {},
  serverOptions: Server.Options = {}
) {
  const bus = yield* Effect.orDie(RedisBus.make(redis))
  return yield* serve(transport, options, serverOptions, bus)
})
