/**
 * The chat protocol's pieces on their own: command and event line forms
 * (round trips over Schema arbitraries, typed parse failures), the
 * sanitizer and the token bucket.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Flood from "../src/chat/Flood.ts"
import * as Protocol from "../src/chat/Protocol.ts"
import * as Sanitize from "../src/chat/Sanitize.ts"

const failureReason = (line: string) =>
  Effect.map(Effect.flip(Protocol.parseCommand(line)), (error) => [error.reason._tag, error.message] as const)

// Events whose line form is unambiguous (a Notice is the catch-all, so a
// Notice whose text reads like another event decodes as that event).
const SpecificEvent = Protocol.Event.pipe(Schema.check(Schema.makeFilter((event) => event._tag !== "Notice")))

describe("chat protocol", () => {
  it.effect.prop("every command survives its line form: parse(format(command)) = command", [Protocol.Command], ([command]) =>
    Effect.gen(function*() {
      const line = Protocol.formatCommand(command)
      assert.notInclude(line, "\n")
      assert.deepStrictEqual(yield* Protocol.parseCommand(line), command)
      assert.strictEqual(Schema.encodeSync(Protocol.CommandFromLine)(command), line)
    }), { arbitrary: { runs: 500 } })

  it.effect.prop("every event survives its line form: parse(format(event)) = event", [SpecificEvent], ([event]) =>
    Effect.gen(function*() {
      const line = Protocol.formatEvent(event)
      assert.deepStrictEqual(yield* Protocol.parseEvent(line), event)
    }), { arbitrary: { runs: 500 } })

  it.effect.prop("a user's message can never read as a server line", [Protocol.Nickname, Protocol.Text], ([from, text]) =>
    Effect.gen(function*() {
      for (const event of [
        { _tag: "Message", from, text },
        { _tag: "Private", from, text },
        { _tag: "Action", from, action: text }
      ] as const) {
        const line = Protocol.formatEvent(event)
        assert.isFalse(line.startsWith("* "), line)
        assert.strictEqual((yield* Protocol.parseEvent(line))._tag, event._tag)
      }
    }), { arbitrary: { runs: 300 } })

  it.effect("parse failures are typed", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* failureReason("/dance"), ["UnknownCommand", "unknown command /dance (try /help)"])
      assert.deepStrictEqual(yield* failureReason("/msg bob"), ["Usage", "usage: /msg NICK TEXT"])
      assert.deepStrictEqual(yield* failureReason("/me   "), ["Usage", "usage: /me ACTION"])
      assert.deepStrictEqual(yield* failureReason("/join"), ["Usage", "usage: /join ROOM"])
      assert.deepStrictEqual(yield* failureReason("/nick a.b"), [
        "InvalidNickname",
        "invalid nickname: use 1 to 32 letters, digits, _ or -"
      ])
      assert.deepStrictEqual(yield* failureReason("/msg a:b hi"), [
        "InvalidNickname",
        "invalid nickname: use 1 to 32 letters, digits, _ or -"
      ])
      assert.deepStrictEqual(yield* failureReason("/join ../etc"), [
        "InvalidRoom",
        "invalid room name: use 1 to 32 letters, digits, _ or -"
      ])
      assert.deepStrictEqual(yield* failureReason("  "), ["EmptyLine", "nothing to send"])
    }))

  it.effect("a failed parse names the command it was meant to be (undefined for a message)", () =>
    Effect.gen(function*() {
      const command = (line: string) => Effect.map(Effect.flip(Protocol.parseCommand(line)), (error) => error.command)
      assert.strictEqual(yield* command("/DANCE now"), "dance")
      assert.strictEqual(yield* command("/join bad/room"), "join")
      assert.strictEqual(yield* command("/nick a.b"), "nick")
      assert.isUndefined(yield* command("  "))
      assert.isTrue(Protocol.needsNickname("dance"))
      assert.isTrue(Protocol.needsNickname(undefined))
      assert.isFalse(Protocol.needsNickname("nick"))
    }))

  it("docs/protocols/chat.md lists the reply to /help as the server sends it", () => {
    const doc = Fs.readFileSync(new URL("../../../docs/protocols/chat.md", import.meta.url), "utf8")
    const block = /<!-- help:start -->\n```\n([\s\S]*?)\n```\n<!-- help:end -->/.exec(doc)
    assert.isNotNull(block, "the /help block of the protocol doc")
    assert.deepStrictEqual(block![1]!.split("\n"), Protocol.help.map(Protocol.formatEvent))
  })

  it.effect("command names are case-insensitive, rooms are lowercased, // escapes a leading slash", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Protocol.parseCommand("/JOIN #Dev"), { _tag: "Join", room: "dev" })
      assert.deepStrictEqual(yield* Protocol.parseCommand("/Msg bob   hi  there "), { _tag: "Msg", to: "bob", text: "hi  there" })
      assert.deepStrictEqual(yield* Protocol.parseCommand("//shrug"), { _tag: "Say", text: "/shrug" })
      assert.deepStrictEqual(yield* Protocol.parseCommand("/quit see you"), { _tag: "Quit" })
    }))

  it.effect("a line that is no server line does not parse as an event", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Protocol.parseEvent("hello"))
      assert.isTrue(Exit.isFailure(exit))
    }))

  it("the sanitizer strips escape sequences and control characters, keeps text", () => {
    assert.strictEqual(Sanitize.sanitize("plain text, ünïcødé ✓"), "plain text, ünïcødé ✓")
    assert.strictEqual(Sanitize.sanitize("\x1b[2J\x1b[1;31mred\x1b[0m"), "red")
    assert.strictEqual(Sanitize.sanitize("\x1b]0;title\x07after"), "after")
    assert.strictEqual(Sanitize.sanitize("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"), "link")
    assert.strictEqual(Sanitize.sanitize("over\rwrite"), "overwrite")
    assert.strictEqual(Sanitize.sanitize("tab\tbed"), "tab bed")
    assert.strictEqual(Sanitize.sanitize("\u009b2Jc1\u0085"), "c1")
    assert.strictEqual(Sanitize.sanitize("\u202egnp.exe"), "gnp.exe")
    assert.strictEqual(Sanitize.sanitize("\x1b"), "")
  })

  it.prop("sanitized text contains no control characters and sanitizing is idempotent", [Schema.String], ([text]) => {
    const clean = Sanitize.sanitize(text)
    assert.isFalse(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(clean))
    assert.strictEqual(Sanitize.sanitize(clean), clean)
  }, { arbitrary: { runs: 1000 } })

  it("the token bucket allows a burst, then the refill rate", () => {
    const limits: Flood.Limits = { rate: 20, burst: 50 }
    let bucket = Flood.full(limits, 0)
    let allowed = 0
    for (let i = 0; i < 60; i++) {
      const taken = Flood.take(limits, bucket, 0)
      bucket = taken.bucket
      if (taken.allowed) allowed++
    }
    assert.strictEqual(allowed, 50)
    assert.isFalse(Flood.take(limits, bucket, 49).allowed, "1 token takes 50 ms")
    assert.isTrue(Flood.take(limits, bucket, 50).allowed)
    // Refill is capped at the burst.
    const later = Flood.take(limits, bucket, 3_600_000).bucket
    assert.strictEqual(later.tokens, 49)
    // Rate 0: no limit.
    assert.isTrue(Flood.take({ rate: 0, burst: 0 }, Flood.full({ rate: 0, burst: 0 }, 0), 0).allowed)
  })
})
