/**
 * Chat under load: a client that never reads while others talk at full
 * speed, and clients vanishing mid-broadcast. Every test body runs over every
 * transport in `transports`. Flood control is off (`rateLimit: 0`): these
 * tests are about the outbound side.
 *
 * The talking clients pace themselves with a window: a client sends its
 * message i only once it has received message i - window from every other
 * talker. So at most 2 x window messages per sender are ever in flight to a
 * talker, far below its outbox's 256, and no talker can be cut off as a slow
 * consumer however the scheduler interleaves them. Nothing waits on time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as ChatConfig from "../src/chat/ChatConfig.ts"
import * as Peer from "./support/ChatPeer.ts"
import * as ChatServer from "./support/ChatServer.ts"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"

interface Talker {
  readonly name: string
  readonly peer: Peer.Peer
}

const messageLine = /^<([\w-]+)> m (\d+) /

// Message indices received from each sender, in arrival order.
const indicesBySender = (lines: ReadonlyArray<string>): Map<string, Array<number>> => {
  const out = new Map<string, Array<number>>()
  for (const line of lines) {
    const m = messageLine.exec(line)
    if (m === null) continue
    const list = out.get(m[1]!) ?? []
    list.push(Number(m[2]))
    out.set(m[1]!, list)
  }
  return out
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

// Every talker sends `count` messages of about `padding` bytes under the
// window described above, then reads until it has every other talker's
// messages. `onSent` runs after each send.
const exchange = (
  talkers: ReadonlyArray<Talker>,
  options: {
    readonly count: number
    readonly window: number
    readonly padding: number
    readonly onSent?: (talker: number, i: number) => Effect.Effect<void>
  }
) =>
  Effect.forEach(talkers, (self, index) =>
    Effect.gen(function*() {
      const others = talkers.filter((t) => t !== self).map((t) => t.name)
      const received = new Map(others.map((name) => [name, 0]))
      const lowest = () => Math.min(...others.map((name) => received.get(name)!))
      const readMore = Effect.gen(function*() {
        const lines = yield* self.peer.readBatch
        if (lines.length === 0) return yield* Effect.fail(new Error(`${self.name}: the server closed the connection`))
        for (const line of lines) {
          const m = messageLine.exec(line)
          if (m !== null && received.has(m[1]!)) received.set(m[1]!, received.get(m[1]!)! + 1)
        }
      })
      const pad = "x".repeat(options.padding)
      for (let i = 0; i < options.count; i++) {
        while (lowest() < i - options.window) yield* readMore
        yield* self.peer.send(`m ${i} ${pad}`)
        if (options.onSent !== undefined) yield* options.onSent(index, i)
      }
      while (lowest() < options.count) yield* readMore
    }), { concurrency: "unbounded", discard: true })

for (const transport of transports) {
  describe(`chat under load over ${transport.name}`, () => {
    it.live(
      "a client that never reads while 5 others exchange 2,000 messages each: the 5 get everything, the slow one is cut off (SlowConsumer) with bounded memory",
      (ctx) =>
        Effect.gen(function*() {
          const server = yield* ChatServer.serve(transport, { rateLimit: 0 })
          const slow = yield* Peer.login(server, "slow")
          const talkers = yield* Effect.forEach(range(5), (i) =>
            Effect.map(Peer.login(server, `talker${i}`), (peer): Talker => ({ name: `talker${i}`, peer })))
          const count = 2000
          // ~500 byte lines: 5 MB for the slow client, several times what
          // the socket buffers between it and the server can absorb.
          yield* exchange(talkers, { count, window: 16, padding: 500 })

          for (const talker of talkers) {
            const got = indicesBySender(talker.peer.seen)
            for (const other of talkers) {
              if (other === talker) continue
              assert.deepStrictEqual(got.get(other.name), range(count), `${talker.name} got every message of ${other.name}`)
            }
            assert.include(talker.peer.seen, "* slow disconnected", `${talker.name} was told the slow client left`)
          }
          // The server cut the slow client off without its help: it has not
          // read a byte since its login, yet it is no longer a member.
          const snapshot = yield* server.room.snapshot
          assert.notInclude(snapshot.nicknames, "slow")
          assert.strictEqual(snapshot.nicknames.length, 5)

          // Now it reads: what the server still held for it (its writer's
          // buffer and the socket buffers; the outbox was emptied when it was
          // cut off), then the server closes.
          const end = yield* slow.readToEnd
          const got = indicesBySender(end.lines)
          let total = 0
          for (const [sender, indices] of got) {
            assert.deepStrictEqual(indices, range(indices.length), `the slow client got a prefix of ${sender}'s messages`)
            total += indices.length
          }
          assert.isBelow(total, 5 * count)
          const bytes = end.lines.reduce((n, line) => n + line.length + 1, 0)
          yield* Effect.promise(() =>
            ctx.annotate(`${transport.name}: ${total} of ${5 * count} messages (${bytes} bytes) were in flight to the slow client when it was cut off`)
          )

          yield* Effect.forEach(talkers, (t) => Effect.andThen(t.peer.send("/quit"), t.peer.readToEnd), { discard: true })
          yield* server.server.awaitIdle
          const slowExit = server.exits.find((exit) => exit.reason._tag === "SlowConsumer")
          assert.isDefined(slowExit, `exit reasons: ${ChatServer.exitTags(server).join(", ")}`)
          const reason = slowExit!.reason
          assert.strictEqual(reason._tag === "SlowConsumer" ? reason.capacity : -1, ChatConfig.outboxLines)
          assert.strictEqual(ChatServer.exitTags(server).filter((tag) => tag === "Completed").length, 5)
        }),
      { timeout: 60_000 }
    )

    it.live("20 abrupt disconnects during a broadcast: bystanders lose nothing, and each is announced", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(transport, { rateLimit: 0 })
        // Owned by the test's scope; joined one by one below.
        const droppers = yield* FiberSet.make<void, unknown>()
        const dropperFibers: Array<Fiber.Fiber<void, unknown>> = []
        yield* Effect.scoped(Effect.gen(function*() {
          const bystanders = yield* Effect.forEach(range(5), (i) =>
            Effect.map(Peer.login(server, `bystander${i}`), (peer): Talker => ({ name: `bystander${i}`, peer })))
          // Each dropper joins, says something, and resets its connection
          // (TCP RST) without a word; one starts every 20 messages that
          // bystander0 sends, so all of them happen mid-broadcast.
          const dropper = (k: number) =>
            Effect.scoped(Effect.gen(function*() {
              const peer = yield* Peer.login(server, `dropper${k}`)
              yield* peer.send(`m 0 from dropper${k}`, "/who")
              yield* peer.expect((line) => line.startsWith("* in lobby"))
              yield* peer.duplex.reset
            }))
          const count = 400
          yield* exchange(bystanders, {
            count,
            window: 16,
            padding: 100,
            onSent: (talker, i) =>
              talker === 0 && i % 20 === 0 && i / 20 < 20
                ? Effect.map(FiberSet.run(droppers, dropper(i / 20)), (fiber) => void dropperFibers.push(fiber))
                : Effect.void
          })
          yield* Fiber.joinAll(dropperFibers)

          for (const bystander of bystanders) {
            const got = indicesBySender(bystander.peer.seen)
            for (const other of bystanders) {
              if (other === bystander) continue
              assert.deepStrictEqual(got.get(other.name), range(count), `${bystander.name} got every message of ${other.name}`)
            }
            for (let k = 0; k < 20; k++) {
              const left = `* dropper${k} disconnected`
              if (!bystander.peer.seen.includes(left)) yield* bystander.peer.expect(left)
            }
          }
          const snapshot = yield* server.room.snapshot
          assert.deepStrictEqual(snapshot.nicknames, bystanders.map((b) => b.name))
        }))
        yield* server.server.awaitIdle
        const droppersExits = server.exits.filter((exit) => exit.id > 5)
        assert.strictEqual(droppersExits.length, 20)
        for (const exit of droppersExits) assert.notStrictEqual(exit.reason._tag, "HandlerFailed")
        yield* server.assertNoLeaks
      }), { timeout: 60_000 })
  })
}
