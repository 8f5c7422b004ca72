/**
 * A scripted client for tests: connect, send lines or bytes, read exact
 * sizes or lines, expect a line, read until the server closes and see how
 * the connection ended. Every wait is bounded by a deadline on the wall
 * clock, so a missing reply fails the test with what was received instead
 * of hanging it (and `TestClock` moving does not trip it).
 *
 * Stage: the client side of read and write, over core's `Client` and
 * `Duplex`, so it runs over any `TestTransport` (and, with `connectWith`,
 * over any dialer). Bytes and lines share one buffer: a test may read a
 * few bytes, then lines, then the rest.
 *
 * @example
 * ```ts
 * import { Framing, LineCodec } from "@socket-to-me/core"
 * import { TestPeer, TestTransport } from "@socket-to-me/testkit"
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 *
 * const shout = Framing.handler(LineCodec.lines, (lines) => Stream.map(lines, (line) => line.toUpperCase()))
 *
 * export const scripted = Effect.gen(function*() {
 *   const server = yield* TestTransport.serve(TestTransport.memory, shout)
 *   const peer = yield* TestPeer.connect(server)
 *   yield* peer.sendLines("hello", "world")
 *   yield* peer.expectLine("WORLD") // the lines read meanwhile: ["HELLO", "WORLD"]
 *   yield* peer.end
 *   const { end } = yield* peer.readToEnd // "eof": the server closed in order
 *   return end
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import * as Client from "@socket-to-me/core/Client"
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as Duplex from "@socket-to-me/core/Duplex"
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as NetAddress from "effect/net/NetAddress"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Bytes from "./Bytes.ts"
import * as TestkitConfig from "./TestkitConfig.ts"
import type * as TestTransport from "./TestTransport.ts"

/**
 * How the peer's input ended: `"eof"` when the server closed in order, else
 * the tag of the connection's failure (`"PeerReset"`, ...).
 *
 * @since 0.1.0
 * @category models
 */
export type End = "eof" | ConnectionError.ConnectionErrorReason["_tag"]

/**
 * Options of a peer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long, on the wall clock, one wait may take. Default `TestkitConfig.peerDeadline`. */
  readonly deadline?: Duration.Input | undefined
  /** Bytes of one line before `readLine` fails. Default `TestkitConfig.peerMaxLineBytes`. */
  readonly maxLineBytes?: number | undefined
}

/**
 * The input ended before what was waited for arrived.
 *
 * @since 0.1.0
 * @category reasons
 */
export class InputEnded extends Data.TaggedError("InputEnded")<{
  readonly wanted: string
  readonly end: End
  readonly received: string
}> {
  override get message(): string {
    return `input ended (${this.end}) before ${this.wanted}; received ${this.received}`
  }
}

/**
 * What was waited for did not arrive before the deadline.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Timeout extends Data.TaggedError("Timeout")<{
  readonly wanted: string
  readonly after: Duration.Duration
  readonly received: string
}> {
  override get message(): string {
    return `no ${this.wanted} within ${Duration.format(this.after)}; received ${this.received}`
  }
}

/**
 * A line longer than the peer's `maxLineBytes`.
 *
 * @since 0.1.0
 * @category reasons
 */
export class LineTooLong extends Data.TaggedError("LineTooLong")<{ readonly limit: number }> {
  override get message(): string {
    return `a line of more than ${this.limit} bytes`
  }
}

/**
 * Why a peer's wait failed.
 *
 * @since 0.1.0
 * @category models
 */
export type PeerErrorReason = InputEnded | Timeout | LineTooLong

/**
 * A peer's wait failed; `reason` says how.
 *
 * @since 0.1.0
 * @category errors
 */
export class PeerError extends Data.TaggedError("PeerError")<{ readonly reason: PeerErrorReason }> {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * A scripted client connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestPeer {
  readonly duplex: Duplex.Duplex
  /** Every line read so far (by `readLine`, `expectLine`, `readLinesToEnd`), in order. */
  readonly lines: ReadonlyArray<string>
  /** Sends text (as UTF-8) or bytes, as they are. */
  readonly send: (data: string | Uint8Array) => Effect.Effect<void, ConnectionError.ConnectionError>
  /** Sends each line followed by LF, in one write. */
  readonly sendLines: (...lines: ReadonlyArray<string>) => Effect.Effect<void, ConnectionError.ConnectionError>
  /** Reads exactly `size` more bytes; what arrived beyond them is kept for the next read. */
  readonly read: (size: number) => Effect.Effect<Uint8Array, PeerError>
  /** Reads the next line (up to LF, without it or a CR before it). */
  readonly readLine: Effect.Effect<string, PeerError>
  /**
   * Reads lines until one equals `wanted` (or satisfies it); returns the
   * lines read meanwhile, that one included. One deadline for the whole wait.
   */
  readonly expectLine: (wanted: string | ((line: string) => boolean)) => Effect.Effect<ReadonlyArray<string>, PeerError>
  /** Reads until the input ends: the bytes not read yet and how it ended. */
  readonly readToEnd: Effect.Effect<{ readonly bytes: Uint8Array; readonly end: End }, PeerError>
  /** Reads until the input ends, as lines (a last line without LF included). */
  readonly readLinesToEnd: Effect.Effect<{ readonly lines: ReadonlyArray<string>; readonly end: End }, PeerError>
  /** Sends `data` and reads back as many bytes as `expected` (by default `data` itself) has, as text. */
  readonly roundTrip: (
    data: string | Uint8Array,
    expected?: string | Uint8Array
  ) => Effect.Effect<string, ConnectionError.ConnectionError | PeerError>
  /** Half-closes: the server sees the end of input; reading goes on. */
  readonly end: Effect.Effect<void>
  /** Resets the connection at once (RST on TCP). */
  readonly reset: Effect.Effect<void>
}

/**
 * How a failure of a duplex's input ended it.
 *
 * @since 0.1.0
 * @category accessors
 */
export const endOf = (error: ConnectionError.ConnectionError | Cause.Done): End =>
  Cause.isDone(error) ? "eof" : error.reason._tag

// Completes after `duration` of real time, whatever clock the fiber has.
const wallClock = (duration: Duration.Duration): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), Duration.toMillis(duration))
    return Effect.sync(() => clearTimeout(timer))
  })

const lf = 10
const cr = 13

// A short, readable account of bytes received, for failures.
const describeReceived = (bytes: Uint8Array): string => {
  if (bytes.byteLength === 0) return "nothing more"
  const text = Bytes.decode(bytes.subarray(0, 200))
  return `${bytes.byteLength} bytes: ${JSON.stringify(text)}${bytes.byteLength > 200 ? "..." : ""}`
}

/**
 * A peer over a connected duplex.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(duplex: Duplex.Duplex, options?: Options) {
  const deadline = Duration.fromInputUnsafe(options?.deadline ?? TestkitConfig.peerDeadline)
  const maxLineBytes = options?.maxLineBytes ?? TestkitConfig.peerMaxLineBytes
  const pull = yield* Stream.toPull(duplex.input)
  const lines: Array<string> = []
  // Received and not read yet.
  let buffered: Uint8Array = new Uint8Array(0)
  let ended: End | undefined

  const fail = (reason: PeerErrorReason) => Effect.fail(new PeerError({ reason }))

  // Pulls once more into `buffered`; false once the input has ended.
  const more = Effect.suspend((): Effect.Effect<boolean> => {
    if (ended !== undefined) return Effect.succeed(false)
    return Effect.matchEffect(pull, {
      onSuccess: (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) =>
        Effect.sync(() => {
          buffered = Bytes.concat([buffered, ...chunks])
          return true
        }),
      onFailure: (error) =>
        Effect.sync(() => {
          ended = endOf(error)
          return false
        })
    })
  })

  // Bounds a wait by the deadline.
  const bounded = <A>(wanted: string, self: Effect.Effect<A, PeerError>): Effect.Effect<A, PeerError> =>
    Effect.raceFirst(
      self,
      Effect.andThen(
        wallClock(deadline),
        Effect.suspend(() => fail(new Timeout({ wanted, after: deadline, received: describeReceived(buffered) })))
      )
    )

  const inputEnded = (wanted: string) =>
    fail(new InputEnded({ wanted, end: ended ?? "eof", received: describeReceived(buffered) }))

  const take = (size: number): Uint8Array => {
    const taken = buffered.subarray(0, size)
    buffered = buffered.subarray(size)
    return taken
  }

  const readUnbounded = (size: number): Effect.Effect<Uint8Array, PeerError> =>
    Effect.suspend(() =>
      buffered.byteLength >= size
        ? Effect.succeed(take(size))
        : Effect.flatMap(more, (got) => got ? readUnbounded(size) : inputEnded(`${size} bytes`))
    )

  // The next line, without a deadline of its own.
  const nextLine = (wanted: string): Effect.Effect<string, PeerError> =>
    Effect.suspend(() => {
      const at = buffered.indexOf(lf)
      if (at >= 0) {
        const line = take(at + 1)
        const text = Bytes.decode(line.subarray(0, at > 0 && line[at - 1] === cr ? at - 1 : at))
        lines.push(text)
        return Effect.succeed(text)
      }
      if (buffered.byteLength > maxLineBytes) return fail(new LineTooLong({ limit: maxLineBytes }))
      return Effect.flatMap(more, (got) => got ? nextLine(wanted) : inputEnded(wanted))
    })

  const expectLine = (wanted: string | ((line: string) => boolean)) => {
    const matches = typeof wanted === "string" ? (line: string) => line === wanted : wanted
    const what = typeof wanted === "string" ? `line ${JSON.stringify(wanted)}` : "matching line"
    return bounded(
      what,
      Effect.gen(function*() {
        const from = lines.length
        while (true) {
          const line = yield* nextLine(what).pipe(
            Effect.mapError((error) =>
              error.reason._tag === "InputEnded"
                ? new PeerError({ reason: new InputEnded({ ...error.reason, received: `lines ${JSON.stringify(lines.slice(from))}` }) })
                : error
            )
          )
          if (matches(line)) return lines.slice(from)
        }
      })
    )
  }

  const drain: Effect.Effect<End> = Effect.flatMap(more, (got) => got ? drain : Effect.succeed(ended ?? "eof"))

  const readToEnd = bounded(
    "end of input",
    Effect.map(drain, (end) => ({ bytes: take(buffered.byteLength), end }))
  )

  const readLinesToEnd = bounded(
    "end of input",
    Effect.gen(function*() {
      const end = yield* drain
      const text = Bytes.decode(take(buffered.byteLength))
      const rest = text.split("\n").map((line) => line.replace(/\r$/, ""))
      // A trailing LF leaves an empty piece that is no line.
      if (rest[rest.length - 1] === "") rest.pop()
      lines.push(...rest)
      return { lines: rest, end }
    })
  )

  const send = (data: string | Uint8Array) => duplex.write([Bytes.from(data)])

  const peer: TestPeer = {
    duplex,
    lines,
    send,
    sendLines: (...sent) => send(sent.map((line) => `${line}\n`).join("")),
    read: (size) => bounded(`${size} bytes`, readUnbounded(size)),
    readLine: bounded("a line", nextLine("a line")),
    expectLine,
    readToEnd,
    readLinesToEnd,
    roundTrip: (data, expected = data) =>
      Effect.andThen(send(data), Effect.map(peer.read(Bytes.from(expected).byteLength), Bytes.decode)),
    end: duplex.end,
    reset: duplex.reset
  }
  return peer
})

/**
 * Connects to `listener` (a `TestTransport` listener or test server), once:
 * a refused connection fails at once, it is not retried. Closed with the
 * scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  listener: TestTransport.Listener,
  options?: Options
): Effect.Effect<TestPeer, Client.ConnectError, Scope.Scope> =>
  connectWith(listener.dial, { ...options, address: NetAddress.formatSocketAddress(listener.socketServer.address) })

/**
 * Connects with `makeSocket` (any dialer, `NodeTransport.dial` for instance),
 * once; `address` is shown in errors. Closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectWith = <R>(
  makeSocket: Effect.Effect<Socket.Socket, ConnectionError.ConnectionError, R>,
  options: Options & { readonly address: string }
): Effect.Effect<TestPeer, Client.ConnectError, Scope.Scope | R> =>
  Effect.flatMap(Client.connect(makeSocket, { address: options.address, retries: 0 }), (duplex) => make(duplex, options))
