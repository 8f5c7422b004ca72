/**
 * The life of one accepted connection: open the socket in a scope of its own,
 * run the app's handler between its input and output, and end with exactly
 * one typed exit reason, logged with the connection id and reported.
 *
 * Stage: connection scope. Whatever the exit (success, typed failure, defect,
 * interrupt), the app's fiber is interrupted, then the scope closes and
 * releases the socket, then everything the handler acquired. On success the write side is half-closed first, after the
 * pending output; on any other exit the socket is closed at once, unsent
 * output dropped (see `Duplex.open`).
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
import * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as Config from "./Config.ts"
import * as ConnectionError from "./ConnectionError.ts"
import * as Duplex from "./Duplex.ts"
import * as IdleSweeper from "./IdleSweeper.ts"
import * as Outbound from "./Outbound.ts"
import * as Transport from "./Transport.ts"
import { SocketAddresses } from "./SocketAddresses.ts"

/**
 * What a handler knows about its connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionInfo {
  /** Unique per server, increasing from 1. */
  readonly id: number
  readonly localAddress: string
  readonly remoteAddress: string
  /** When the connection was accepted, in epoch milliseconds (from `Clock`). */
  readonly startedAt: number
  /**
   * Completes when the server starts draining. An app may watch it to say
   * goodbye and end its output; otherwise the connection runs until the
   * grace period ends and is then interrupted.
   */
  readonly draining: Effect.Effect<void>
  /**
   * Ends the connection at once with `reason` as its exit reason, without
   * waiting for its pending output: the app is interrupted, what it queued
   * and what the socket has not sent yet is dropped, and the socket is
   * closed. For cutting off a peer that does not read (`SlowConsumer`), or
   * one the app will no longer serve. The first abort wins; once the
   * connection is ending, it does nothing. An app that wants its last words
   * (an error reply) written fails instead, after queueing them.
   */
  abort(reason: ConnectionError.ConnectionErrorReason): Effect.Effect<void>
}

/**
 * An app over raw bytes: given the connection's input, the stream of bytes to
 * send back. The output ending closes the connection (after writing it all).
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<E = never, R = never> = (
  input: Stream.Stream<Uint8Array, ConnectionError.ConnectionError>,
  info: ConnectionInfo
) => Stream.Stream<Uint8Array, E | ConnectionError.ConnectionError, R>

/**
 * The app's output ended and the connection was closed by the server side.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export class Completed extends Data.TaggedClass("Completed")<{}> {}

/**
 * The connection's fiber was interrupted (server shut down, or a supervisor
 * stopped it).
 *
 * @since 0.1.0
 * @category exit reasons
 */
export class Interrupted extends Data.TaggedClass("Interrupted")<{}> {}

/**
 * The connection ended on its own (app or peer closed) after the server
 * started draining.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export class Drained extends Data.TaggedClass("Drained")<{}> {}

/**
 * The connection was refused: the server was at its connection limit
 * (`why: "limit"`), already served `limit` connections from the peer's
 * address (`why: "per-address"`, with that `address`), or was draining
 * (`why: "draining"`).
 *
 * @since 0.1.0
 * @category exit reasons
 */
export class Refused extends Data.TaggedClass("Refused")<{
  readonly why: "limit" | "per-address" | "draining"
  readonly limit: number
  readonly address?: string | undefined
}> {
  /** What the server logs: `connection refused: ...`. */
  get message(): string {
    switch (this.why) {
      case "draining":
        return "connection refused: the server is draining"
      case "per-address":
        return `connection refused: limit of ${this.limit} connections from ${this.address} reached`
      default:
        return `connection refused: limit of ${this.limit} connections reached`
    }
  }
}

/**
 * What a refused connection is sent before it is closed: the same bytes
 * whatever the reason, or bytes per reason (a "server full" line, a "too
 * many connections from your address" one); `undefined` sends nothing.
 *
 * @since 0.1.0
 * @category models
 */
export type Refusal = Uint8Array | ((refused: Refused) => Uint8Array | undefined)

/**
 * The bytes `refusal` sends to a connection refused with `refused`.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export const refusalBytes = (refusal: Refusal | undefined, refused: Refused): Uint8Array | undefined =>
  typeof refusal === "function" ? refusal(refused) : refusal

/**
 * How a connection ended: `Completed`, `Drained`, `Refused`, `Interrupted`, or one of the
 * `ConnectionError` reasons (a peer that closes in order ends with
 * `PeerClosed`).
 *
 * @since 0.1.0
 * @category exit reasons
 */
export type ExitReason = Completed | Drained | Refused | Interrupted | ConnectionError.ConnectionErrorReason

/**
 * The reason an orderly close by the peer is reported with.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export const closedByPeer: ExitReason = new ConnectionError.PeerClosed({ detail: "end of stream" })

/**
 * Turns the exit of a connection's effect into its exit reason: typed
 * `ConnectionError`s keep their reason, any other failure or defect is a
 * `HandlerFailed`, interruption is `Interrupted`.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export const exitReason = <E>(exit: Exit.Exit<ExitReason, E>): ExitReason => {
  if (Exit.isSuccess(exit)) return exit.value
  const cause = exit.cause
  const error = Cause.findError(cause)
  if (Result.isSuccess(error)) {
    const failure = error.success
    return failure instanceof ConnectionError.ConnectionError
      ? failure.reason
      : new ConnectionError.HandlerFailed({ cause: failure })
  }
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) return new ConnectionError.HandlerFailed({ cause: defect.success })
  return new Interrupted()
}

/**
 * Options for running one connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The server's name, for the `server` attribute of the connection's span (see `runner`). Default `"server"`. */
  readonly name?: string | undefined
  /** Capacity of the outbound queue, in chunks. Default `Config.outboundQueueChunks`. */
  readonly outboundQueueChunks?: number | undefined
  /**
   * Bytes the write stage holds at most: queued, or handed to the socket and
   * not yet taken (see `Outbound`). Default `Config.outboundQueueBytes`.
   */
  readonly outboundQueueBytes?: number | undefined
  /**
   * Close a connection with no traffic in either direction for this long
   * (`IdleTimeout`). Default `Config.idleTimeout`; `Duration.infinity` disables it.
   */
  readonly idleTimeout?: Duration.Input | undefined
  /**
   * The sweeper that keeps the idle timeout (a server shares one between its
   * connections, see `IdleSweeper`); it replaces `idleTimeout`. Without one,
   * a connection with a finite `idleTimeout` starts a sweeper of its own.
   */
  readonly idleSweeper?: IdleSweeper.IdleSweeper | undefined
  /**
   * What to tell a peer closed for being idle (a protocol's goodbye line),
   * given the timeout. Written as the connection closes, only if nothing
   * else waits to be written (a peer with output pending is not reading
   * it), and for at most `failureFlushTimeout`; the connection ends with
   * `IdleTimeout` either way. Default: nothing is written.
   */
  readonly idleNotice?: ((after: Duration.Duration) => Uint8Array) | undefined
  /**
   * When the app fails, how long its queued output may still take to be
   * written before the connection is closed at once. Default `Config.failureFlushTimeout`.
   */
  readonly failureFlushTimeout?: Duration.Input | undefined
  /** Completed by the server when it starts draining (see `ConnectionInfo.draining`). Default: never. */
  readonly draining?: Deferred.Deferred<void> | undefined
  /**
   * Decides whether the connection is served, once its addresses are final
   * (see `ConnectionInfo.remoteAddress`), before the app starts: a
   * `Refused` ends it with that reason, after `refusal` is written. It runs
   * in the connection's scope, so what it takes (a per-address slot) is
   * released when the connection ends. A server passes its per-address
   * limit here. Default: every connection is served.
   */
  readonly admit?: ((info: ConnectionInfo) => Effect.Effect<Refused | undefined, never, Scope.Scope>) | undefined
  /**
   * What a refused connection is sent before it is closed (a "server full"
   * line): by a server, whatever refused it; here, one `admit` refused.
   * Default nothing.
   */
  readonly refusal?: Refusal | undefined
  /** Called once with the exit reason when the connection has ended and its scope is closed. */
  readonly onEnd?: ((info: ConnectionInfo, reason: ExitReason, stats: Duplex.Stats) => Effect.Effect<void>) | undefined
}

const unknownAddresses = { local: "unknown", remote: "unknown" }

/**
 * Runs `handler` on one accepted socket until it ends and returns its exit
 * reason. Never fails: every failure becomes the exit reason. A connection
 * aborted while writing (idle timeout, failure-flush cut-off) is reported
 * with that reason, and its fiber then ends interrupted.
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E, R>(
  socket: Socket.Socket,
  id: number,
  handler: Handler<E, R>,
  options: Options = {}
): Effect.Effect<ExitReason, never, R> => runner(handler, options)(socket, id)

/**
 * `run` for many connections of one handler and options (a server's): what
 * they share is prepared once.
 *
 * With a tracer installed (`Tracer.Tracer` provided: an OTLP exporter, a
 * test's), each connection is a span of it, a root one, named `connection`, with the
 * attributes `server`, `connection.id`, `connection.peer` and
 * `connection.local`, and on its end `connection.reason` (the exit
 * reason's tag) and `connection.detail` (its message, when it has one).
 * It ends failed (error status) when the reason is a failure (see
 * `isFailure`), interrupted for `Interrupted`, and succeeded otherwise.
 * The app runs under it: its spans (a request's) are its children. One
 * span per connection, none per chunk; with no tracer installed, none.
 *
 * @since 0.1.0
 * @category running
 */
export const runner = <E, R>(
  handler: Handler<E, R>,
  options: Options = {}
): (socket: Socket.Socket, id: number) => Effect.Effect<ExitReason, never, R> => {
  const shared = new Shared(handler, options)
  return (socket, id) => Effect.withFiber((fiber) => new Run(shared, socket, id, fiber).main())
}

// What every connection run with one handler and options shares.
class Shared<E, R> {
  readonly handler: Handler<E, R>
  readonly outbound: Outbound.Options
  readonly idleTimeout: Duration.Duration
  readonly idleSweeper: IdleSweeper.IdleSweeper | undefined
  readonly flushTimeout: Duration.Duration
  readonly idleNotice: Options["idleNotice"]
  readonly draining: Deferred.Deferred<void> | undefined
  readonly awaitDraining: Effect.Effect<void>
  readonly onEnd: Options["onEnd"]
  readonly admit: Options["admit"]
  readonly refusal: Refusal | undefined
  readonly name: string

  constructor(handler: Handler<E, R>, options: Options) {
    this.handler = handler
    this.name = options.name ?? "server"
    this.admit = options.admit
    this.refusal = options.refusal
    this.outbound = {
      chunks: options.outboundQueueChunks ?? Config.outboundQueueChunks,
      bytes: options.outboundQueueBytes ?? Config.outboundQueueBytes
    }
    this.idleSweeper = options.idleSweeper
    this.idleTimeout = options.idleSweeper?.timeout ??
      Duration.fromInputUnsafe(options.idleTimeout ?? Config.idleTimeout)
    this.flushTimeout = Duration.fromInputUnsafe(options.failureFlushTimeout ?? Config.failureFlushTimeout)
    this.idleNotice = options.idleNotice
    this.draining = options.draining
    this.awaitDraining = options.draining === undefined ? Effect.never : Deferred.await(options.draining)
    this.onEnd = options.onEnd
  }
}

// One connection. A class rather than closures over the locals of a
// generator: a connection holds this for its whole life, and methods on the
// prototype cost it nothing. It is also what the app gets as its
// `ConnectionInfo` (one object fewer per connection, and `abort` a method).
//
// The connection's fiber opens the socket, starts the app in a fiber of its
// own, which pulls the app's output into the outbound queue, and is then
// the writer: it drains the queue into the socket in batches, waiting on
// the socket. The app's end or failure is queued after its output, so its
// last words (an error reply) are written before the failure ends the
// connection. The queue hands a chunk to a waiting writer at once (see
// `Outbound`), so a chunk costs no extra turn of the event loop.
//
// What must end the connection while the writer may be blocked on the
// socket interrupts this fiber, with a reason, while it writes: the idle
// timeout (kept by the server's `IdleSweeper`), the app's own abort
// (`ConnectionInfo.abort`), and the cut-off of an app that failed and whose
// last words could not be written within the flush timeout. The cut-off is
// armed only when the app fails, and nothing races the writer: an idle
// connection holds two fibers (its own and the app's).
class Run<E, R> implements IdleSweeper.Watcher, ConnectionInfo {
  readonly id: number
  // Set again once the socket is open, when it learned them (a PROXY header).
  localAddress: string
  remoteAddress: string
  readonly startedAt: number
  readonly draining: Effect.Effect<void>
  readonly shared: Shared<E, R>
  readonly socket: Socket.Socket
  readonly fiber: Fiber.Fiber<unknown, unknown>
  // The fiber's context before the connection's log annotation was added.
  readonly context: Context.Context<never>
  // Set once the socket is open; stays at zero for a peer gone before that.
  stats: Duplex.Stats
  reason: ExitReason | undefined = undefined
  // Why the connection was aborted (idle timeout, the app's abort, flush
  // cut-off), if it was: an abort interrupts the writer, which is this
  // fiber, so the connection ends interrupted, but reports this.
  abortedWith: Cause.Cause<unknown> | undefined = undefined
  // The writer runs (`writing`), then has stopped (`written`); an abort
  // before the writer starts (by an app that aborts as it starts) stops it
  // from starting.
  writing = false
  finished = false
  duplex: Duplex.Duplex | undefined = undefined
  outbound: Outbound.Outbound<E | ConnectionError.ConnectionError> | undefined = undefined
  app: Fiber.Fiber<void, unknown> | undefined = undefined
  sweeper: IdleSweeper.IdleSweeper | undefined = undefined
  watch: IdleSweeper.Watch | undefined = undefined
  span: Tracer.Span | undefined = undefined

  constructor(shared: Shared<E, R>, socket: Socket.Socket, id: number, fiber: Fiber.Fiber<unknown, unknown>) {
    this.shared = shared
    this.socket = socket
    this.fiber = fiber
    this.context = fiber.context
    const addresses = Context.getOrUndefined(fiber.context, SocketAddresses) ?? unknownAddresses
    const startedAt = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
    this.id = id
    this.localAddress = addresses.local
    this.remoteAddress = addresses.remote
    this.startedAt = startedAt
    this.draining = shared.awaitDraining
    this.stats = { bytesIn: 0, bytesOut: 0, peerEnded: false, lastActivity: startedAt }
  }

  main(): Effect.Effect<ExitReason, never, R> {
    // Without a tracer installed (effect's own, the default, keeps its
    // spans nowhere), no span: a connection then costs nothing for tracing.
    if (Context.getOrUndefined(this.context, Tracer.Tracer) === undefined) return this.begin(undefined)
    return Effect.flatMap(
      Effect.makeSpan("connection", {
        root: true,
        kind: "server",
        attributes: {
          server: this.shared.name,
          "connection.id": this.id,
          "connection.peer": this.remoteAddress,
          "connection.local": this.localAddress
        }
      }),
      (span) => this.begin(span)
    )
  }

  begin(span: Tracer.Span | undefined): Effect.Effect<ExitReason, never, R> {
    this.span = span
    // The connection's scope, and its id on every log line: both set here,
    // in this fiber's context, and put back when the connection ends (what
    // `Effect.scoped` and `Effect.annotateLogs` do, without their closures
    // and frames for the life of every connection).
    // The connection's span is the parent of the app's: in the context too.
    const scope = Scope.makeUnsafe()
    const annotations = Context.get(this.context, References.CurrentLogAnnotations)
    const context = Context.add(
      Context.add(this.context, References.CurrentLogAnnotations, { ...annotations, connection: this.id }),
      Scope.Scope,
      scope
    )
    this.fiber.setContext(span === undefined ? context : Context.add(context, Tracer.ParentSpan, span))
    const reason = () => this.reason ?? new Interrupted()
    const admit = this.shared.admit
    const learns = Transport.capabilities(this.socket).addresses
    const open = Effect.flatMap(Duplex.open(this.socket), (duplex) => this.opened(duplex, learns))
    // Admitted as soon as the peer's address is final: before the socket is
    // opened (a TLS handshake, say), so that a peer over its limit is
    // refused before it costs more, unless opening is what tells the
    // address (a PROXY header); then in `opened`.
    const admitted = admit === undefined || learns !== undefined ? open : Effect.flatMap(admit(this), (refused) =>
      refused === undefined ? open : this.refuse(refused, Duplex.open(this.socket)))
    const served = admitted.pipe(
      Effect.onExit((exit) => this.end(scope, exit)),
      Effect.matchCause({ onFailure: reason, onSuccess: reason })
    )
    // The scope is in the context (above).
    return served as Effect.Effect<ExitReason, never, R>
  }

  // Closes the scope (the socket first, see `Duplex.open`, then the app's
  // resources), then reports. In `onExit`, so that an interrupted
  // connection (drain, server shutdown) is closed, logged and counted like
  // any other. A finalizer that fails fails the connection, as in
  // `Effect.scoped`.
  end(scope: Scope.Closeable, exit: Exit.Exit<ExitReason, unknown>): Effect.Effect<void> {
    const close = Effect.andThen(this.idleGoodbye(), Scope.close(scope, exit))
    const closing = this.app === undefined ? close : Effect.andThen(Fiber.interrupt(this.app), close)
    return Effect.flatMap(Effect.exit(closing), (closed) =>
      this.report(
        Exit.isSuccess(closed)
          ? exit
          : Exit.isSuccess(exit)
          ? Exit.failCause(closed.cause)
          : Exit.failCause(Cause.combine(exit.cause, closed.cause))
      ))
  }

  // The idle notice, for a connection closed for being idle. The writer
  // has stopped (the abort interrupted it), so the notice is written
  // directly, after everything the writer wrote; only when nothing is left
  // waiting, so that it goes at once. Bounded all the same: this runs while
  // the connection closes, and must not hold the close.
  idleGoodbye(): Effect.Effect<void> {
    const notice = this.shared.idleNotice
    const aborted = this.abortedWith
    if (notice === undefined || aborted === undefined || this.duplex === undefined) return Effect.void
    if (this.outbound === undefined || this.outbound.bufferedBytes > 0) return Effect.void
    const reason = exitReason(Exit.failCause(aborted))
    if (reason._tag !== "IdleTimeout") return Effect.void
    return Effect.ignore(Effect.timeoutOption(this.duplex.write([notice(reason.after)]), this.shared.flushTimeout))
  }

  opened(
    duplex: Duplex.Duplex,
    learns: Transport.Capabilities["addresses"]
  ): Effect.Effect<ExitReason, unknown, R | Scope.Scope> {
    if (learns === undefined) return this.start(duplex)
    const learned = learns()
    if (learned !== undefined) {
      this.localAddress = learned.local
      this.remoteAddress = learned.remote
      this.span?.attribute("connection.peer", learned.remote)
      this.span?.attribute("connection.local", learned.local)
    }
    const admit = this.shared.admit
    const admitted = admit === undefined ? this.start(duplex) : Effect.flatMap(admit(this), (refused) =>
      refused === undefined ? this.start(duplex) : this.refuse(refused, Effect.succeed(duplex)))
    return this.debug()
      ? Effect.andThen(
        Effect.annotateLogs(
          Effect.logDebug(learned === undefined ? "PROXY header read: keeping the listener's addresses" : "PROXY header read"),
          { peer: this.remoteAddress, local: this.localAddress }
        ),
        admitted
      )
      : admitted
  }

  // Whether debug lines are logged: below that level, none is built.
  debug(): boolean {
    return !LogLevel.isGreaterThan(this.fiber.getRef(References.MinimumLogLevel), "Debug")
  }

  start(duplex: Duplex.Duplex): Effect.Effect<ExitReason, unknown, R | Scope.Scope> {
    // At debug level each connection's start is logged with its peer (the
    // end is logged at info with its reason), and so is the start of a
    // drain for it, by a fiber that waits for it in the connection's scope.
    if (!this.debug()) return this.serve(duplex)
    const opened = Effect.annotateLogs(Effect.logDebug("connection opened"), {
      peer: this.remoteAddress,
      local: this.localAddress
    })
    const watchDrain = this.shared.draining === undefined ? Effect.void : Effect.forkScoped(
      Effect.andThen(this.draining, Effect.logDebug("drain started: the connection is told to finish")),
      { startImmediately: true }
    )
    return Effect.andThen(opened, Effect.andThen(watchDrain, this.serve(duplex)))
  }

  // Opens the socket (`open`) if it is not yet, writes the refusal, if
  // there is one, and ends in order. The refusal is a line or so, which the
  // socket takes at once; a peer that is gone makes it fail, and the
  // connection is refused all the same.
  refuse(
    refused: Refused,
    open: Effect.Effect<Duplex.Duplex, ConnectionError.ConnectionError, Scope.Scope>
  ): Effect.Effect<ExitReason, never, Scope.Scope> {
    const refusal = refusalBytes(this.shared.refusal, refused)
    const written = Effect.flatMap(open, (duplex) => {
      this.duplex = duplex
      this.stats = duplex.stats
      return Effect.andThen(refusal === undefined ? Effect.void : duplex.write([refusal]), duplex.end)
    })
    return Effect.logWarning(refused.message).pipe(Effect.andThen(Effect.ignore(written)), Effect.as(refused))
  }

  serve(duplex: Duplex.Duplex): Effect.Effect<ExitReason, unknown, R | Scope.Scope> {
    this.duplex = duplex
    this.stats = duplex.stats
    const outbound = this.outbound = Outbound.make(duplex, this.shared.outbound)
    const app = this.shared.handler(duplex.input, this).pipe(
      Stream.runForEachArray(outbound.offer),
      Effect.onExit((exit) => this.appEnded(exit)),
      // Started at once, in this turn: forking for a later turn would give
      // this fiber a scheduler dispatcher of its own to hold for its life.
      // Not registered in the scope: `end` interrupts it, first.
      Effect.forkDetach({ startImmediately: true })
    )
    const sweeper = this.shared.idleSweeper
    return Effect.flatMap(app, (fiber) => {
      this.app = fiber
      return sweeper !== undefined || !Duration.isFinite(this.shared.idleTimeout)
        ? this.write(sweeper)
        : Effect.flatMap(IdleSweeper.make(this.shared.idleTimeout), (own) => this.write(own))
    })
  }

  appEnded(exit: Exit.Exit<void, E | ConnectionError.ConnectionError>): Effect.Effect<void, never, Scope.Scope> {
    const outbound = this.outbound!
    if (Exit.isSuccess(exit)) return outbound.end()
    if (Cause.hasInterruptsOnly(exit.cause)) return outbound.failCause(exit.cause)
    return Effect.andThen(
      outbound.failCause(exit.cause),
      Effect.forkScoped(
        Effect.andThen(Effect.sleep(this.shared.flushTimeout), Effect.sync(() => this.abortWith(exit.cause))),
        { startImmediately: true }
      )
    )
  }

  write(sweeper: IdleSweeper.IdleSweeper | undefined): Effect.Effect<ExitReason, unknown> {
    this.sweeper = sweeper
    if (this.abortedWith !== undefined) {
      this.finished = true
      return Effect.failCause(this.abortedWith)
    }
    this.watch = sweeper?.watch(this)
    this.writing = true
    return Effect.flatMap(Effect.exit(this.outbound!.run), (written) => this.written(written))
  }

  written(written: Exit.Exit<void, unknown>): Effect.Effect<ExitReason, unknown> {
    this.writing = false
    this.finished = true
    if (this.watch !== undefined) this.sweeper!.unwatch(this.watch)
    if (Exit.isFailure(written)) {
      // An abort interrupts this fiber; the interruption is turned here
      // into the abort's reason (unless the write failed of itself), the
      // scope closes with it, and the report tells it rather than the
      // interruption this fiber then ends with.
      if (this.abortedWith !== undefined && !Cause.hasInterruptsOnly(written.cause)) this.abortedWith = written.cause
      return Effect.failCause(this.abortedWith ?? written.cause)
    }
    const duplex = this.duplex!
    return Effect.andThen(duplex.end, Effect.sync(() => duplex.stats.peerEnded ? closedByPeer : new Completed()))
  }

  abort(reason: ConnectionError.ConnectionErrorReason): Effect.Effect<void> {
    return Effect.suspend(() => {
      const first = !this.finished && this.abortedWith === undefined
      this.abortWith(Cause.fail(ConnectionError.make(reason)))
      // Logged from the aborting fiber (the app's): the connection's
      // own may be interrupted by now.
      return first && this.debug()
        ? Effect.annotateLogs(Effect.logDebug(`connection aborted: ${reason.message}`), { reason: reason._tag })
        : Effect.void
    })
  }

  abortWith(cause: Cause.Cause<unknown>): void {
    if (this.finished || this.abortedWith !== undefined) return
    this.abortedWith = cause
    if (this.writing) this.fiber.interruptUnsafe()
  }

  onIdle(): void {
    this.abortWith(Cause.fail(ConnectionError.make(new ConnectionError.IdleTimeout({ after: this.sweeper!.timeout }))))
  }

  endSpan(reason: ExitReason): void {
    const span = this.span
    if (span === undefined) return
    span.attribute("connection.reason", reason._tag)
    const detail = (reason as { readonly message?: unknown }).message
    if (typeof detail === "string" && detail !== "") span.attribute("connection.detail", detail)
    const exit = isFailure(reason)
      ? Exit.fail(reason)
      : reason._tag === "Interrupted"
      ? Exit.interrupt()
      : Exit.succeed(reason)
    span.end(this.fiber.getRef(Clock.Clock).currentTimeNanosUnsafe(), exit)
  }

  report(result: Exit.Exit<ExitReason, unknown>): Effect.Effect<void> {
    const exit = this.abortedWith !== undefined && Exit.isFailure(result) && Cause.hasInterruptsOnly(result.cause)
      ? Exit.failCause(this.abortedWith)
      : result
    const ended = exitReason(exit)
    const draining = this.shared.draining
    const reason = this.reason =
      (ended._tag === "Completed" || ended === closedByPeer) && draining !== undefined &&
        Deferred.isDoneUnsafe(draining)
        ? new Drained()
        : ended
    this.endSpan(reason)
    const logged = logEnd(this, reason, this.stats, exit)
    const onEnd = this.shared.onEnd
    return Effect.ensuring(
      onEnd === undefined ? logged : Effect.andThen(logged, onEnd(this, reason, this.stats)),
      Effect.sync(() => this.fiber.setContext(this.context))
    )
  }
}

/**
 * Whether a connection that ended with `reason` failed: every
 * `ConnectionError` reason but an orderly close by the peer (`PeerClosed`)
 * and the idle timeout (the server's policy, like a drain). Its span ends
 * with an error status.
 *
 * @since 0.1.0
 * @category exit reasons
 */
export const isFailure = (reason: ExitReason): boolean => {
  switch (reason._tag) {
    case "Completed":
    case "Drained":
    case "Refused":
    case "Interrupted":
    case "PeerClosed":
    case "IdleTimeout":
      return false
    default:
      return true
  }
}

const logEnd = Effect.fnUntraced(function*(
  info: ConnectionInfo,
  reason: ExitReason,
  stats: Duplex.Stats,
  exit: Exit.Exit<unknown, unknown>
) {
  const durationMs = (yield* Clock.currentTimeMillis) - info.startedAt
  const fields = {
    peer: info.remoteAddress,
    reason: reason._tag,
    durationMs,
    bytesIn: stats.bytesIn,
    bytesOut: stats.bytesOut
  }
  const log = reason._tag === "HandlerFailed" && Exit.isFailure(exit)
    ? Effect.logWarning("connection closed", Cause.pretty(exit.cause))
    : Effect.logInfo("connection closed")
  // A failed handshake says why (which certificate, which header): the
  // reason's tag alone does not tell an operator what to fix.
  yield* Effect.annotateLogs(
    log,
    ConnectionError.isHandshakeFailure(reason) ? { ...fields, detail: reason.message } : fields
  )
})
