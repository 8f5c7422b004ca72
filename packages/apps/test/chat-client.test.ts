/**
 * The chat client against peers that are not chat servers, and against a
 * chat server that ends the session: it says so, with the reason, instead
 * of hanging or ending as if all were well. Every test body runs over every
 * transport in `transports` (memory network and real TCP).
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Connection from "@socket-to-me/core/Connection"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as ChatClient from "../src/chat/ChatClient.ts"
import * as Echo from "../src/echo/Echo.ts"
import * as ChatServer from "./support/ChatServer.ts"

const login = { address: "test", nick: "ada" }

// A peer that greets like a chat server, answers the first thing it is
// sent with `replies`, then closes without another word.
const greetsThenCloses = (replies: ReadonlyArray<string>): Connection.Handler => (input) =>
  Stream.concat(
    Stream.make(Bytes.encode("* welcome to socket-to-me chat\n")),
    Stream.unwrap(Effect.as(Stream.runHead(input), Stream.make(Bytes.encode(replies.map((line) => `${line}\n`).join("")))))
  )

// Why a session's lines ended: the typed failure, or "ended" if they ended
// normally (after `* bye`).
const endOf = (session: ChatClient.Session) =>
  Stream.runDrain(session.lines).pipe(
    Effect.as("ended" as const),
    Effect.catch((error) => Effect.succeed(error))
  )

for (const transport of transports) {
  describe(`chat client over ${transport.name}`, () => {
    it.live("a peer that sends nothing (echo waits to be spoken to) is not a chat server: the greeting deadline says so", () =>
      Effect.gen(function*() {
        // A real, short deadline: echo never speaks first, so the outcome
        // does not depend on timing, only on the deadline firing at all.
        const echo = yield* TestTransport.serve(transport, Echo.handler)
        const error = yield* Effect.flip(ChatClient.connect(echo.dial, { ...login, greetingTimeout: "200 millis" }))
        assert.strictEqual(error._tag === "LoginError" ? error.reason._tag : error._tag, "NotChat")
        assert.strictEqual(error.message, "test is not a chat server: it sent no greeting within 200ms")
      }))

    it.live("a peer that greets with something else is not a chat server, at once", () =>
      Effect.gen(function*() {
        const ssh = yield* TestTransport.serve(transport, () => Stream.make(Bytes.encode("SSH-2.0-OpenSSH_9.6\x1b[2J\r\n")))
        // The default deadline (5 s) is far away: the first line decides.
        const error = yield* Effect.flip(ChatClient.connect(ssh.dial, login))
        assert.strictEqual(error._tag === "LoginError" ? error.reason._tag : error._tag, "NotChat")
        assert.strictEqual(error.message, "test is not a chat server: it greeted with \"SSH-2.0-OpenSSH_9.6\"")
      }))

    it.live("a refusal in place of the greeting (server full) is reported as such", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport, {}, { maxConnections: 0 })
        const error = yield* Effect.flip(ChatClient.connect(server.dial, login))
        assert.strictEqual(error._tag === "LoginError" ? error.reason._tag : error._tag, "Refused")
        assert.strictEqual(error.message, "server full")
      }))

    it.live("a server that stops: the session ends with its reason, not as if the user had quit", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const session = yield* ChatClient.connect(server.dial, login)
        yield* server.server.drain
        const end = yield* endOf(session)
        assert.strictEqual(end !== "ended" ? end._tag : end, "SessionEnded")
        assert.strictEqual(end !== "ended" ? end.message : end, "the server is shutting down")
      }))

    it.effect("an idle session: the session ends with the server's reason", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport, {}, { idleTimeout: "1 minute" })
        const session = yield* ChatClient.connect(server.dial, login)
        yield* TestClock.adjust("1 minute")
        const end = yield* endOf(session)
        assert.strictEqual(end !== "ended" ? end._tag : end, "SessionEnded")
        assert.strictEqual(end !== "ended" ? end.message : end, "the server closed the connection: idle for 1m")
      }))

    it.live("a server that closes without a word (as it does to a slow consumer): connection closed by server", () =>
      Effect.gen(function*() {
        const peer = yield* TestTransport.serve(transport, greetsThenCloses(["* you are now ada", "* you joined lobby"]))
        const session = yield* ChatClient.connect(peer.dial, login)
        assert.deepStrictEqual(session.transcript, [
          "* welcome to socket-to-me chat",
          "* you are now ada",
          "* you joined lobby"
        ])
        const end = yield* endOf(session)
        assert.strictEqual(end !== "ended" ? end.message : end, "connection closed by server")
      }))

    it.live("/quit: the session ends normally after the server's goodbye; the room is the server's name for it", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const session = yield* ChatClient.connect(server.dial, { ...login, room: "#Dev" })
        assert.deepStrictEqual([session.nick, session.room], ["ada", "dev"])
        yield* session.quit
        assert.strictEqual(yield* endOf(session), "ended")
      }))
  })
}
