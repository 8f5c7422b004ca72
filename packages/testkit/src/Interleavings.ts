/**
 * Property tests of a protocol over interleavings: a server, clients that
 * each run a generated script of actions concurrently, with no barrier
 * between them, and a check over what every client sent and received.
 * Each run is one seeded schedule of a `NetworkScheduler` over the memory
 * network; a failing run shrinks, scripts and schedule both, and is printed
 * as its transcript with what replays it.
 *
 * Stage: tests of whole servers. A run:
 *
 * 1. starts the server (`spec.server`) over a memory network ordered by the
 *    run's scheduler;
 * 2. starts every client at once; each client's steps (`connect`, each
 *    action of its script, `finish`) wait for their turn, which is an event
 *    like any delivery, so the scheduler also picks when clients act;
 * 3. once every script is done, lets the system settle (everything in
 *    flight is delivered and read) and calls `spec.check` with each
 *    client's script, session and log (the bytes it sent and received, in
 *    order, and how its input ended);
 * 4. fails with `RunFailed` when the check fails, or when the run hangs
 *    (`NetworkScheduler.Hung`: someone waits for what never comes).
 *
 * Inputs are values of `arbitrary(spec)`: the scripts (one per client, at
 * most `spec.clients.length` clients) and a schedule (`{ seed, choices }`).
 * effect's property engine (`effect/Arbitrary`, which `it.effect.prop`
 * runs) generates and shrinks them: scripts lose clients and actions, and
 * a seeded schedule becomes explicit choices that shrink towards 0, the
 * oldest event first, so a shrunk schedule shows only the reorderings that
 * matter. `check` runs the whole property and prints the smallest failing
 * run; `replay` runs one input again, exactly.
 *
 * @example
 * ```ts
 * import { Framing, LineCodec } from "@socket-to-me/core"
 * import { Interleavings, TestTransport } from "@socket-to-me/testkit"
 * import * as Effect from "effect/Effect"
 * import * as Schema from "effect/Schema"
 *
 * // Every client's lines come back to it, in order, whatever the others do.
 * const echo = Framing.handler(LineCodec.lines, (lines) => lines)
 * export const echoes = Interleavings.check({
 *   clients: ["ann", "bob"],
 *   action: Schema.Literals(["a", "b", "c"]),
 *   server: (transport) => TestTransport.serve(transport, echo),
 *   connect: (client) => Interleavings.lineSession(client),
 *   act: (session, line) => session.send(line),
 *   check: (outcome) =>
 *     Effect.forEach(outcome.clients, (client) =>
 *       Interleavings.expectEqual(Interleavings.receivedLines(client), client.script, `${client.name}'s echo`))
 * }, { runs: 20 })
 * ```
 *
 * @since 0.1.0
 */
import * as Client from "@socket-to-me/core/Client"
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as Duplex from "@socket-to-me/core/Duplex"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import * as Arbitrary from "effect/Arbitrary"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Formatter from "effect/Formatter"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Bytes from "./Bytes.ts"
import * as Faults from "./Faults.ts"
import * as MemoryNetwork from "./MemoryNetwork.ts"
import * as NetworkScheduler from "./NetworkScheduler.ts"
import * as TestkitConfig from "./TestkitConfig.ts"
import * as TestTransport from "./TestTransport.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * One client of a run, as the spec's functions see it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientContext<S> {
  readonly name: string
  /** Position among the run's clients, from 0. */
  readonly index: number
  readonly server: S
  /** The run's scheduler: for `external` work (a disk) that must be ordered too. */
  readonly scheduler: NetworkScheduler.NetworkScheduler
  /** Dials the server; everything the socket sends and receives goes into this client's log. */
  readonly dial: Effect.Effect<Socket.Socket, ConnectionError.ConnectionError, Scope.Scope>
  /** Adds a line of the client's own to its log (what it concluded, what a library call returned). */
  readonly note: (text: string) => Effect.Effect<void>
}

/**
 * What a property explores: the server, the clients and their actions, and
 * the check.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spec<S extends TestTransport.Listener, A, C, R = never> {
  /** Names of the clients; a run has between `minClients` and all of them, the first ones. */
  readonly clients: ReadonlyArray<string>
  /** Fewest clients of a run. Default 1. */
  readonly minClients?: number | undefined
  /** One action of a script. */
  readonly action: Arbitrary.Arbitrary<A> | Schema.Schema<A>
  /** Longest script. Default `TestkitConfig.interleavingMaxActions`. */
  readonly maxActions?: number | undefined
  /** Options of the memory network (its high-water mark, backlog); its scheduler is the run's. */
  readonly network?: Omit<MemoryNetwork.Options, "scheduler"> | undefined
  /**
   * Starts the server under test over `transport`, for the life of the
   * run; work outside the process it does (a disk) goes through
   * `scheduler.external`, so that its order is chosen too.
   */
  readonly server: (
    transport: TestTransport.TestTransport,
    scheduler: NetworkScheduler.NetworkScheduler
  ) => Effect.Effect<S, unknown, R | Scope.Scope>
  /** A client's first step: dial (through `client.dial`), log in. Its session lives as long as the run. */
  readonly connect: (client: ClientContext<S>) => Effect.Effect<C, unknown, R | Scope.Scope>
  /** One step of the script. */
  readonly act: (session: C, action: A, client: ClientContext<S>) => Effect.Effect<void, unknown, R>
  /** A last step after the script, if any (say goodbye, close). */
  readonly finish?: ((session: C, client: ClientContext<S>) => Effect.Effect<void, unknown, R>) | undefined
  /** Checks the run once every script is done and nothing is in flight; any failure falsifies it. */
  readonly check: (outcome: Outcome<S, A, C>) => Effect.Effect<void, unknown, R>
  /** How an action shows in transcripts. Default: its `_tag` and fields, or its JSON. */
  readonly describe?: ((action: A) => string) | undefined
}

/**
 * One entry of a client's log, in the order it happened.
 *
 * @since 0.1.0
 * @category models
 */
export type LogEntry =
  | { readonly _tag: "Step"; readonly description: string }
  | { readonly _tag: "Sent"; readonly bytes: Uint8Array }
  | { readonly _tag: "Received"; readonly bytes: Uint8Array }
  | { readonly _tag: "Ended"; readonly how: string }
  | { readonly _tag: "Note"; readonly text: string }

/**
 * What one client did in a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOutcome<A, C> {
  readonly name: string
  readonly script: ReadonlyArray<A>
  /** Its session, once `connect` succeeded. */
  readonly session: C | undefined
  readonly log: ReadonlyArray<LogEntry>
  /** Actions of the script it completed. */
  readonly completed: number
  /** The failure of the step it stopped at, if one failed (the rest of its script was skipped). */
  readonly failure: Cause.Cause<unknown> | undefined
}

/**
 * What a run did, for the check.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome<S, A, C> {
  readonly server: S
  readonly clients: ReadonlyArray<ClientOutcome<A, C>>
  /** The run's events so far, in order. */
  readonly events: ReadonlyArray<NetworkScheduler.Entry>
}

/**
 * A schedule: `choices` first, then choices seeded by `seed` (see
 * `NetworkScheduler.Options`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Schedule {
  readonly seed: number
  readonly choices: ReadonlyArray<number>
}

/**
 * One input of a property: a script per client and a schedule.
 *
 * @since 0.1.0
 * @category models
 */
export interface Input<A> {
  readonly scripts: ReadonlyArray<ReadonlyArray<A>>
  readonly schedule: Schedule
}

/**
 * A run that failed its check or hung, with everything needed to read and
 * replay it: the input, the check's message, the transcript.
 *
 * @since 0.1.0
 * @category errors
 */
export class RunFailed extends Data.TaggedError("RunFailed")<{
  readonly input: Input<unknown>
  /** The check's failure, or why the run hung. */
  readonly reason: string
  readonly hung: boolean
  readonly clients: ReadonlyArray<ClientOutcome<unknown, unknown>>
  readonly events: ReadonlyArray<NetworkScheduler.Entry>
  /** The decisions the run took: with seed 0 they replay it too. */
  readonly decisions: ReadonlyArray<number>
}> {
  /** Steps the clients took (connects, actions, finishes). */
  get steps(): number {
    return this.events.filter((entry) => entry.event._tag === "Step").length
  }
  override get message(): string {
    return formatFailure(this)
  }
}

/**
 * A property that some run falsified: the smallest failing run found, how
 * many runs it took to find the first one, how many shrinks followed, and
 * the tokens that replay it.
 *
 * @since 0.1.0
 * @category errors
 */
export class Falsified extends Data.TaggedError("Falsified")<{
  /** Runs until the first failure. */
  readonly runs: number
  /** Shrinks effect's engine accepted. */
  readonly shrinks: number
  /** Runs `minimize` took after them. */
  readonly minimizingRuns: number
  readonly seed: number
  /** effect's replay token: `check(spec, { replay })` reruns the search and its shrinks. */
  readonly replay: string
  /** The smallest failing run found. */
  readonly failure: RunFailed
}> {
  override get message(): string {
    return `property falsified after ${this.runs} run(s) (seed ${this.seed}), then ${this.shrinks} shrink(s) and ` +
      `${this.minimizingRuns} run(s) minimizing; the smallest failing run:\n` +
      `${formatFailure(this.failure)}\n` +
      `replay the search: check(spec, { replay: ${JSON.stringify(this.replay)} })`
  }
}

// -----------------------------------------------------------------------------
// Inputs
// -----------------------------------------------------------------------------

const Choice = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: NetworkScheduler.choiceRange - 1 }))

/**
 * The schedule part of an input, as a schema.
 *
 * @since 0.1.0
 * @category inputs
 */
export const ScheduleSchema = Schema.Struct({
  seed: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2 ** 31 - 1 })),
  choices: Schema.Array(Choice).check(Schema.isMaxLength(TestkitConfig.interleavingMaxChoices))
})

const withoutTrailingZeros = (choices: ReadonlyArray<number>): ReadonlyArray<number> => {
  let end = choices.length
  while (end > 0 && choices[end - 1] === 0) end--
  return end === choices.length ? choices : choices.slice(0, end)
}

/**
 * The smaller schedules to try after a failing one. A seeded schedule is
 * first written out as explicit choices (its first 4, 8, ... 1024
 * decisions, seed 0 after them: the oldest event first); explicit choices
 * then shrink by dropping a tail, zeroing one choice, lowering it, or
 * removing it.
 *
 * @since 0.1.0
 * @category inputs
 */
export const shrinkSchedule = (schedule: Schedule): ReadonlyArray<Schedule> => {
  const seen = new Set<string>([JSON.stringify(schedule)])
  const out: Array<Schedule> = []
  const add = (choices: ReadonlyArray<number>) => {
    const candidate: Schedule = { seed: 0, choices: withoutTrailingZeros(choices) }
    const key = JSON.stringify(candidate)
    if (seen.has(key)) return
    seen.add(key)
    out.push(candidate)
  }
  const { choices, seed } = schedule
  if (seed !== 0) {
    for (let length = 4; length <= TestkitConfig.interleavingMaxChoices; length *= 2) {
      add(Array.from({ length }, (_, i) => i < choices.length ? choices[i]! : NetworkScheduler.seededChoice(seed, i)))
    }
    return out
  }
  for (const length of [0, choices.length >> 2, choices.length >> 1, (3 * choices.length) >> 2]) {
    if (length < choices.length) add(choices.slice(0, length))
  }
  const replaced = (i: number, value: number) => choices.map((c, j) => j === i ? value : c)
  for (let i = 0; i < choices.length; i++) if (choices[i] !== 0) add(replaced(i, 0))
  for (let i = 0; i < choices.length; i++) if (choices[i]! > 1) add(replaced(i, 1))
  for (let i = 0; i < choices.length; i++) if (choices[i]! > 2) add(replaced(i, choices[i]! >> 1))
  for (let i = 0; i < choices.length; i++) add(choices.filter((_, j) => j !== i))
  return out
}

/**
 * Schedules: a random seed and a few random choices, shrinking as
 * `shrinkSchedule` says.
 *
 * @since 0.1.0
 * @category inputs
 */
export const schedules: Arbitrary.Arbitrary<Schedule> = Arbitrary.schema(ScheduleSchema, { shrink: shrinkSchedule })

const toArbitrary = <A>(action: Arbitrary.Arbitrary<A> | Schema.Schema<A>): Arbitrary.Arbitrary<A> =>
  Arbitrary.isArbitrary(action) ? action as Arbitrary.Arbitrary<A> : Arbitrary.schema(action as Schema.Schema<A>)

/**
 * The inputs of a spec's property: between `minClients` and
 * `clients.length` scripts of at most `maxActions` actions, and a schedule.
 *
 * @since 0.1.0
 * @category inputs
 */
export const arbitrary = <S extends TestTransport.Listener, A, C, R>(
  spec: Spec<S, A, C, R>
): Arbitrary.Arbitrary<Input<A>> => {
  const script = Arbitrary.array(toArbitrary(spec.action), {
    maxLength: spec.maxActions ?? TestkitConfig.interleavingMaxActions
  })
  return Arbitrary.all({
    scripts: Arbitrary.array(script, { minLength: spec.minClients ?? 1, maxLength: spec.clients.length }),
    schedule: schedules
  })
}

// -----------------------------------------------------------------------------
// Running
// -----------------------------------------------------------------------------

const defaultDescribe = (action: unknown): string => {
  if (typeof action === "object" && action !== null && "_tag" in action) {
    const { _tag, ...fields } = action as { readonly _tag: unknown }
    const rest = Object.entries(fields).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(" ")
    return rest === "" ? String(_tag) : `${String(_tag)} ${rest}`
  }
  return JSON.stringify(action) ?? String(action)
}

const describeEnd = (error: Socket.SocketError): string => {
  const reason = error.reason
  if (reason._tag === "SocketCloseError") return reason.code === 1000 ? "end of input" : `closed (${reason.code})`
  const code = (reason.cause as { readonly code?: unknown } | undefined)?.code
  return typeof code === "string" ? `${reason._tag} ${code}` : reason._tag
}

// The client's socket, logging every chunk it reads or writes and how its
// input ended.
const recording = (socket: Socket.Socket, log: Array<LogEntry>): Socket.Socket =>
  Faults.mapSocket(socket, {
    reader: (reader) =>
      Effect.succeed<Socket.Reader>({
        ...reader,
        pull: reader.pull.pipe(
          Effect.tap((chunks) => Effect.sync(() => log.push({ _tag: "Received", bytes: Bytes.concat(chunks) }))),
          Effect.tapError((error) => Effect.sync(() => log.push({ _tag: "Ended", how: describeEnd(error) })))
        )
      }),
    writer: (writer) =>
      Effect.succeed<Socket.Writer>({
        write: (chunk) =>
          Effect.andThen(
            Effect.sync(() =>
              log.push(
                Socket.isCloseEvent(chunk)
                  ? { _tag: "Note", text: `closes (code ${chunk.code})` }
                  : { _tag: "Sent", bytes: Bytes.from(chunk) }
              )
            ),
            writer.write(chunk)
          ),
        writeAll: (chunks) =>
          Effect.andThen(Effect.sync(() => log.push({ _tag: "Sent", bytes: Bytes.concat(chunks) })), writer.writeAll(chunks))
      })
  })

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error)) {
    const value = error.value
    return value instanceof Error ? value.message : Formatter.format(value)
  }
  return Cause.pretty(cause)
}

interface ClientState<A, C> {
  readonly name: string
  readonly script: ReadonlyArray<A>
  readonly log: Array<LogEntry>
  session: C | undefined
  completed: number
  failure: Cause.Cause<unknown> | undefined
  // The step it is in, once its turn came and until the step ended.
  current: string | undefined
}

const snapshot = <A, C>(state: ClientState<A, C>): ClientOutcome<A, C> => ({
  name: state.name,
  script: state.script,
  session: state.session,
  log: state.log.slice(),
  completed: state.completed,
  failure: state.failure
})

class CheckFailed extends Data.TaggedError("CheckFailed")<{ readonly reason: string }> {}

/**
 * Runs one input: the server, every client's script, the check. Fails with
 * `RunFailed` (which prints the transcript) when the check fails or the
 * run hangs; the same input always gives the same run.
 *
 * @since 0.1.0
 * @category running
 */
export const property = <S extends TestTransport.Listener, A, C, R>(spec: Spec<S, A, C, R>) =>
(input: Input<A>): Effect.Effect<void, RunFailed, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const describe = spec.describe ?? defaultDescribe
    const states: Array<ClientState<A, C>> = input.scripts.map((script, index) => ({
      name: spec.clients[index] ?? `client${index}`,
      script,
      log: [],
      session: undefined,
      completed: 0,
      failure: undefined,
      current: undefined
    }))
    // Who was in which step when the run hung, and the logs then: what
    // teardown does after that is not part of the story.
    let waiting: ReadonlyArray<string> = []
    let hungClients: ReadonlyArray<ClientOutcome<A, C>> | undefined
    const run = yield* NetworkScheduler.run((scheduler) =>
      Effect.gen(function*() {
        const transport = TestTransport.memoryWith({ ...spec.network, scheduler })
        const server = yield* spec.server(transport, scheduler)
        // Channels are made here, one after the other, so their order is
        // the clients' order.
        const turns = states.map((state) => scheduler.channel(state.name))
        const client = (state: ClientState<A, C>, index: number) => {
          const context: ClientContext<S> = {
            name: state.name,
            index,
            server,
            scheduler,
            dial: Effect.map(server.dial, (socket) => recording(socket, state.log)),
            note: (text) => Effect.sync(() => state.log.push({ _tag: "Note", text }))
          }
          const step = <X>(description: string, effect: Effect.Effect<X, unknown, R | Scope.Scope>) =>
            Effect.andThen(
              Effect.andThen(
                scheduler.turn(turns[index]!, description),
                Effect.sync(() => {
                  state.current = description
                  state.log.push({ _tag: "Step", description })
                })
              ),
              Effect.tap(effect, () => Effect.sync(() => (state.current = undefined)))
            )
          return Effect.gen(function*() {
            state.session = yield* step("connect", spec.connect(context))
            for (const action of state.script) {
              yield* step(describe(action), spec.act(state.session, action, context))
              state.completed++
            }
            const finish = spec.finish
            if (finish !== undefined) yield* step("finish", finish(state.session, context))
          }).pipe(
            // Interrupted when the run hung: it keeps saying which step it was in.
            Effect.catchCause((cause) =>
              Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.sync(() => (state.failure = cause))
            ),
            Effect.provideService(MemoryNetwork.PeerName, state.name)
          )
        }
        const fibers = yield* Effect.forEach(states, (state, index) => Effect.forkScoped(client(state, index)))
        yield* Fiber.joinAll(fibers)
        yield* scheduler.settle
        const outcome: Outcome<S, A, C> = {
          server,
          clients: states.map(snapshot),
          events: yield* scheduler.events
        }
        yield* spec.check(outcome).pipe(
          Effect.catchCause((cause) => Effect.fail(new CheckFailed({ reason: describeCause(cause) })))
        )
      }), {
      seed: input.schedule.seed,
      choices: input.schedule.choices,
      onHung: () => {
        waiting = states.flatMap((state) =>
          state.failure === undefined && state.current !== undefined ? [`${state.name} in step ${state.current}`] : []
        )
        hungClients = states.map(snapshot)
      }
    })
    if (Exit.isSuccess(run.exit)) return
    const error = Cause.findErrorOption(run.exit.cause)
    const hung = Option.isSome(error) && NetworkScheduler.isHung(error.value)
    const reason = Option.isSome(error) && Predicate.isTagged(error.value, "CheckFailed")
      ? (error.value as CheckFailed).reason
      : hung
      ? `${describeCause(run.exit.cause)}; waiting: ${waiting.join(", ") || "no client (the run hung after the scripts)"}`
      : describeCause(run.exit.cause)
    return yield* Effect.fail(
      new RunFailed({
        input,
        reason,
        hung,
        clients: hungClients ?? states.map(snapshot),
        events: run.events,
        decisions: run.decisions
      })
    )
  }) as Effect.Effect<void, RunFailed, Exclude<R, Scope.Scope>>

/**
 * Runs one input again, exactly: the input a failure printed (`RunFailed.input`).
 *
 * @since 0.1.0
 * @category running
 */
export const replay = <S extends TestTransport.Listener, A, C, R>(
  spec: Spec<S, A, C, R>,
  input: NoInfer<Input<A>>
): Effect.Effect<void, RunFailed, Exclude<R, Scope.Scope>> => property(spec)(input)

/**
 * Options of `check`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckOptions {
  /** Runs. Default `TestkitConfig.interleavingRuns`; the environment's `SOCKET_TO_ME_INTERLEAVING_RUNS` overrides it. */
  readonly runs?: number | undefined
  /** The property's seed. Default random (printed with a failure); the environment's `SOCKET_TO_ME_INTERLEAVING_SEED` overrides it. */
  readonly seed?: number | undefined
  /** Shrink candidates tried after the first failure. Default `TestkitConfig.interleavingMaxShrinks`. */
  readonly maxShrinks?: number | undefined
  /** Replays a search and its shrinks from the token a `Falsified` printed. */
  readonly replay?: string | undefined
}

/**
 * What a passing check did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Passed {
  readonly runs: number
}

const environmentInt = (name: string) =>
  Config.option(Config.Int(name)).pipe(Effect.orElseSucceed(() => Option.none<number>()))

// Scripts one step smaller: a client fewer (the last ones first), or an
// action fewer.
const smallerScripts = <A>(
  scripts: ReadonlyArray<ReadonlyArray<A>>,
  minClients: number
): Array<ReadonlyArray<ReadonlyArray<A>>> => {
  const out: Array<ReadonlyArray<ReadonlyArray<A>>> = []
  if (scripts.length > minClients) {
    for (let i = scripts.length - 1; i >= 0; i--) out.push(scripts.filter((_, j) => j !== i))
  }
  for (let i = scripts.length - 1; i >= 0; i--) {
    for (let j = scripts[i]!.length - 1; j >= 0; j--) {
      out.push(scripts.map((script, k) => k === i ? script.filter((_, n) => n !== j) : script))
    }
  }
  return out
}

// A seed of its own for the n-th retry of a smaller script.
const retrySeed = (n: number): number => ((n * 2654435761) % (2 ** 31 - 2)) + 1

/**
 * Makes a failing run smaller than shrinking alone can. A shrunk schedule
 * is a list of choices by position: removing a client or an action moves
 * every decision after it, so the same choices rarely fail again, though
 * the bug may well remain. Each smaller script is tried with the current
 * schedule, then with `retries` fresh seeds; the first run that fails the
 * same way (hung, or not) is kept, and its schedule shrinks again. Stops
 * when nothing smaller fails or after `budget` runs. Deterministic.
 *
 * @since 0.1.0
 * @category running
 */
export const minimize = <S extends TestTransport.Listener, A, C, R>(
  spec: Spec<S, A, C, R>,
  failure: RunFailed,
  options?: { readonly budget?: number | undefined; readonly retries?: number | undefined }
): Effect.Effect<{ readonly failure: RunFailed; readonly runs: number }, never, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const run = property(spec)
    const budget = options?.budget ?? TestkitConfig.interleavingMinimizeRuns
    const retries = options?.retries ?? TestkitConfig.interleavingMinimizeRetries
    let best = failure
    let runs = 0
    let retry = 0
    const attempt = (input: Input<A>) =>
      Effect.map(Effect.flip(run(input)), (result) => result.hung === best.hung ? result : undefined).pipe(
        Effect.catchCause(() => Effect.succeed(undefined)),
        Effect.tap(() => Effect.sync(() => runs++))
      )
    // Scripts whose smaller ones all passed with fresh seeds already: after
    // a smaller schedule for them, only that schedule is worth a try.
    let exhausted: ReadonlyArray<ReadonlyArray<A>> | undefined
    let progress = true
    while (progress && runs < budget) {
      progress = false
      const input = best.input as Input<A>
      const tries = exhausted === input.scripts ? 0 : retries
      for (const scripts of smallerScripts(input.scripts, spec.minClients ?? 1)) {
        for (let k = 0; k <= tries && runs < budget && !progress; k++) {
          const schedule = k === 0 ? input.schedule : { seed: retrySeed(++retry), choices: [] }
          const found = yield* attempt({ scripts, schedule })
          if (found !== undefined) {
            best = found
            progress = true
          }
        }
        if (progress) break
      }
      if (progress) continue
      exhausted = input.scripts
      for (const schedule of shrinkSchedule(input.schedule)) {
        if (runs >= budget) break
        const found = yield* attempt({ scripts: input.scripts, schedule })
        if (found !== undefined) {
          best = found
          progress = true
          break
        }
      }
    }
    return { failure: best, runs }
  }) as Effect.Effect<{ readonly failure: RunFailed; readonly runs: number }, never, Exclude<R, Scope.Scope>>

/**
 * Checks a spec over many runs (`arbitrary(spec)`, `property(spec)`): passes
 * with how many ran, or fails with `Falsified`, which prints the smallest
 * failing run's transcript, its input (for `replay`) and the search's
 * replay token.
 *
 * @since 0.1.0
 * @category running
 */
export const check = <S extends TestTransport.Listener, A, C, R>(
  spec: Spec<S, A, C, R>,
  options?: CheckOptions
): Effect.Effect<Passed, Falsified, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const runs = Option.getOrElse(
      yield* environmentInt("SOCKET_TO_ME_INTERLEAVING_RUNS"),
      () => options?.runs ?? TestkitConfig.interleavingRuns
    )
    const seed = Option.getOrUndefined(yield* environmentInt("SOCKET_TO_ME_INTERLEAVING_SEED")) ??
      options?.seed ?? (yield* Random.nextIntBetween(1, 2 ** 31 - 1))
    const run = property(spec)
    const arbitraryInputs = arbitrary(spec)
    const checkBatch = (batchRuns: number, batchSeed: string | undefined, replay: string | undefined) =>
      Arbitrary.checkEffect(arbitraryInputs, (input) => Effect.as(run(input), true), {
        runs: batchRuns,
        seed: batchSeed,
        maxShrinks: options?.maxShrinks ?? TestkitConfig.interleavingMaxShrinks,
        replay
      })
    // effect's engine grows inputs from empty to full size over a check's
    // runs, so the runs before the inputs are big enough for a race would
    // grow with the run count. Batches of runs, each growing again, keep
    // the first sizeable inputs early however many runs are asked for.
    let done = 0
    for (let batch = 0; done < runs || options?.replay !== undefined; batch++) {
      const batchRuns = Math.min(TestkitConfig.interleavingBatch, runs - done)
      const batchSeed = `${seed}/${batch}`
      const result = yield* checkBatch(batchRuns, options?.replay === undefined ? batchSeed : undefined, options?.replay)
      switch (result._tag) {
        case "Passed":
          done += result.runs
          if (options?.replay !== undefined) return { runs: done }
          continue
        case "Falsified": {
          const shrunk = result.failure._tag === "PropertyError" ? result.failure.error : undefined
          if (shrunk === undefined) return yield* Effect.die(new Error("a run returned false"))
          const minimized = yield* minimize(spec, shrunk)
          return yield* Effect.fail(
            new Falsified({
              runs: done + result.runs,
              shrinks: result.shrinks,
              minimizingRuns: minimized.runs,
              seed,
              replay: result.replay,
              failure: minimized.failure
            })
          )
        }
        default:
          return yield* Effect.die(new Error(Arbitrary.formatCheckFailure(result)))
      }
    }
    return { runs: done }
  })

// -----------------------------------------------------------------------------
// Reading a run
// -----------------------------------------------------------------------------

const splitLines = (text: string): Array<string> => {
  const lines = text.split("\n")
  lines.pop()
  return lines.map((line) => line.endsWith("\r") ? line.slice(0, -1) : line)
}

/**
 * Everything a client received, as text.
 *
 * @since 0.1.0
 * @category reading
 */
export const received = (client: ClientOutcome<unknown, unknown>): string =>
  Bytes.decode(Bytes.concat(client.log.flatMap((entry) => entry._tag === "Received" ? [entry.bytes] : [])))

/**
 * The complete lines a client received, without their LF (or CRLF).
 *
 * @since 0.1.0
 * @category reading
 */
export const receivedLines = (client: ClientOutcome<unknown, unknown>): ReadonlyArray<string> =>
  splitLines(received(client))

/**
 * The complete lines a client sent.
 *
 * @since 0.1.0
 * @category reading
 */
export const sentLines = (client: ClientOutcome<unknown, unknown>): ReadonlyArray<string> =>
  splitLines(Bytes.decode(Bytes.concat(client.log.flatMap((entry) => entry._tag === "Sent" ? [entry.bytes] : []))))

/**
 * A client's lines, sent and received, in the order it sent or read them:
 * what it had seen when it sent each line.
 *
 * @since 0.1.0
 * @category reading
 */
export const timeline = (
  client: ClientOutcome<unknown, unknown>
): ReadonlyArray<{ readonly direction: "sent" | "received"; readonly line: string }> => {
  const out: Array<{ readonly direction: "sent" | "received"; readonly line: string }> = []
  const partial = { sent: "", received: "" }
  for (const entry of client.log) {
    if (entry._tag !== "Sent" && entry._tag !== "Received") continue
    const direction = entry._tag === "Sent" ? "sent" : "received"
    const text = partial[direction] + Bytes.decode(entry.bytes)
    const lines = text.split("\n")
    partial[direction] = lines.pop()!
    for (const line of lines) out.push({ direction, line: line.endsWith("\r") ? line.slice(0, -1) : line })
  }
  return out
}

/**
 * Fails the check with `message` (and both values) unless they are equal
 * as JSON.
 *
 * @since 0.1.0
 * @category checking
 */
export const expectEqual = <A>(actual: A, expected: A, message: string): Effect.Effect<void, Error> => {
  const a = JSON.stringify(actual)
  const b = JSON.stringify(expected)
  return a === b ? Effect.void : Effect.fail(new Error(`${message}:\n  expected ${b}\n  received ${a}`))
}

/**
 * Fails the check with `message` unless `condition` holds.
 *
 * @since 0.1.0
 * @category checking
 */
export const expect = (condition: boolean, message: string): Effect.Effect<void, Error> =>
  condition ? Effect.void : Effect.fail(new Error(message))

// -----------------------------------------------------------------------------
// A line session
// -----------------------------------------------------------------------------

/**
 * A client session over a line protocol: it reads every line the server
 * sends as soon as it arrives (so nothing waits in the network at the end
 * of a run), and a step may wait for a line.
 *
 * @since 0.1.0
 * @category sessions
 */
export interface LineSession {
  readonly duplex: Duplex.Duplex
  /** Sends each line with LF, in one write. */
  readonly send: (...lines: ReadonlyArray<string>) => Effect.Effect<void, ConnectionError.ConnectionError>
  /** The lines received so far. */
  readonly lines: ReadonlyArray<string>
  /**
   * Waits for a line matching `wanted` among those not yet expected;
   * returns it. Fails once the input ended without one (a line that never
   * comes while the input stays open hangs the run, which the run reports).
   */
  readonly expect: (wanted: string | ((line: string) => boolean)) => Effect.Effect<string, Error>
  /** Half-closes the connection. */
  readonly end: Effect.Effect<void>
}

/**
 * Dials the client's server and reads its lines in the background for the
 * life of the run.
 *
 * @since 0.1.0
 * @category sessions
 */
export const lineSession = Effect.fnUntraced(function*<S>(
  client: ClientContext<S>,
  options?: { readonly maxLineBytes?: number | undefined }
) {
  const duplex = yield* Client.connect(client.dial, { address: client.name, retries: 0 })
  const lines: Array<string> = []
  let ended = false
  let changed = yield* Deferred.make<void>()
  const wake = Effect.suspend(() => {
    const previous = changed
    return Effect.andThen(
      Effect.flatMap(Deferred.make<void>(), (next) => Effect.sync(() => (changed = next))),
      Deferred.succeed(previous, undefined)
    )
  })
  yield* LineCodec.make({ maxLineBytes: options?.maxLineBytes ?? TestkitConfig.peerMaxLineBytes }).decode(duplex.input)
    .pipe(
      Stream.runForEachArray((batch) => Effect.andThen(Effect.sync(() => lines.push(...batch)), wake)),
      Effect.ignore,
      Effect.ensuring(Effect.andThen(Effect.sync(() => (ended = true)), wake)),
      Effect.forkScoped
    )
  let next = 0
  const expect = (wanted: string | ((line: string) => boolean)): Effect.Effect<string, Error> => {
    const matches = typeof wanted === "string" ? (line: string) => line === wanted : wanted
    return Effect.gen(function*() {
      while (true) {
        while (next < lines.length) {
          const line = lines[next++]!
          if (matches(line)) return line
        }
        if (ended) return yield* Effect.fail(new Error(`input ended before ${String(wanted)}`))
        yield* Deferred.await(changed)
      }
    })
  }
  const session: LineSession = {
    duplex,
    send: (...sent) => duplex.write([Bytes.encode(sent.map((line) => `${line}\n`).join(""))]),
    lines,
    expect,
    end: duplex.end
  }
  return session
})

// -----------------------------------------------------------------------------
// Formatting
// -----------------------------------------------------------------------------

const formatLog = (client: ClientOutcome<unknown, unknown>): string => {
  const parts = client.log.map((entry) => {
    switch (entry._tag) {
      case "Step":
        return `  step ${entry.description}`
      case "Sent":
        return `  sent ${NetworkScheduler.formatBytes(entry.bytes)}`
      case "Received":
        return `  received ${NetworkScheduler.formatBytes(entry.bytes)}`
      case "Ended":
        return `  input ended: ${entry.how}`
      case "Note":
        return `  note ${entry.text}`
    }
  })
  const failure = client.failure === undefined ? [] : [`  failed: ${describeCause(client.failure)}`]
  return [`${client.name}:`, ...parts, ...failure].join("\n")
}

/**
 * A failed run as text: why, the scripts, the input that replays it, each
 * client's log, and the events in the order the run took them.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatFailure = (failure: RunFailed): string => {
  const scripts = failure.clients.map((client) =>
    `  ${client.name}: ${client.script.length === 0 ? "(no actions)" : client.script.map(defaultDescribe).join(", ")}`
  )
  return [
    `${failure.hung ? "hung" : "check failed"}: ${failure.reason}`,
    `scripts (${failure.steps} steps in all):`,
    ...scripts,
    `replay: Interleavings.replay(spec, ${JSON.stringify(failure.input)})`,
    `  (or, with the same scripts: { seed: 0, choices: ${JSON.stringify(failure.decisions)} })`,
    "what each client did:",
    ...failure.clients.map(formatLog),
    `events (${failure.events.length}):`,
    NetworkScheduler.formatEvents(failure.events, TestkitConfig.interleavingShownEvents)
  ].join("\n")
}
