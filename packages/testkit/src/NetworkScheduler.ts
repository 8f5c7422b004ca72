/**
 * A seeded scheduler for the memory network: it picks the order in which
 * what travels between peers arrives, so that one test explores many
 * interleavings instead of the one the runtime happens to produce, and the
 * same seed gives the same run, event for event and byte for byte.
 *
 * Stage: transport (tests only). The model, in the style of Concuerror,
 * loom and turmoil:
 *
 * - A run's fibers (the server's, the clients') run on this scheduler's
 *   Effect `Scheduler`, which counts their runnable tasks. When none is
 *   left, everyone waits on something: the system is quiescent.
 * - What one peer does that another can observe is not done at once but
 *   queued as an event on a channel: bytes written (one event per write),
 *   an end of output (FIN), a close (FIN, and the peer's writes fail from
 *   then), a reset (RST), a connection reaching the listener (accept). A
 *   channel keeps its events in order (one direction of a connection is a
 *   byte stream; accepts are FIFO), and each is created in a deterministic
 *   order (channel ids), so the ready channels form a list.
 * - At each quiescent point the scheduler runs the next event of one ready
 *   channel: with one ready channel, that one; with more, a decision: the
 *   index comes from `choices` while they last, then from a generator
 *   seeded by `seed` (seed 0: always the oldest channel, index 0). Running
 *   the event wakes whoever waited on it, and everything runs until the
 *   next quiescent point.
 * - Time is simulated: the run's `Clock` only moves when nothing else can
 *   happen (no task, no event), to the earliest sleep, which then wakes.
 *   Timeouts, drains' grace periods and idle sweeps take no real time.
 * - `external` wraps work outside the process (a disk): it runs as usual,
 *   the scheduler waits for every such operation in flight before it
 *   decides anything, and each completion is an event of its own, so the
 *   order in which completions are seen is chosen too, not raced.
 * - Nothing runnable, no event, no sleep (or past `maxTime`): the run is
 *   hung, which a test sees as a typed `Hung` failure rather than a
 *   timeout.
 *
 * Not explored: the order of fibers between two scheduling points (the
 * runtime runs them in its own deterministic order), window updates
 * (a writer blocked on a full pipe wakes as soon as its reader reads), and
 * anything that bypasses the memory network or `external`. A run whose
 * fibers wait on real timers or I/O that `external` does not wrap is
 * neither quiescent nor deterministic when it thinks it is.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Predicate from "effect/Predicate"
import * as Random from "effect/Random"
import * as Scheduler from "effect/Scheduler"
import type * as Scope from "effect/Scope"
import * as TestkitConfig from "./TestkitConfig.ts"

/**
 * What an event does, as the transcript shows it.
 *
 * - `Data`: bytes of one write reach the reader.
 * - `End`: the writer's FIN (`end`, half-close).
 * - `Close`: the writer's side closed: FIN, and the reader's own writes
 *   fail with `EPIPE` from then on.
 * - `Reset`: RST: the reader's reads fail with `ECONNRESET`, its writes
 *   with `EPIPE`.
 * - `Accept`: a dialed connection reaches the listener's backlog.
 * - `Step`: a client's next scripted step may start (see `Interleavings`).
 * - `Completion`: an `external` operation's result is seen.
 * - `Timer`: simulated time moves to `at` (milliseconds since the run
 *   started) and the sleeps due then wake.
 *
 * @since 0.1.0
 * @category models
 */
export type Event =
  | { readonly _tag: "Data"; readonly bytes: Uint8Array }
  | { readonly _tag: "End" }
  | { readonly _tag: "Close" }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "Accept"; readonly connection: string }
  | { readonly _tag: "Step"; readonly description: string }
  | { readonly _tag: "Completion"; readonly description: string }
  | { readonly _tag: "Timer"; readonly at: number }

/**
 * One event of a run, in the order the run took them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  /** Position in the run, from 0. */
  readonly index: number
  /** The channel it came from: `ann→server #1`, `accept`, `ann`, `clock`. */
  readonly channel: string
  readonly event: Event
  /** Channels that were ready when it was picked: a decision when 2 or more (0 for timers). */
  readonly options: number
  /** Which of them was picked, 0 being the oldest. */
  readonly chose: number
}

/**
 * A FIFO of events: one direction of a connection, a listener's accepts,
 * a client's steps.
 *
 * @since 0.1.0
 * @category models
 */
export interface Channel {
  readonly name: string
  /**
   * Queues `effect` as this channel's next event; the scheduler runs it
   * when it picks the channel. The effect must not wait (it offers, opens,
   * completes): it runs on the scheduler's own fiber.
   */
  readonly post: (event: Event, effect: Effect.Effect<void>) => Effect.Effect<void>
}

/**
 * A scheduler, as the memory network and the code of a run see it.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetworkScheduler {
  /** The seed of the choices after `choices` (0: the oldest channel every time). */
  readonly seed: number
  /** The choices taken first, one per decision. */
  readonly choices: ReadonlyArray<number>
  /** A new channel, after every channel created before it. */
  readonly channel: (name: string) => Channel
  /** Waits for this channel's turn: queues a `Step` event and resumes when the scheduler runs it. */
  readonly turn: (channel: Channel, description: string) => Effect.Effect<void>
  /**
   * Runs `effect` outside the scheduler (on the runtime's scheduler and the
   * real clock), for work it cannot see: a disk, a database. The scheduler
   * waits for it before deciding anything, and its completion is an event
   * on a channel of its own.
   */
  readonly external: <A, E, R>(description: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Completes once nothing more happens without time passing (no task, no event); sleeps do not wake for it. */
  readonly settle: Effect.Effect<void>
  /** The events so far, in order. */
  readonly events: Effect.Effect<ReadonlyArray<Entry>>
}

/**
 * Options of a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Seeds the choices after `choices`; 0 takes the oldest ready channel every time. Default: random, reported in the `Run`. */
  readonly seed?: number | undefined
  /** The first decisions' choices (each taken modulo the number of ready channels). */
  readonly choices?: ReadonlyArray<number> | undefined
  /** Events after which the run stops as hung (a livelock). Default `TestkitConfig.schedulerMaxEvents`. */
  readonly maxEvents?: number | undefined
  /** Simulated time after which the run stops as hung. Default `TestkitConfig.schedulerMaxTime`. */
  readonly maxTime?: Duration.Input | undefined
  /** Called when the run hangs, before the body is interrupted: a last look at its state as it hung. */
  readonly onHung?: ((hung: Hung) => void) | undefined
}

/**
 * The run could not go on: nothing was runnable and no event or sleep was
 * left (`Idle`: everyone waits for something that will never come), or it
 * went past `maxTime` (`TimeLimit`) or `maxEvents` (`EventLimit`).
 *
 * @since 0.1.0
 * @category errors
 */
export class Hung extends Data.TaggedError("Hung")<{
  readonly reason: "Idle" | "TimeLimit" | "EventLimit"
  /** Events taken. */
  readonly events: number
  /** Simulated milliseconds since the run started. */
  readonly time: number
}> {
  override get message(): string {
    const why = this.reason === "Idle"
      ? "nothing left to run and nothing to wait for"
      : this.reason === "TimeLimit"
      ? "only sleeps left, past the time limit"
      : "past the event limit"
    return `the run hung after ${this.events} events at t=${this.time}ms: ${why}`
  }
}

/**
 * Whether a value is a `Hung`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isHung = (u: unknown): u is Hung => Predicate.isTagged(u, "Hung")

/**
 * What a run did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Run<A, E> {
  readonly seed: number
  readonly choices: ReadonlyArray<number>
  /** The body's exit; a `Hung` failure when the run could not go on. */
  readonly exit: Exit.Exit<A, E | Hung>
  readonly events: ReadonlyArray<Entry>
  /** The index chosen at each decision: `{ seed: 0, choices: decisions }` replays the run. */
  readonly decisions: ReadonlyArray<number>
  /** Simulated milliseconds the run took. */
  readonly time: number
}

// -----------------------------------------------------------------------------
// The choices
// -----------------------------------------------------------------------------

/**
 * The raw choice the generator seeded by `seed` makes at decision `index`
 * (a function of both alone, so a prefix of a seeded run can be written
 * out as explicit `choices`). Always 0 for seed 0.
 *
 * @since 0.1.0
 * @category choices
 */
export const seededChoice = (seed: number, index: number): number => {
  if (seed === 0) return 0
  // A 32-bit integer hash (lowbias32) of the seed and the index.
  let z = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0
  z ^= z >>> 16
  z = Math.imul(z, 0x7feb352d)
  z ^= z >>> 15
  z = Math.imul(z, 0x846ca68b)
  z ^= z >>> 16
  return (z >>> 0) % choiceRange
}

/**
 * Raw choices are below this; a decision takes one modulo its number of
 * ready channels.
 *
 * @since 0.1.0
 * @category choices
 */
export const choiceRange = 256

// -----------------------------------------------------------------------------
// The runtime
// -----------------------------------------------------------------------------

interface Pending {
  readonly event: Event
  readonly effect: Effect.Effect<void>
}

interface ChannelState {
  readonly id: number
  readonly name: string
  readonly queue: Array<Pending>
  ready: boolean
}

interface Sleep {
  readonly at: number
  readonly order: number
  readonly wake: () => void
}

// The mutable core. Everything here runs synchronously on the JavaScript
// thread, from inside the tasks it counts or from completions of external
// work, which is why plain fields suffice.
class Runtime {
  pending = 0
  inFlight = 0
  epoch = 0
  now = 0
  decisionCount = 0
  channelCount = 0
  sleepCount = 0
  stopped = false
  limitEvents: number
  limitTime: number
  readonly ready: Array<ChannelState> = []
  readonly sleeps: Array<Sleep> = []
  readonly events: Array<Entry> = []
  readonly decisions: Array<number> = []
  readonly settlers: Array<() => void> = []
  driver: ((next: Pending) => void) | undefined = undefined
  onHung: ((hung: Hung) => void) | undefined = undefined
  readonly parentDispatcher: Scheduler.SchedulerDispatcher
  readonly dispatcher: Scheduler.SchedulerDispatcher
  readonly scheduler: Scheduler.Scheduler

  readonly seed: number
  readonly choices: ReadonlyArray<number>
  readonly maxEvents: number
  readonly maxTime: number

  constructor(
    seed: number,
    choices: ReadonlyArray<number>,
    maxEvents: number,
    maxTime: number,
    parent: Scheduler.Scheduler
  ) {
    this.seed = seed
    this.choices = choices
    this.maxEvents = maxEvents
    this.maxTime = maxTime
    this.limitEvents = maxEvents
    this.limitTime = maxTime
    this.parentDispatcher = parent.makeDispatcher()
    this.dispatcher = {
      scheduleTask: (task, priority) => {
        this.pending++
        this.parentDispatcher.scheduleTask(() => {
          try {
            task()
          } finally {
            this.pending--
            this.quiescent()
          }
        }, priority)
      },
      flush: () => this.parentDispatcher.flush()
    }
    // One dispatcher for every fiber of the run: the count is global.
    this.scheduler = {
      executionMode: parent.executionMode,
      shouldYield: (fiber) => parent.shouldYield(fiber),
      makeDispatcher: () => this.dispatcher
    }
  }

  schedule(task: () => void): void {
    this.dispatcher.scheduleTask(task, 0)
  }

  post(channel: ChannelState, pending: Pending): void {
    channel.queue.push(pending)
    if (!channel.ready) {
      channel.ready = true
      let at = this.ready.length
      while (at > 0 && this.ready[at - 1]!.id > channel.id) at--
      this.ready.splice(at, 0, channel)
    }
    this.quiescent()
  }

  choose(options: number): number {
    if (options < 2) return 0
    const index = this.decisionCount++
    const raw = index < this.choices.length ? this.choices[index]! : seededChoice(this.seed, index)
    const chose = raw % options
    this.decisions.push(chose)
    return chose
  }

  record(channel: string, event: Event, options: number, chose: number): void {
    this.events.push({ index: this.events.length, channel, event, options, chose })
  }

  stop(hung: Hung): void {
    const onHung = this.onHung
    if (onHung !== undefined) this.parentDispatcher.scheduleTask(() => onHung(hung), 0)
  }

  // After a hang, the body is interrupted and its finalizers may still need
  // events and time: give them as much again.
  extendLimits(): void {
    this.limitEvents = this.events.length + this.maxEvents
    this.limitTime = this.now + this.maxTime
  }

  // Called whenever the count may have reached zero: at the end of every
  // task, after a post, after external work completed. The decision waits
  // for a task of the runtime's own scheduler, which runs after the
  // microtasks queued meanwhile: code that wakes a fiber from a microtask
  // (core's `Broadcast` does, to batch its wake-ups) has then woken it, and
  // the count says so. Each call supersedes the decisions scheduled before.
  quiescent(): void {
    if (this.pending > 0 || this.inFlight > 0 || this.stopped) return
    const epoch = ++this.epoch
    this.parentDispatcher.scheduleTask(() => this.decide(epoch), 0)
  }

  decide(epoch: number): void {
    if (epoch !== this.epoch || this.pending > 0 || this.inFlight > 0 || this.stopped) return
    const driver = this.driver
    if (driver === undefined) return
    if (this.ready.length > 0) {
      if (this.events.length >= this.limitEvents) {
        return this.stop(new Hung({ reason: "EventLimit", events: this.events.length, time: this.now }))
      }
      const options = this.ready.length
      const chose = this.choose(options)
      const channel = this.ready[chose]!
      const next = channel.queue.shift()!
      if (channel.queue.length === 0) {
        channel.ready = false
        this.ready.splice(chose, 1)
      }
      this.record(channel.name, next.event, options, chose)
      this.driver = undefined
      this.schedule(() => driver(next))
      return
    }
    if (this.settlers.length > 0) {
      const settlers = this.settlers.splice(0)
      for (const settle of settlers) this.schedule(settle)
      return
    }
    const sleep = this.sleeps[0]
    if (sleep !== undefined && sleep.at <= this.limitTime) {
      this.sleeps.shift()
      this.now = sleep.at
      this.record("clock", { _tag: "Timer", at: sleep.at }, 0, 0)
      this.schedule(sleep.wake)
      return
    }
    this.stop(
      new Hung({ reason: sleep === undefined ? "Idle" : "TimeLimit", events: this.events.length, time: this.now })
    )
  }

  sleep(millis: number): Effect.Effect<void> {
    if (!(millis > 0)) return Effect.void
    return Effect.callback<void>((resume) => {
      const entry: Sleep = { at: this.now + millis, order: this.sleepCount++, wake: () => resume(Effect.void) }
      let at = this.sleeps.length
      while (at > 0 && this.sleeps[at - 1]!.at > entry.at) at--
      this.sleeps.splice(at, 0, entry)
      return Effect.sync(() => {
        const index = this.sleeps.indexOf(entry)
        if (index !== -1) this.sleeps.splice(index, 1)
      })
    })
  }

  readonly clock: Clock.Clock = {
    currentTimeMillisUnsafe: () => this.now,
    currentTimeMillis: Effect.sync(() => this.now),
    currentTimeNanosUnsafe: () => BigInt(Math.round(this.now * 1_000_000)),
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(this.now * 1_000_000))),
    monotonicTimeNanosUnsafe: () => BigInt(Math.round(this.now * 1_000_000)),
    monotonicTimeNanos: Effect.sync(() => BigInt(Math.round(this.now * 1_000_000))),
    sleep: (duration) => this.sleep(Duration.toMillis(duration))
  }
}

const makeApi = (runtime: Runtime, outside: Context.Context<never>): NetworkScheduler => {
  const newChannel = (name: string): ChannelState => ({ id: runtime.channelCount++, name, queue: [], ready: false })
  const channel = (name: string): Channel => {
    const state = newChannel(name)
    return {
      name,
      post: (event, effect) => Effect.sync(() => runtime.post(state, { event, effect }))
    }
  }
  const turn = (on: Channel, description: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const go = Deferred.makeUnsafe<void>()
      return Effect.andThen(
        on.post({ _tag: "Step", description }, Deferred.succeed(go, undefined)),
        Deferred.await(go)
      )
    })
  const external = <A, E, R>(description: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiber((fiber) => {
      const done = newChannel(`external ${description}`)
      const context = Context.merge(fiber.context as Context.Context<R>, outside)
      return Effect.callback<A, E>((resume) => {
        runtime.inFlight++
        const child = Effect.runForkWith(context)(effect)
        child.addObserver((exit) => {
          runtime.inFlight--
          runtime.post(done, {
            event: { _tag: "Completion", description },
            effect: Effect.sync(() => runtime.schedule(() => resume(exit)))
          })
        })
      })
    })
  const settle = Effect.callback<void>((resume) => {
    runtime.settlers.push(() => resume(Effect.void))
  })
  return {
    seed: runtime.seed,
    choices: runtime.choices,
    channel,
    turn,
    external,
    settle,
    events: Effect.sync(() => runtime.events.slice())
  }
}

/**
 * Runs `body` under a new scheduler: its fibers on the scheduler, its
 * `Clock` simulated, its `Random` seeded by the run's seed, its scope
 * closed before the run ends. A memory network the body makes with
 * `{ scheduler }` (or `transport(scheduler)`) sends everything through it.
 * Never fails: a failing or hung body is reported in the run's `exit`.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <A, E, R>(
  body: (scheduler: NetworkScheduler) => Effect.Effect<A, E, R | Scope.Scope>,
  options?: Options
): Effect.Effect<Run<A, E>, never, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const parent = yield* Scheduler.Scheduler
    const outerClock = yield* Clock.Clock
    const seed = options?.seed ?? (yield* Random.nextIntBetween(1, 2 ** 31 - 1))
    const runtime = new Runtime(
      seed,
      options?.choices ?? [],
      options?.maxEvents ?? TestkitConfig.schedulerMaxEvents,
      Duration.toMillis(Duration.fromInputUnsafe(options?.maxTime ?? TestkitConfig.schedulerMaxTime)),
      parent
    )
    const outside = Context.make(Scheduler.Scheduler, parent).pipe(Context.add(Clock.Clock, outerClock))
    const api = makeApi(runtime, outside)
    const hung = yield* Deferred.make<Hung>()
    runtime.onHung = (reason) => Deferred.doneUnsafe(hung, Exit.succeed(reason))

    // The scheduler's own fiber: it waits for `quiescent` to hand it the next
    // event, runs it, and waits again.
    const driver: Effect.Effect<never> = Effect.forever(
      Effect.flatMap(
        Effect.callback<Pending>((resume) => {
          runtime.driver = (next) => resume(Effect.succeed(next))
        }),
        (next) => next.effect
      )
    )
    // Forked from a fiber of the run, so that the first steps of both are
    // tasks the scheduler counts.
    const launched = yield* Deferred.make<readonly [Fiber.Fiber<never>, Fiber.Fiber<A, E>]>()
    yield* Effect.forkDetach(
      Effect.gen(function*() {
        const driverFiber = yield* Effect.forkDetach(driver)
        const bodyFiber = yield* Effect.forkDetach(Effect.scoped(body(api)).pipe(Random.withSeed(seed)))
        yield* Deferred.succeed(launched, [driverFiber, bodyFiber] as const)
      }).pipe(
        Effect.provideService(Scheduler.Scheduler, runtime.scheduler),
        Effect.provideService(Clock.Clock, runtime.clock)
      ) as Effect.Effect<void>
    )
    const [driverFiber, bodyFiber] = yield* Deferred.await(launched)

    const finished = Effect.raceFirst(
      Effect.map(Fiber.await(bodyFiber), (exit) => ({ _tag: "Exited", exit }) as const),
      Effect.map(Deferred.await(hung), (hung) => ({ _tag: "Hung", hung }) as const)
    )
    const first = yield* finished
    let exit: Exit.Exit<A, E | Hung>
    if (first._tag === "Exited") {
      exit = first.exit
    } else {
      // Stop the body; its finalizers still run on the scheduler, with as
      // many events and as much time again, and a second hang while they
      // do leaves it where it is.
      exit = Exit.fail(first.hung)
      options?.onHung?.(first.hung)
      const again = yield* Deferred.make<Hung>()
      runtime.onHung = (reason) => Deferred.doneUnsafe(again, Exit.succeed(reason))
      runtime.extendLimits()
      bodyFiber.interruptUnsafe()
      runtime.quiescent()
      yield* Effect.raceFirst(Effect.asVoid(Fiber.await(bodyFiber)), Effect.asVoid(Deferred.await(again)))
    }
    runtime.stopped = true
    driverFiber.interruptUnsafe()
    return {
      seed,
      choices: runtime.choices,
      exit,
      events: runtime.events,
      decisions: runtime.decisions,
      time: runtime.now
    }
  }) as Effect.Effect<Run<A, E>, never, Exclude<R, Scope.Scope>>

// -----------------------------------------------------------------------------
// Reading a run
// -----------------------------------------------------------------------------

const decoder = new TextDecoder("utf-8", { fatal: true })

/**
 * Bytes as a transcript shows them: a JSON string when they are UTF-8
 * (control bytes escaped, so a length prefix shows as `\u0000\u0000...`),
 * else their size and first bytes in hex.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatBytes = (bytes: Uint8Array, maxChars = 160): string => {
  let text: string | undefined
  try {
    text = decoder.decode(bytes)
  } catch {
    text = undefined
  }
  if (text !== undefined) {
    const quoted = JSON.stringify(text)
    return quoted.length <= maxChars ? quoted : `${quoted.slice(0, maxChars)}…" (${bytes.byteLength} bytes)`
  }
  const shown = Array.from(bytes.subarray(0, 16), (byte) => byte.toString(16).padStart(2, "0")).join(" ")
  return `${bytes.byteLength} bytes: ${shown}${bytes.byteLength > 16 ? " …" : ""}`
}

/**
 * An event as one line: `#12 ann→server #1  data "say 1\n"`, with the
 * decision (`[2 of 3]`) when there was one.
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatEntry = (entry: Entry): string => {
  const what = (() => {
    switch (entry.event._tag) {
      case "Data":
        return `data ${formatBytes(entry.event.bytes)}`
      case "End":
        return "end (FIN)"
      case "Close":
        return "close (FIN, then EPIPE)"
      case "Reset":
        return "reset (RST)"
      case "Accept":
        return `${entry.event.connection} accepted`
      case "Step":
        return entry.event.description
      case "Completion":
        return `${entry.event.description} completed`
      case "Timer":
        return `time moves to ${entry.event.at} ms`
    }
  })()
  const decision = entry.options > 1 ? `  [${entry.chose + 1} of ${entry.options}]` : ""
  return `#${entry.index} ${entry.channel}  ${what}${decision}`
}

/**
 * The events of a run as lines, the last `limit` of them (all by default).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatEvents = (events: ReadonlyArray<Entry>, limit = Infinity): string => {
  const shown = events.length > limit ? events.slice(events.length - limit) : events
  const skipped = events.length - shown.length
  return [...(skipped > 0 ? [`(${skipped} earlier events)`] : []), ...shown.map(formatEntry)].join("\n")
}

/**
 * A run that failed or hung: its seed, the decisions that replay it, its
 * events and the cause.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExplorationFailed extends Data.TaggedError("ExplorationFailed")<{
  readonly seed: number
  readonly decisions: ReadonlyArray<number>
  readonly events: ReadonlyArray<Entry>
  readonly cause: Cause.Cause<unknown>
}> {
  override get message(): string {
    return `failed under seed ${this.seed} (replay: { seed: ${this.seed} }) after ${this.events.length} events:\n` +
      `${Cause.pretty(this.cause)}\nlast events:\n${formatEvents(this.events, 40)}`
  }
}

/**
 * `run`, failing with `ExplorationFailed` (which prints the seed, the cause
 * and the last events) when the body fails or hangs. For a test that tries
 * one seed: `explore(body, { seed })` replays it exactly.
 *
 * @since 0.1.0
 * @category running
 */
export const explore = <A, E, R>(
  body: (scheduler: NetworkScheduler) => Effect.Effect<A, E, R | Scope.Scope>,
  options?: Options
): Effect.Effect<A, ExplorationFailed, Exclude<R, Scope.Scope>> =>
  Effect.flatMap(run(body, options), (result) =>
    Exit.isSuccess(result.exit)
      ? Effect.succeed(result.exit.value)
      : Effect.fail(
        new ExplorationFailed({
          seed: result.seed,
          decisions: result.decisions,
          events: result.events,
          cause: result.exit.cause
        })
      ))
