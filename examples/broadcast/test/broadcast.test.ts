/**
 * Chapter 3's broadcast chat over the memory network: a line reaches every
 * other member in the order the room took it; the room forgets a member
 * however its connection ends; a member that stops reading is cut off as a
 * slow consumer while the others carry on.
 */
import { assert, describe, it } from "@effect/vitest"
import { Client, type Connection, LineCodec } from "@socket-to-me/core"
import { Bytes, TestTransport } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { chat, makeRoom, outboxSize } from "../server.ts"

// A room and a server for it; `nextEnd` waits for the next connection to end.
const serve = Effect.gen(function*() {
  const room = yield* makeRoom
  const ended = yield* Queue.unbounded<Connection.ExitReason>()
  const server = yield* TestTransport.serve(TestTransport.memory, chat(room), {
    onEnd: (_info, reason) => Effect.asVoid(Queue.offer(ended, reason))
  })
  return { ...server, nextEnd: Queue.take(ended) }
})

// #region member
// A member's client. A fiber reads its lines into `received`; `until`
// takes them up to one that matches. `who` asks the room who is in and
// returns every line up to the answer: the room handles its messages in
// order, so that is everything the room sent this member until then.
const join = Effect.fnUntraced(function*(server: TestTransport.TestServer) {
  const duplex = yield* Client.connect(server.dial, { address: "memory", retries: 0 })
  const received = yield* Queue.unbounded<string>()
  const reader = yield* Effect.forkScoped(
    Stream.runForEach(LineCodec.lines.decode(duplex.input), (line) => Queue.offer(received, line))
  )
  const send = (...lines: Array<string>) => duplex.write([Bytes.encode(lines.map((line) => `${line}\n`).join(""))])
  const until = Effect.fnUntraced(function*(done: (line: string) => boolean) {
    const lines = [yield* Queue.take(received)]
    while (!done(lines.at(-1)!)) lines.push(yield* Queue.take(received))
    return lines
  })
  const who = Effect.andThen(send("/who"), until((line) => line.startsWith("* here: ")))
  return { duplex, send, until, who, stopReading: Fiber.interrupt(reader) }
})
// #endregion member

describe("chapter 3: a broadcast chat", () => {
  // #region order
  it.effect("a line reaches every other member, in the order the room took it", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const ann = yield* join(server) // connection 1
      yield* ann.who
      const bob = yield* join(server) // 2
      yield* bob.who
      const cat = yield* join(server) // 3
      yield* cat.who
      yield* ann.send("hello, room")
      assert.deepStrictEqual(yield* ann.who, ["* 2 joined", "* 3 joined", "* here: 1, 2, 3"])
      assert.deepStrictEqual(yield* bob.who, ["* 3 joined", "1: hello, room", "* here: 1, 2, 3"])
      assert.deepStrictEqual(yield* cat.who, ["1: hello, room", "* here: 1, 2, 3"])
    }))
  // #endregion order

  it.effect("the room forgets a member however its connection ends: closed or reset", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const ann = yield* join(server)
      yield* ann.who
      const bob = yield* join(server)
      yield* bob.who
      const cat = yield* join(server)
      yield* cat.who
      yield* bob.duplex.end
      assert.strictEqual((yield* server.nextEnd)._tag, "PeerClosed")
      yield* cat.duplex.reset
      assert.strictEqual((yield* server.nextEnd)._tag, "PeerReset")
      assert.deepStrictEqual(yield* ann.who, ["* 2 joined", "* 3 joined", "* 2 left", "* 3 left", "* here: 1"])
    }))

  // #region slow
  it.effect("a member that stops reading is cut off as a slow consumer; the others carry on", () =>
    Effect.gen(function*() {
      const server = yield* serve
      const slow = yield* join(server) // connection 1
      yield* slow.who
      const talker = yield* join(server) // 2
      yield* talker.who
      const reader = yield* join(server) // 3: reads all along
      yield* reader.who
      yield* slow.stopReading // from now on its lines pile up: socket, write stage, outbox
      // The talker sends ten lines at a time, then waits for the room (`who`),
      // until the room says the slow member is gone. The bound (far more
      // than the buffers in between hold) only keeps a failure from running
      // for ever.
      const line = "x".repeat(1000)
      let sent = 0
      let heard: ReadonlyArray<string> = []
      while (!heard.includes("* 1 left")) {
        if (sent === 10_000) return yield* Effect.die(new Error("10,000 lines sent and the slow member was not cut off"))
        yield* talker.send(...Array.from({ length: 10 }, () => line))
        sent += 10
        heard = yield* talker.who
      }
      assert.deepInclude(yield* server.nextEnd, { _tag: "SlowConsumer", capacity: outboxSize })
      assert.strictEqual(yield* server.server.activeConnections, 2, "its connection slot is free")
      assert.strictEqual(heard.at(-1), "* here: 2, 3")
      // The member that kept reading got every line, and was never cut off.
      const got = yield* reader.who
      assert.strictEqual(got.filter((text) => text === `2: ${line}`).length, sent)
      assert.include(got, "* 1 left")
      assert.strictEqual(got.at(-1), "* here: 2, 3")
    }))
  // #endregion slow
})
