/**
 * The `actor-ask` worker: one process (pinned to the servers' core by the
 * benchmark) that times asks in a loop, one asker, one ask in flight, for
 * either side:
 *
 * - ours: `Actor.ask` on an actor whose handler replies with its state and
 *   counts (`packages/core/src/Actor.ts`, as apps use it);
 * - raw: the same job with bare Effect primitives, the floor an actor's
 *   ask can reach: a fiber takes `{ reply }` from a bounded `Queue` and
 *   completes the `Deferred` with its count; the asker offers and awaits.
 *
 * Both sides run in this one process, each window after the other, so they
 * share the JIT's state and what the machine does; the benchmark alternates
 * them round after round.
 *
 * Started by bench/run.ts with an IPC channel it takes commands
 * `{ id, command: { cmd: "window", side, warmupMs, measureMs } }` and answers
 * `{ id, ok, result: { count, seconds, usage } }`. Started by hand
 * (`node scripts/with-node.mjs bench/servers/actor-ask.ts [ROUNDS] [MEASURE_MS]`)
 * it runs rounds of both sides and prints asks/s, us per ask and the ratio.
 */
// bench/ is not a workspace package: effect is reached through the core
// package that depends on it (the same files once symlinks are resolved,
// so one copy of effect is loaded, the one Actor.ts imports).
import * as Actor from "../../packages/core/src/Actor.ts"
import * as Deferred from "../../packages/core/node_modules/effect/dist/Deferred.js"
import * as Effect from "../../packages/core/node_modules/effect/dist/Effect.js"
import * as Queue from "../../packages/core/node_modules/effect/dist/Queue.js"
import * as Proc from "../lib/proc.ts"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)

/** Which loop a window times. */
export type Side = "ours" | "raw"

/** What one window counted. */
export interface WindowResult {
  readonly count: number
  readonly seconds: number
  readonly usage: Proc.Usage
}

// Most asks in one window, whatever the clock says: a bound on the loop.
const maxAsks = 100_000_000
// The clock is read once per this many asks.
const batch = 256
// The mailbox size of both sides: the actor's default.
const mailboxSize = 256

// The one message of both sides: reply with the count. An actor's reply
// may also carry its `ActorError`s.
interface Get<E = never> {
  readonly reply: Deferred.Deferred<number, E>
}

/** Runs `ask` in a loop until `until()` says stop; returns how many completed. */
const loop = (ask: Ask, until: () => boolean) =>
  Effect.gen(function*() {
    let count = 0
    while (count < maxAsks) {
      for (let i = 0; i < batch; i++) yield* ask
      count += batch
      if (until()) break
    }
    return count
  })

type Ask = Effect.Effect<number, unknown>

// Each side builds its ask, hands it to `body` and cleans up after.
const sides: Record<Side, <A>(body: (ask: Ask) => Effect.Effect<A, unknown>) => Effect.Effect<A, unknown>> = {
  ours: (body) =>
    Effect.scoped(Effect.gen(function*() {
      const actor = yield* Actor.make<number, Get<Actor.ActorError>>({
        initial: 0,
        receive: (state, message) => Effect.as(Deferred.succeed(message.reply, state), state + 1)
      }, { name: "bench", mailboxSize })
      return yield* body(actor.ask<number>((reply) => ({ reply })))
    })),
  raw: (body) =>
    Effect.scoped(Effect.gen(function*() {
      const mailbox = yield* Queue.bounded<Get>(mailboxSize)
      yield* Effect.forkScoped(Effect.gen(function*() {
        let state = 0
        while (true) {
          const message = yield* Queue.take(mailbox)
          yield* Deferred.succeed(message.reply, state)
          state++
        }
      }))
      const ask = Effect.flatMap(Deferred.make<number>(), (reply) =>
        Effect.andThen(Queue.offer(mailbox, { reply }), Deferred.await(reply)))
      return yield* body(ask)
    }))
}

/** Warms `side` up for `warmupMs`, then counts its asks for `measureMs`. */
export const window = (side: Side, warmupMs: number, measureMs: number, clientPid: number): Promise<WindowResult> =>
  Effect.runPromise(sides[side]((ask) =>
    Effect.gen(function*() {
      const warmEnd = performance.now() + warmupMs
      yield* loop(ask, () => performance.now() >= warmEnd)
      const start = Proc.snapshot(process.pid, clientPid)
      const end = start.at + measureMs
      const count = yield* loop(ask, () => performance.now() >= end)
      const stop = Proc.snapshot(process.pid, clientPid)
      return { count, seconds: (stop.at - start.at) / 1000, usage: Proc.usage(start, stop) }
    })
  ))

const perSecond = (r: WindowResult) => r.count / r.seconds

if (process.send !== undefined) {
  process.on("message", (message: { readonly id: number; readonly command: { readonly cmd: string } }) => {
    const command = message.command as { cmd: string; side: Side; warmupMs: number; measureMs: number }
    if (command.cmd === "exit") {
      setImmediate(() => process.exit(0))
      process.send?.({ id: message.id, ok: true, result: {} })
      return
    }
    if (command.cmd !== "window" || (command.side !== "ours" && command.side !== "raw")) {
      process.send?.({ id: message.id, ok: false, error: `unknown command ${JSON.stringify(command)}` })
      return
    }
    // The benchmark that started this process is idle during the window: its CPU is the "client" column.
    window(command.side, command.warmupMs, command.measureMs, process.ppid).then(
      (result) => process.send?.({ id: message.id, ok: true, result }),
      (error: unknown) => process.send?.({ id: message.id, ok: false, error: String((error as Error)?.message ?? error) })
    )
  })
  process.on("disconnect", () => process.exit(0))
} else {
  const rounds = Number(process.argv[2] ?? 5)
  const measureMs = Number(process.argv[3] ?? 2000)
  const hard = setTimeout(() => {
    console.error("actor-ask: hard time limit reached")
    process.exit(1)
  }, (rounds * 2 + 2) * (measureMs + 1000) + 30_000)
  hard.unref()
  const ratios: Array<number> = []
  for (let round = -1; round < rounds; round++) {
    const order: Array<Side> = round % 2 === 0 ? ["ours", "raw"] : ["raw", "ours"]
    const results: Partial<Record<Side, WindowResult>> = {}
    for (const side of order) results[side] = await window(side, 1000, measureMs, process.pid)
    const ours = perSecond(results.ours!)
    const raw = perSecond(results.raw!)
    if (round >= 0) ratios.push(ours / raw)
    print(
      `${round < 0 ? "priming" : `round ${round + 1}`}: ours ${ours.toFixed(0)} asks/s (${(1e6 / ours).toFixed(2)} us), ` +
        `raw ${raw.toFixed(0)} asks/s (${(1e6 / raw).toFixed(2)} us), ratio ${(ours / raw).toFixed(3)}`
    )
  }
  ratios.sort((a, b) => a - b)
  print(`median ratio ${ratios[ratios.length >> 1]!.toFixed(3)} (${ratios[0]!.toFixed(3)}-${ratios[ratios.length - 1]!.toFixed(3)})`)
}
