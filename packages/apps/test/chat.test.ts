/**
 * Chat end to end: the protocol as a user of nc sees it. Every test body runs
 * over every transport in `transports` (memory network and real TCP).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as ChatClient from "../src/chat/ChatClient.ts"
import * as Protocol from "../src/chat/Protocol.ts"
import * as Peer from "./support/ChatPeer.ts"
import * as ChatServer from "./support/ChatServer.ts"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"

// Text and raw bytes (invalid UTF-8 on purpose) as one chunk.
const bytes = (...parts: ReadonlyArray<string | ReadonlyArray<number>>): Uint8Array =>
  Bytes.concat(parts.map((part) => typeof part === "string" ? part : Uint8Array.from(part)))

// `/who` is answered by the room after everything the peer sent before it,
// so its reply is a barrier: what the peer sent earlier has been handled.
const barrier = (peer: Peer.Peer) => Effect.andThen(peer.send("/who"), peer.expect((line) => line.startsWith("* in ")))

for (const transport of transports) {
  describe(`chat over ${transport.name}`, () => {
    it.live("greets, asks for a nickname, and delivers a plain line to every other member as <nick> text", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.connect(server)
        yield* alice.expect("* choose a nickname with /nick NAME (type /help for commands)")
        assert.deepStrictEqual(alice.seen, [
          "* welcome to socket-to-me chat",
          "* choose a nickname with /nick NAME (type /help for commands)"
        ])
        yield* alice.send("/nick alice")
        assert.deepStrictEqual(yield* alice.expect("* you joined lobby"), ["* you are now alice", "* you joined lobby"])
        const bob = yield* Peer.login(server, "bob")
        yield* alice.expect("* bob joined lobby")
        const carol = yield* Peer.login(server, "carol")
        yield* alice.expect("* carol joined lobby")
        yield* bob.expect("* carol joined lobby")

        yield* alice.send("hello, world")
        yield* bob.expect("<alice> hello, world")
        yield* carol.expect("<alice> hello, world")
        const aliceLines = yield* barrier(alice)
        assert.deepStrictEqual(aliceLines, ["* in lobby: alice, bob, carol"], "the sender does not get its own line")
      }))

    it.live("lines sent before a nickname is set are refused with an error, not delivered", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const bob = yield* Peer.login(server, "bob")
        const anon = yield* Peer.connect(server)
        yield* anon.send("hi there", "/who", "/join dev", "/msg bob psst")
        for (let i = 0; i < 4; i++) yield* anon.expect("* error: choose a nickname first with /nick NAME")
        // Unknown and malformed commands too, as docs/protocols/chat.md says:
        // the answer does not depend on the arguments.
        yield* anon.send("/dance", "/join bad/room", "/msg bob", "/me", "/JOIN")
        for (let i = 0; i < 5; i++) {
          assert.deepStrictEqual(yield* anon.expect((line) => line.startsWith("* error: ")), [
            "* error: choose a nickname first with /nick NAME"
          ])
        }
        yield* anon.send("/rooms")
        yield* anon.expect("* rooms: lobby (1)")
        // What works without a nickname answers as it does with one.
        yield* anon.send("/help")
        assert.deepStrictEqual(yield* anon.expect(Protocol.formatEvent(Protocol.help.at(-1)!)), Protocol.help.map(Protocol.formatEvent))
        yield* anon.send("/nick bad name")
        yield* anon.expect("* error: invalid nickname: use 1 to 32 letters, digits, _ or -")
        yield* anon.send("/nick anon")
        yield* bob.expect("* anon joined lobby")
        assert.deepStrictEqual(bob.seen.filter((line) => !line.startsWith("* ")), [])
      }))

    it.live("nicknames: 1-32 letters, digits, _ or -, unique case-insensitively; renames are announced", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.connect(server)
        yield* bob.send("/nick ALICE")
        yield* bob.expect("* error: nickname ALICE is taken")
        yield* bob.send("/nick bad name")
        yield* bob.expect("* error: invalid nickname: use 1 to 32 letters, digits, _ or -")
        yield* bob.send(`/nick ${"b".repeat(33)}`)
        yield* bob.expect("* error: invalid nickname: use 1 to 32 letters, digits, _ or -")
        yield* bob.send("/nick bøb")
        yield* bob.expect("* error: invalid nickname: use 1 to 32 letters, digits, _ or -")
        yield* bob.send("/nick You")
        yield* bob.expect("* error: invalid nickname: the nickname you is reserved")
        yield* bob.send("/nick")
        yield* bob.expect("* error: usage: /nick NAME")
        yield* bob.send(`/nick ${"b".repeat(32)}`)
        yield* bob.expect("* you joined lobby")
        yield* alice.expect(`* ${"b".repeat(32)} joined lobby`)

        yield* alice.send("/nick Alice_2-x")
        yield* alice.expect("* you are now Alice_2-x")
        yield* bob.expect("* alice is now Alice_2-x")
        // The old nickname is free again.
        const carol = yield* Peer.connect(server)
        yield* carol.send("/nick alice")
        yield* carol.expect("* you joined lobby")
        yield* bob.expect("* alice joined lobby")
      }))

    it.live("rooms: /join moves you and tells both rooms; messages stay in their room; /who and /rooms", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        const carol = yield* Peer.login(server, "carol")
        yield* bob.send("/join Dev")
        yield* bob.expect("* you joined dev")
        yield* alice.expect("* bob left lobby")
        yield* carol.send("/join #dev")
        yield* carol.expect("* you joined dev")
        yield* bob.expect("* carol joined dev")
        yield* alice.expect("* carol left lobby")
        yield* carol.send("/join dev")
        yield* carol.expect("* you are already in dev")

        yield* bob.send("in dev")
        yield* carol.expect("<bob> in dev")
        yield* alice.send("in lobby")
        yield* barrier(alice)
        yield* barrier(bob)
        assert.isFalse(alice.seen.includes("<bob> in dev"))
        assert.isFalse(bob.seen.includes("<alice> in lobby"))

        yield* bob.send("/who")
        yield* bob.expect("* in dev: bob, carol")
        yield* alice.send("/rooms")
        yield* alice.expect("* rooms: dev (2), lobby (1)")
        yield* bob.send("/join lobby")
        yield* carol.expect("* bob left dev")
        yield* alice.expect("* bob joined lobby")
        yield* alice.send("/join bad/room")
        yield* alice.expect("* error: invalid room name: use 1 to 32 letters, digits, _ or -")
      }))

    it.live("/msg reaches its target only, the sender sees it delivered; /me is an action", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        const carol = yield* Peer.login(server, "carol")
        yield* carol.send("/join elsewhere")
        yield* carol.expect("* you joined elsewhere")
        yield* alice.send("/msg CAROL psst, over here")
        yield* alice.expect("-> *carol* psst, over here")
        yield* carol.expect("*alice* psst, over here")
        yield* alice.send("/msg nobody hello")
        yield* alice.expect("* error: no such user nobody")
        yield* alice.send("/msg carol")
        yield* alice.expect("* error: usage: /msg NICK TEXT")
        yield* alice.send("/me waves")
        yield* bob.expect("** alice waves")
        yield* barrier(bob)
        yield* barrier(alice)
        assert.isFalse(bob.seen.some((line) => line.includes("psst")))
        assert.isFalse(alice.seen.includes("** alice waves"))
      }))

    it.live("/help lists the commands; an unknown command is an error line; // sends a leading slash", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        yield* alice.expect("* bob joined lobby")
        yield* alice.send("/help")
        const help = yield* alice.expect((line) => line.startsWith("* any other line"))
        assert.strictEqual(help[0], "* commands:")
        for (const command of ["/nick", "/join", "/rooms", "/who", "/msg", "/me", "/quit", "/help"]) {
          assert.isTrue(help.some((line) => line.startsWith(`*   ${command} `)), command)
        }
        assert.deepStrictEqual(help, Protocol.help.map(Protocol.formatEvent))
        yield* alice.send("/dance now")
        yield* alice.expect("* error: unknown command /dance (try /help)")
        yield* alice.send("//dance now")
        yield* bob.expect("<alice> /dance now")
      }))

    it.live("/quit: the room is told, the client gets a goodbye line, then the server closes", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        yield* alice.expect("* bob joined lobby")
        yield* alice.send("/quit")
        const end = yield* alice.readToEnd
        assert.deepStrictEqual(end.lines, ["* bye"])
        assert.isFalse(end.failed)
        yield* bob.expect("* alice quit")
        yield* bob.send("/who")
        yield* bob.expect("* in lobby: bob")
        yield* Effect.scoped(Effect.gen(function*() {
          // The nickname is free again.
          yield* Peer.login(server, "alice")
        }))
        assert.include(ChatServer.exitTags(server), "Completed")
      }))

    it.live("a client that closes its side still gets every reply, then the room is told it left", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const bob = yield* Peer.login(server, "bob")
        const alice = yield* Peer.connect(server)
        // What `printf '/nick alice\nhi\n/who\n' | nc -N host 7002` does.
        yield* alice.send("/nick alice", "hi", "/who")
        yield* alice.duplex.end
        const end = yield* alice.readToEnd
        assert.deepStrictEqual(end.lines.slice(-3), ["* you are now alice", "* you joined lobby", "* in lobby: alice, bob"])
        yield* bob.expect("<alice> hi")
        yield* bob.expect("* alice disconnected")
      }))

    it.live("an abrupt disconnect is announced to the room", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        yield* Effect.scoped(Effect.gen(function*() {
          const bob = yield* Peer.login(server, "bob")
          yield* alice.expect("* bob joined lobby")
          yield* bob.duplex.reset
        }))
        yield* alice.expect("* bob disconnected")
      }))

    it.live("a line over 4 KiB gets an error line, then the connection is closed (FrameTooLarge); others carry on", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        yield* alice.expect("* bob joined lobby")
        yield* alice.send("x".repeat(4096))
        yield* bob.expect(`<alice> ${"x".repeat(4096)}`)
        // Exactly one byte over the cap: the server has read everything
        // sent, so its close is an orderly one and the error line arrives.
        yield* alice.sendBytes(bytes("y".repeat(4097)))
        const end = yield* alice.readToEnd
        assert.deepStrictEqual(end.lines, ["* error: line too long (limit 4096 bytes); closing"])
        yield* bob.expect("* alice disconnected")
        yield* bob.send("/who")
        yield* bob.expect("* in lobby: bob")
        assert.include(ChatServer.exitTags(server), "FrameTooLarge")
      }))

    it.live("a line not finished within the frame deadline gets an error line, then the connection is closed", () =>
      Effect.gen(function*() {
        // A real, short deadline: the line never completes, so the outcome
        // does not depend on timing, only on the deadline firing at all.
        const server = yield* ChatServer.serve(transport, { frameDeadline: "200 millis" })
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        yield* alice.expect("* bob joined lobby")
        yield* alice.sendBytes(bytes("a line that never ends"))
        const end = yield* alice.readToEnd
        assert.deepStrictEqual(end.lines, ["* error: line not completed within 200ms; closing"])
        yield* bob.expect("* alice disconnected")
        // Alice's exit is recorded once her connection has closed, which
        // need not come before bob hears she left.
        yield* ChatServer.awaitExits(server, 1)
        assert.include(ChatServer.exitTags(server), "FrameTimeout")
      }))

    it.live("invalid UTF-8 is replaced with U+FFFD, never a crash", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        yield* alice.sendBytes(bytes("caf", [0xc3], " ", [0xff, 0xfe], " ok", [0xe2, 0x82], "\n"))
        yield* bob.expect("<alice> caf\uFFFD \uFFFD\uFFFD ok\uFFFD")
        yield* alice.sendBytes(bytes("/nick ", [0xff], "\n"))
        yield* alice.expect("* error: invalid nickname: use 1 to 32 letters, digits, _ or -")
      }))

    it.live("control characters and terminal escapes are stripped from what others see", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        // Clear screen, set title, bell, CR to overwrite the line, backspace,
        // 8-bit CSI, bidi override, NUL, TAB.
        yield* alice.send("\x1b[2J\x1b[H\x1b]0;pwned\x07hi\r* bob quit\x08!\u009b31m\u202eevil\u0000\tend")
        yield* bob.expect("<alice> hi* bob quit!evil end")
        // A line that is only control characters sends nothing.
        yield* alice.send("\x1b[2J\x07\r")
        yield* alice.send("/me \x1b[31mblushes\x1b[0m")
        yield* bob.expect("** alice blushes")
        yield* alice.send("/nick \x1b[1mbold")
        yield* alice.expect("* you are now bold")
        assert.isFalse(bob.seen.some((line) => /[\u0000-\u001f\u007f-\u009f]/.test(line)))
      }))

    it.effect("flood control: 20 lines/s with a burst of 50; excess lines are dropped with one notice per flood", () =>
      Effect.gen(function*() {
        // TestClock: the bucket refills only when the test moves time.
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        const burst = Array.from({ length: 60 }, (_, i) => `line ${i}`)
        yield* alice.send(...burst)
        const notice = "* error: too many lines (limit 20 per second, burst 50); lines are dropped until you slow down"
        yield* alice.expect(notice)
        // One token went to the login (/nick); 49 lines get through.
        yield* bob.expect("<alice> line 48")
        yield* TestClock.adjust("1 second")
        yield* alice.send("after", ...Array.from({ length: 25 }, (_, i) => `more ${i}`))
        yield* bob.expect("<alice> more 18")
        yield* alice.expect(notice)
        yield* TestClock.adjust("10 seconds")
        yield* alice.send("last")
        yield* bob.expect("<alice> last")
        const messages = bob.seen.filter((line) => line.startsWith("<alice>"))
        assert.deepStrictEqual(messages, [
          ...burst.slice(0, 49).map((line) => `<alice> ${line}`),
          "<alice> after",
          ...Array.from({ length: 19 }, (_, i) => `<alice> more ${i}`),
          "<alice> last"
        ])
        assert.strictEqual(alice.seen.filter((line) => line === notice).length, 2)
      }))

    it.live("--rate-limit 0 turns flood control off", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport, { rateLimit: 0 })
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        yield* alice.send(...Array.from({ length: 200 }, (_, i) => `line ${i}`))
        yield* bob.expect("<alice> line 199")
        assert.strictEqual(bob.seen.filter((line) => line.startsWith("<alice>")).length, 200)
      }))

    it.effect("an idle connection is told why before the server closes it (IdleTimeout)", () =>
      Effect.gen(function*() {
        // TestClock: the connections are idle only when the test moves time.
        const server = yield* ChatServer.serve(transport, {}, { idleTimeout: "1 minute" })
        const alice = yield* Peer.login(server, "alice")
        yield* TestClock.adjust("30 seconds")
        const bob = yield* Peer.login(server, "bob")
        yield* alice.expect("* bob joined lobby")
        // Alice's last traffic was at 30 s (bob's arrival); bob's too.
        yield* TestClock.adjust("1 minute")
        for (const peer of [alice, bob]) {
          const end = yield* peer.readToEnd
          assert.strictEqual(end.lines.at(-1), "* error: idle for 1m; closing")
        }
        // Exits are recorded before a connection's fiber ends.
        yield* server.server.awaitIdle
        assert.deepStrictEqual(ChatServer.exitTags(server), ["IdleTimeout", "IdleTimeout"])
      }))

    it.live("draining the server tells everyone it is shutting down, then closes", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const alice = yield* Peer.login(server, "alice")
        const bob = yield* Peer.login(server, "bob")
        yield* alice.expect("* bob joined lobby")
        const summary = yield* server.server.drain
        assert.deepStrictEqual(summary, { drained: 2, interrupted: 0 })
        for (const peer of [alice, bob]) {
          const end = yield* peer.readToEnd
          assert.strictEqual(end.lines.at(-1), "* server shutting down")
        }
        assert.deepStrictEqual(ChatServer.exitTags(server), ["Drained", "Drained"])
      }))

    it.live("the chat client logs in (nickname, then room), exchanges lines, and ends after the server's goodbye", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport)
        const bob = yield* Peer.login(server, "bob")
        yield* bob.send("/join dev")
        yield* bob.expect("* you joined dev")
        const session = yield* ChatClient.connect(server.dial, { address: "test", nick: "ada", room: "dev" })
        assert.deepStrictEqual(session.transcript.slice(-3), ["* you are now ada", "* you joined lobby", "* you joined dev"])
        const lines = yield* Stream.runCollect(ChatClient.exchange(session, Stream.make("hi bob", "/who")))
        assert.deepStrictEqual(lines, ["* in dev: ada, bob", "* bye"])
        yield* bob.expect("<ada> hi bob")
        yield* bob.expect("* ada quit")

        const taken = yield* Effect.flip(ChatClient.connect(server.dial, { address: "test", nick: "BOB" }))
        assert.strictEqual(taken._tag === "LoginError" ? taken.reason._tag : taken._tag, "Refused")
        assert.strictEqual(taken.message, "nickname BOB is taken")
      }))

    it.live("at the connection limit a new client gets `* error: server full`", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport, {}, { maxConnections: 1 })
        yield* Peer.login(server, "alice")
        const refused = yield* Peer.connect(server)
        const end = yield* refused.readToEnd
        assert.deepStrictEqual(end.lines, ["* error: server full"])
      }))
  })
}
