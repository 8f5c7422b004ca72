/**
 * Chapter 6, a model-based property test: generated scripts of commands
 * from three clients, and of time passing, run against the real server
 * (memory network, `TestClock`) and against a model of a few lines; every
 * reply must be the one the model predicts. A failing script is shrunk to a
 * short one and printed as a transcript.
 */
import { assert, describe, it } from "@effect/vitest"
import { Client, LineCodec } from "@socket-to-me/core"
import { Bytes, TestTransport } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { kv, makeStore } from "../server.ts"

// #region steps
// A step is a command from one of three clients, on one of three keys, or
// time passing. Few keys and short times, so that steps often meet: a GET
// after a SET of the same key, a wait that crosses an expiry.
const Client3 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2 }))
const Key = Schema.Literals(["a", "b"])
const Step = Schema.TaggedUnion({
  Set: { client: Client3, key: Key, value: Schema.Literals(["1", "2"]), ttl: Schema.Literals([0, 1, 2]) },
  Get: { client: Client3, key: Key },
  Del: { client: Client3, key: Key },
  Wait: { seconds: Schema.Literals([1, 2]) }
})
type Step = typeof Step.Type
const Script = Schema.Array(Step).check(Schema.isBetweenLength(10, 30))

const commandOf = (step: Exclude<Step, { _tag: "Wait" }>): string =>
  step._tag === "Set"
    ? `SET ${step.key} ${step.value}${step.ttl > 0 ? ` ${step.ttl}` : ""}`
    : `${step._tag.toUpperCase()} ${step.key}`
// #endregion steps

// #region model
// The model: what the server must answer, written another way. It keeps
// its own clock and forgets expired keys when time passes (eagerly), where
// the server checks expiry when a key is read (lazily).
class Model {
  private now = 0
  private readonly entries = new Map<string, { value: string; expiresAt: number }>()

  wait(seconds: number) {
    this.now += seconds
    for (const [key, entry] of this.entries) if (entry.expiresAt <= this.now) this.entries.delete(key)
  }

  reply(step: Exclude<Step, { _tag: "Wait" }>): string {
    switch (step._tag) {
      case "Set":
        this.entries.set(step.key, { value: step.value, expiresAt: step.ttl > 0 ? this.now + step.ttl : Infinity })
        return "OK"
      case "Get":
        return this.entries.get(step.key)?.value ?? "(nil)"
      case "Del":
        return this.entries.delete(step.key) ? "1" : "0"
    }
  }
}
// #endregion model

// A client whose `ask` sends one command and waits for its reply line.
const connect = Effect.fnUntraced(function*(server: TestTransport.TestServer) {
  const duplex = yield* Client.connect(server.dial, { address: "memory", retries: 0 })
  const replies = yield* Queue.unbounded<string>()
  yield* Effect.forkScoped(Stream.runForEach(LineCodec.lines.decode(duplex.input), (line) => Queue.offer(replies, line)))
  return (command: string) => Effect.andThen(duplex.write([Bytes.encode(`${command}\n`)]), Queue.take(replies))
})

// #region property
describe("the key-value server against its model", () => {
  it.effect.prop(
    "every reply, to every client, at every time, is the model's",
    [Script],
    ([script]) =>
      Effect.gen(function*() {
        const server = yield* TestTransport.serve(TestTransport.memory, kv(yield* makeStore))
        const clients = yield* Effect.forEach([0, 1, 2], () => connect(server))
        const model = new Model()
        const transcript: Array<string> = []
        for (const step of script) {
          if (step._tag === "Wait") {
            transcript.push(`(${step.seconds}s pass)`)
            model.wait(step.seconds)
            yield* TestClock.adjust(`${step.seconds} seconds`)
            continue
          }
          const command = commandOf(step)
          const expected = model.reply(step)
          const got = yield* clients[step.client]!(command)
          transcript.push(`client ${step.client}: ${command} -> ${got}`)
          assert.strictEqual(got, expected, `after:\n  ${transcript.join("\n  ")}\nexpected ${expected}`)
        }
      }).pipe(Effect.scoped),
    { arbitrary: { runs: 200 } }
  )
})
// #endregion property
