import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import * as Socket from "effect/socket/Socket"
import * as Bytes from "../src/Bytes.ts"
import * as MemoryNetwork from "../src/MemoryNetwork.ts"
import * as NetworkScheduler from "../src/NetworkScheduler.ts"
import { describeError, echo, readToEnd } from "./support/sockets.ts"

// A server that logs every chunk it reads, tagged with its connection, in
// the order it reads them, and acknowledges each; then three clients that
// each send three writes concurrently and read to the end. Which client's
// bytes arrive first is the scheduler's to choose.
const chatter = (scheduler: NetworkScheduler.NetworkScheduler) =>
  Effect.gen(function*() {
    const network = yield* MemoryNetwork.make({ scheduler })
    const server = yield* network.listen
    const log = yield* Ref.make<ReadonlyArray<string>>([])
    yield* Effect.forkScoped(server.run((socket) =>
      Effect.scoped(Effect.gen(function*() {
        const { pull } = yield* socket.reader
        const writer = yield* socket.writer
        let acks = 0
        while (true) {
          const result = yield* Effect.result(pull)
          if (result._tag === "Failure") return
          const text = Bytes.decode(Bytes.concat(result.success))
          yield* Ref.update(log, (lines) => [...lines, text])
          yield* writer.write(`ok ${++acks};`)
        }
      }))
    ))
    const client = (name: string) =>
      Effect.scoped(Effect.gen(function*() {
        const socket = yield* network.dial
        const { pull } = yield* socket.reader
        yield* Effect.scoped(Effect.gen(function*() {
          const writer = yield* socket.writer
          for (const n of [1, 2, 3]) yield* writer.write(`${name}${n};`)
        }))
        return Bytes.decode((yield* readToEnd(pull)).bytes)
      })).pipe(Effect.provideService(MemoryNetwork.PeerName, name))
    const replies = yield* Effect.all([client("ann"), client("bob"), client("cat")], { concurrency: "unbounded" })
    return { log: yield* Ref.get(log), replies }
  })

const runChatter = (options: NetworkScheduler.Options) => NetworkScheduler.run(chatter, options)

// What two runs must agree on to be the same run: every event, with its
// bytes, and what the body returned.
const fingerprint = <A, E>(run: NetworkScheduler.Run<A, E>) => ({
  events: run.events.map((entry) => ({ ...entry, event: entry.event })),
  exit: run.exit,
  decisions: run.decisions
})

describe("NetworkScheduler", () => {
  it.effect("the same seed gives the same run, event for event and byte for byte", () =>
    Effect.gen(function*() {
      for (const seed of [1, 2, 3, 42, 1_000_003]) {
        const first = yield* runChatter({ seed })
        const second = yield* runChatter({ seed })
        assert.isTrue(Exit.isSuccess(first.exit))
        assert.deepStrictEqual(fingerprint(second), fingerprint(first), `seed ${seed}`)
      }
    }))

  it.effect("different seeds explore different orders of the same clients", () =>
    Effect.gen(function*() {
      const logs = new Set<string>()
      const transcripts = new Set<string>()
      for (let seed = 1; seed <= 30; seed++) {
        const run = yield* runChatter({ seed })
        assert.isTrue(Exit.isSuccess(run.exit))
        if (Exit.isSuccess(run.exit)) logs.add(run.exit.value.log.join(" "))
        transcripts.add(NetworkScheduler.formatEvents(run.events))
      }
      // 9 writes from 3 clients: many orders are possible, and 30 seeds
      // see more than a few of them.
      assert.isAbove(logs.size, 5, [...logs].join("\n"))
      assert.isAbove(transcripts.size, 10)
    }))

  it.effect("a run reports its seed, and that seed, or its decisions, replay it exactly", () =>
    Effect.gen(function*() {
      const run = yield* runChatter({})
      assert.isAbove(run.seed, 0)
      assert.isAbove(run.decisions.length, 0)
      const bySeed = yield* runChatter({ seed: run.seed })
      const byDecisions = yield* runChatter({ seed: 0, choices: run.decisions })
      assert.deepStrictEqual(fingerprint(bySeed), fingerprint(run))
      assert.deepStrictEqual(fingerprint(byDecisions).events, fingerprint(run).events)
      assert.deepStrictEqual(byDecisions.exit, run.exit)
    }))

  it.effect("seed 0 takes the oldest ready channel every time", () =>
    Effect.gen(function*() {
      const run = yield* runChatter({ seed: 0 })
      assert.isTrue(run.events.every((entry) => entry.chose === 0))
      assert.isTrue(run.events.some((entry) => entry.options > 1))
    }))

  it.effect("deliveries, ends, closes, resets and accepts are each an event, in order on their channel", () =>
    Effect.gen(function*() {
      const run = yield* NetworkScheduler.run((scheduler) =>
        Effect.gen(function*() {
          const network = yield* MemoryNetwork.make({ scheduler })
          const server = yield* network.listen
          yield* Effect.forkScoped(server.run(echo))
          // ann writes, half-closes and reads the echo to its end; bob
          // writes and resets.
          const ann = Effect.scoped(Effect.gen(function*() {
            const socket = yield* network.dial
            const { pull } = yield* socket.reader
            yield* Effect.scoped(Effect.flatMap(socket.writer, (writer) => writer.write("hello")))
            return yield* readToEnd(pull)
          })).pipe(Effect.provideService(MemoryNetwork.PeerName, "ann"))
          const bob = Effect.scoped(Effect.gen(function*() {
            const controlled = yield* network.dialControlled
            yield* controlled.socket.reader
            const writer = yield* controlled.socket.writer
            yield* writer.write("bye")
            yield* controlled.reset
          })).pipe(Effect.provideService(MemoryNetwork.PeerName, "bob"))
          const [reply] = yield* Effect.all([ann, bob], { concurrency: "unbounded" })
          return reply
        }), { seed: 5 })
      assert.isTrue(Exit.isSuccess(run.exit))
      if (Exit.isSuccess(run.exit)) {
        assert.strictEqual(Bytes.decode(run.exit.value.bytes), "hello")
        assert.strictEqual(run.exit.value.end, "close 1000")
      }
      const on = (channel: string) => run.events.filter((entry) => entry.channel === channel).map((e) => e.event._tag)
      assert.deepStrictEqual(on("accept"), ["Accept", "Accept"])
      assert.deepStrictEqual(on("ann→server #0").slice(0, 2), ["Data", "End"])
      assert.deepStrictEqual(on("server→ann #0").slice(0, 2), ["Data", "End"])
      assert.deepStrictEqual(on("bob→server #1"), ["Data", "Reset"])
    }))

  it.effect("a dial is refused at once when the backlog, with the accepts on their way, is full", () =>
    NetworkScheduler.explore((scheduler) =>
      Effect.gen(function*() {
        const network = yield* MemoryNetwork.make({ scheduler, backlog: 2 })
        yield* network.listen
        // Nothing runs the listener, so nothing leaves the backlog.
        yield* network.dialControlled
        yield* network.dialControlled
        const refused = yield* Effect.flip(network.dialControlled)
        assert.strictEqual(describeError(refused), "SocketOpenError ECONNREFUSED")
      }), { seed: 9 }))

  it.effect("time is simulated: it moves only when nothing else can happen, to the next sleep", () =>
    Effect.gen(function*() {
      const run = yield* NetworkScheduler.run((scheduler) =>
        Effect.gen(function*() {
          const network = yield* MemoryNetwork.make({ scheduler })
          const server = yield* network.listen
          // Answers after ten minutes.
          yield* Effect.forkScoped(server.run((socket) =>
            Effect.scoped(Effect.gen(function*() {
              yield* socket.reader
              const writer = yield* socket.writer
              yield* Effect.sleep("10 minutes")
              yield* writer.write("late")
            }))
          ))
          const socket = yield* network.dial
          const { pull } = yield* socket.reader
          const reply = yield* readToEnd(pull)
          return { reply: Bytes.decode(reply.bytes), at: yield* Clock.currentTimeMillis }
        }), { seed: 3 })
      assert.deepStrictEqual(run.exit, Exit.succeed({ reply: "late", at: 600_000 }))
      assert.isTrue(run.events.some((entry) => entry.event._tag === "Timer" && entry.event.at === 600_000))
    }))

  it.effect("a run where everyone waits for what never comes is Hung, not a timeout", () =>
    Effect.gen(function*() {
      const body = (scheduler: NetworkScheduler.NetworkScheduler) =>
        Effect.gen(function*() {
          const network = yield* MemoryNetwork.make({ scheduler })
          const server = yield* network.listen
          // Reads, never answers.
          yield* Effect.forkScoped(server.run((socket) => Effect.scoped(Effect.andThen(socket.reader, Effect.never))))
          const socket = yield* network.dial
          const { pull } = yield* socket.reader
          yield* Effect.scoped(Effect.flatMap(socket.writer, (writer) => writer.write("hello?")))
          return yield* pull
        })
      const run = yield* NetworkScheduler.run(body, { seed: 11 })
      assert.isTrue(Exit.isFailure(run.exit))
      if (Exit.isFailure(run.exit)) {
        const error = Cause.findErrorOption(run.exit.cause)
        assert.strictEqual(error._tag, "Some")
        if (error._tag === "Some") assert.strictEqual((error.value as NetworkScheduler.Hung).reason, "Idle")
      }
      const failed = yield* Effect.flip(NetworkScheduler.explore(body, { seed: 11 }))
      assert.include(failed.message, "seed 11")
      assert.include(failed.message, "nothing left to run")
      assert.include(failed.message, "client→server #0  data \"hello?\"")
    }))

  it.effect("the completions of external work are events: their order is chosen, not raced", () =>
    Effect.gen(function*() {
      // Two operations outside the scheduler, the first slower on the wall
      // clock; what the run sees first depends on the seed alone.
      const body = (scheduler: NetworkScheduler.NetworkScheduler) =>
        Effect.gen(function*() {
          const seen: Array<string> = []
          const work = (name: string, millis: number) =>
            scheduler.external(
              name,
              Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))
            ).pipe(Effect.andThen(Effect.sync(() => seen.push(name))))
          yield* Effect.all([work("slow", 8), work("fast", 1)], { concurrency: "unbounded" })
          return seen.join(" ")
        })
      const orders = new Set<string>()
      for (let seed = 1; seed <= 8; seed++) {
        const first = yield* NetworkScheduler.run(body, { seed })
        const again = yield* NetworkScheduler.run(body, { seed })
        assert.deepStrictEqual(again.exit, first.exit)
        if (Exit.isSuccess(first.exit)) orders.add(first.exit.value)
      }
      assert.deepStrictEqual([...orders].sort(), ["fast slow", "slow fast"])
    }))

  it.effect("a reset travels after the bytes written before it, and the peer's reads then fail with ECONNRESET", () =>
    Effect.gen(function*() {
      const run = yield* NetworkScheduler.run((scheduler) =>
        Effect.gen(function*() {
          const network = yield* MemoryNetwork.make({ scheduler })
          const server = yield* network.listen
          const read = yield* Deferred.make<{ readonly bytes: string; readonly end: string }>()
          yield* Effect.forkScoped(server.run((socket: Socket.Socket) =>
            Effect.scoped(Effect.gen(function*() {
              const { pull } = yield* socket.reader
              const result = yield* readToEnd(pull)
              yield* Deferred.succeed(read, { bytes: Bytes.decode(result.bytes), end: result.end })
            }))
          ))
          const controlled = yield* network.dialControlled
          yield* controlled.socket.reader
          const writer = yield* controlled.socket.writer
          yield* writer.write("abc")
          yield* controlled.reset
          return yield* Deferred.await(read)
        }), { seed: 2 })
      assert.deepStrictEqual(run.exit, Exit.succeed({ bytes: "abc", end: "SocketReadError ECONNRESET" }))
      assert.deepStrictEqual(
        run.events.filter((entry) => entry.channel === "client→server #0").map((entry) => entry.event._tag),
        ["Data", "Reset"]
      )
    }))
})
