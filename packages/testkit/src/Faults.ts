/**
 * Fault injection as `Socket -> Socket` wrappers. They only use the
 * `Socket` interface, so they apply to either end of a connection, over the
 * memory network or real TCP, and compose (`Faults.delay(...)(Faults.bytewise(socket))`).
 *
 * Stage: transport, under read and write. Each fault changes one thing:
 *
 * - `rechunk` / `rechunkWith` / `bytewise`: where chunk boundaries fall.
 * - `delay`: when chunks arrive or leave (`Effect.sleep`, so `TestClock`
 *   drives it).
 * - `stall`: whether the reader reads at all (a `Latch` the test opens).
 * - `resetAfter`: a connection reset after a number of bytes.
 * - `failWrites`: write errors after a number of writes or bytes.
 *
 * Wrapping a memory socket keeps its `MemorySocket.controls`; wrapping any
 * socket keeps the failure reasons its transport declared (core's
 * `Transport`), but not a direct writer, which would bypass the fault.
 *
 * @example
 * ```ts
 * import { Client } from "@socket-to-me/core"
 * import { Faults, TestTransport } from "@socket-to-me/testkit"
 * import * as Effect from "effect/Effect"
 *
 * // A client whose writes reach the server 1, 3 or 7 bytes at a time and
 * // whose connection is reset after 100 bytes: a decoder that is not
 * // split-invariant, or a server that mishandles a reset, fails over this.
 * export const hostile = (server: TestTransport.TestServer) =>
 *   Client.connect(
 *     Effect.map(server.dial, (socket) => Faults.resetAfter(100)(Faults.rechunk([1, 3, 7], { direction: "write" })(socket))),
 *     { address: "hostile" }
 *   )
 * ```
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Latch from "effect/Latch"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Socket from "effect/socket/Socket"
import * as Bytes from "./Bytes.ts"
import * as MemorySocket from "./MemorySocket.ts"
import * as TransportErrors from "./TransportErrors.ts"

/**
 * Which side of a socket a fault applies to: what it reads, what it writes,
 * or both.
 *
 * @since 0.1.0
 * @category models
 */
export type Direction = "read" | "write" | "both"

const appliesTo = (direction: Direction, side: "read" | "write"): boolean =>
  direction === "both" || direction === side

// What one pull returned or one `writeAll` was given, as one buffer. A single
// byte chunk (the usual case) is passed on as it is, not copied.
const joined = (chunks: ReadonlyArray<Uint8Array | string>): Uint8Array =>
  chunks.length === 1 ? Bytes.from(chunks[0]!) : Bytes.concat(chunks)

/**
 * Builds a wrapped socket from functions over the wrapped reader and writer,
 * keeping memory controls and the declared failure reasons.
 *
 * @since 0.1.0
 * @category combinators
 */
export const mapSocket = (
  self: Socket.Socket,
  f: {
    readonly reader?: ((reader: Socket.Reader) => Effect.Effect<Socket.Reader>) | undefined
    readonly writer?: ((writer: Socket.Writer) => Effect.Effect<Socket.Writer>) | undefined
  }
): Socket.Socket => {
  const mapReader = f.reader
  const mapWriter = f.writer
  return MemorySocket.withControlsOf(
    self,
    Socket.make({
      reader: mapReader === undefined ? self.reader : Effect.flatMap(self.reader, mapReader),
      writer: mapWriter === undefined ? self.writer : Effect.flatMap(self.writer, mapWriter)
    })
  )
}

// Writes `chunks` one `write` call per chunk, so a peer can see each as its
// own chunk (and, if it reads in between, in its own pull).
const writeEach = (writer: Socket.Writer, chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, Socket.SocketError> =>
  Effect.forEach(chunks, (chunk) => writer.write(chunk), { discard: true })

// Cuts `bytes` at the sizes `nextSize` hands out.
const cut = Effect.fnUntraced(function*(bytes: Uint8Array, nextSize: Effect.Effect<number>) {
  const pieces: Array<Uint8Array> = []
  let offset = 0
  while (offset < bytes.byteLength) {
    const size = Math.max(1, Math.floor(yield* nextSize))
    pieces.push(bytes.subarray(offset, offset + size))
    offset += size
  }
  return pieces
})

/**
 * Moves chunk boundaries: every chunk is cut at the next size `makeSizes`'s
 * effect hands out (it is run once per reader or writer acquisition, so each
 * connection starts its own sequence).
 *
 * Reading, each pull returns one chunk of at most the next size: larger
 * input is split and kept for the next pulls, and chunks that arrived
 * together are coalesced up to the size. It never waits for more bytes to
 * fill a chunk (a short chunk goes out when nothing more has arrived), so a
 * request/response exchange cannot deadlock on it. The end of input comes
 * after the last byte, as before. Writing, each chunk is split and each
 * piece written with its own `write`.
 *
 * @since 0.1.0
 * @category faults
 */
export const rechunkWith = (
  makeSizes: Effect.Effect<Effect.Effect<number>>,
  options?: { readonly direction?: Direction | undefined }
) =>
(self: Socket.Socket): Socket.Socket => {
  const direction = options?.direction ?? "read"
  return mapSocket(self, {
    reader: appliesTo(direction, "read")
      ? (reader) =>
        Effect.gen(function*() {
          const nextSize = yield* makeSizes
          const rest = yield* Ref.make<Uint8Array>(new Uint8Array(0))
          const pull = Effect.gen(function*() {
            let bytes = yield* Ref.get(rest)
            if (bytes.byteLength === 0) bytes = joined(yield* reader.pull)
            const size = Math.max(1, Math.floor(yield* nextSize))
            yield* Ref.set(rest, bytes.subarray(size))
            return [bytes.subarray(0, size)] as Arr.NonEmptyReadonlyArray<Uint8Array>
          })
          return { ...reader, pull }
        })
      : undefined,
    writer: appliesTo(direction, "write")
      ? (writer) =>
        Effect.map(makeSizes, (nextSize) => ({
          write: (chunk) =>
            Socket.isCloseEvent(chunk)
              ? writer.write(chunk)
              : Effect.flatMap(cut(Bytes.from(chunk), nextSize), (pieces) => writeEach(writer, pieces)),
          writeAll: (chunks) => Effect.flatMap(cut(joined(chunks), nextSize), (pieces) => writeEach(writer, pieces))
        }))
      : undefined
  })
}

/**
 * `rechunkWith` cycling through `sizes` (for instance `[1, 3, 7]`).
 *
 * @since 0.1.0
 * @category faults
 */
export const rechunk = (
  sizes: Arr.NonEmptyReadonlyArray<number>,
  options?: { readonly direction?: Direction | undefined }
): (self: Socket.Socket) => Socket.Socket =>
  rechunkWith(
    Effect.map(Ref.make(0), (index) =>
      Ref.modify(index, (i) => [sizes[i % sizes.length]!, i + 1] as const)),
    options
  )

/**
 * `rechunkWith` drawing each size uniformly from `[min, max]` with the
 * `Random` service, so a seeded `Random` replays the same boundaries.
 *
 * @since 0.1.0
 * @category faults
 */
export const rechunkRandom = (
  range: { readonly min: number; readonly max: number },
  options?: { readonly direction?: Direction | undefined }
): (self: Socket.Socket) => Socket.Socket =>
  rechunkWith(Effect.succeed(Random.nextIntBetween(range.min, range.max)), options)

/**
 * One byte per chunk: the harshest split a decoder can get.
 *
 * @since 0.1.0
 * @category faults
 */
export const bytewise = (
  self: Socket.Socket,
  options?: { readonly direction?: Direction | undefined }
): Socket.Socket => rechunk([1], options)(self)

/**
 * Delays each chunk by `duration` (`Effect.sleep`, so under `TestClock` it
 * moves only when the test adjusts the clock). Reading, a pulled batch is
 * handed over `duration` after it arrived; writing, each `write` or
 * `writeAll` starts `duration` late. Errors are not delayed.
 *
 * @since 0.1.0
 * @category faults
 */
export const delay = (
  duration: Duration.Input,
  options?: { readonly direction?: Direction | undefined }
) =>
(self: Socket.Socket): Socket.Socket => {
  const direction = options?.direction ?? "read"
  return mapSocket(self, {
    reader: appliesTo(direction, "read")
      ? (reader) => Effect.succeed({ ...reader, pull: Effect.tap(reader.pull, () => Effect.sleep(duration)) })
      : undefined,
    writer: appliesTo(direction, "write")
      ? (writer) =>
        Effect.succeed({
          write: (chunk) => Effect.andThen(Effect.sleep(duration), writer.write(chunk)),
          writeAll: (chunks) => Effect.andThen(Effect.sleep(duration), writer.writeAll(chunks))
        })
      : undefined
  })
}

/**
 * Stalls the reader while `gate` is closed: each pull waits for the gate
 * before reading, so the peer's writes back up (backpressure) until the test
 * opens it. Closing the gate again stalls the next pull.
 *
 * @since 0.1.0
 * @category faults
 */
export const stall = (gate: Latch.Latch) => (self: Socket.Socket): Socket.Socket =>
  mapSocket(self, {
    reader: (reader) => Effect.succeed({ ...reader, pull: gate.whenOpen(reader.pull) })
  })

interface ResetState {
  readonly read: number
  readonly written: number
  readonly reset: boolean
}

/**
 * Resets the connection once `bytes` bytes were read (the default) or
 * written. Exactly `bytes` bytes get through (the pull or write that crosses
 * the limit passes the part below it) and the reset happens as the count
 * reaches the limit; from then on this side's pulls fail with `ECONNRESET`
 * and its writes with `EPIPE`, and the connection underneath is
 * torn down: a memory socket is reset (its peer sees the reset too); any
 * other is closed with a `CloseEvent` of code 1006.
 *
 * Counts over the life of the wrapped socket, which stays reset after.
 *
 * @since 0.1.0
 * @category faults
 */
export const resetAfter = (
  bytes: number,
  options?: { readonly direction?: "read" | "write" | undefined }
) =>
(self: Socket.Socket): Socket.Socket => {
  const direction = options?.direction ?? "read"
  const state = Ref.makeUnsafe<ResetState>({ read: 0, written: 0, reset: false })
  const tearDown = Option.match(MemorySocket.controls(self), {
    onSome: (controls) => controls.reset,
    onNone: () =>
      Effect.scoped(Effect.flatMap(self.writer, (writer) => writer.write(new Socket.CloseEvent(1006, "reset")))).pipe(
        Effect.ignore
      )
  })
  const trip = Effect.andThen(
    Ref.modify(state, (s) => [!s.reset, { ...s, reset: true }] as const),
    (first) => first ? tearDown : Effect.void
  )
  const isReset = Effect.map(Ref.get(state), (s) => s.reset)
  // How many of `size` new bytes may pass before the limit, counting them.
  const allow = (side: "read" | "written", size: number) =>
    Ref.modify(state, (s) => {
      const allowed = Math.max(0, Math.min(size, bytes - s[side]))
      return [allowed, { ...s, [side]: s[side] + allowed }] as const
    })

  return mapSocket(self, {
    reader: (reader) =>
      Effect.succeed({
        ...reader,
        pull: Effect.gen(function*() {
          if (yield* isReset) return yield* Effect.fail(TransportErrors.connectionReset())
          if (direction === "read" && (yield* Ref.get(state)).read >= bytes) {
            yield* trip
            return yield* Effect.fail(TransportErrors.connectionReset())
          }
          if (direction !== "read") return yield* reader.pull
          const chunk = joined(yield* reader.pull)
          // At least one byte passes: fewer than `bytes` were read before.
          const allowed = yield* allow("read", chunk.byteLength)
          if ((yield* Ref.get(state)).read >= bytes) yield* trip
          return [chunk.subarray(0, allowed)] as Arr.NonEmptyReadonlyArray<Uint8Array>
        })
      }),
    writer: (writer) => {
      const send = (chunk: Uint8Array): Effect.Effect<void, Socket.SocketError> =>
        Effect.gen(function*() {
          if (yield* isReset) return yield* Effect.fail(TransportErrors.brokenPipe())
          if (direction !== "write") return yield* writer.write(chunk)
          const allowed = yield* allow("written", chunk.byteLength)
          if (allowed > 0) yield* writer.write(chunk.subarray(0, allowed))
          if (allowed < chunk.byteLength || (yield* Ref.get(state)).written >= bytes) {
            yield* trip
            if (allowed < chunk.byteLength) return yield* Effect.fail(TransportErrors.brokenPipe())
          }
        })
      return Effect.succeed({
        write: (chunk) => Socket.isCloseEvent(chunk) ? writer.write(chunk) : send(Bytes.from(chunk)),
        writeAll: (chunks) => send(joined(chunks))
      })
    }
  })
}

interface WriteCounts {
  readonly writes: number
  readonly bytes: number
}

/**
 * Makes writes fail with a `SocketWriteError` once `afterWrites` writes
 * succeeded, or once `afterBytes` bytes were written (the write that crosses
 * that limit writes the part below it, then fails). Reads are untouched, as
 * when only the sending half of a connection breaks. The error's cause is
 * `cause`, by default an `Error` with `code: "EPIPE"`.
 *
 * Counts over the life of the wrapped socket.
 *
 * @since 0.1.0
 * @category faults
 */
export const failWrites = (options: {
  readonly afterWrites?: number | undefined
  readonly afterBytes?: number | undefined
  readonly cause?: unknown
}) =>
(self: Socket.Socket): Socket.Socket => {
  const counts = Ref.makeUnsafe<WriteCounts>({ writes: 0, bytes: 0 })
  const maxWrites = options.afterWrites ?? Infinity
  const maxBytes = options.afterBytes ?? Infinity
  const failure = () =>
    new Socket.SocketError({
      reason: new Socket.SocketWriteError({
        cause: "cause" in options ? options.cause : TransportErrors.errnoError("EPIPE", "write", "(injected)")
      })
    })
  return mapSocket(self, {
    writer: (writer) => {
      const send = (chunk: Uint8Array): Effect.Effect<void, Socket.SocketError> =>
        Effect.gen(function*() {
          const allowed = yield* Ref.modify(counts, (c) => {
            if (c.writes >= maxWrites) return [-1, c] as const
            const allowed = Math.max(0, Math.min(chunk.byteLength, maxBytes - c.bytes))
            return [allowed, { writes: c.writes + 1, bytes: c.bytes + allowed }] as const
          })
          if (allowed < 0) return yield* Effect.fail(failure())
          if (allowed > 0) yield* writer.write(chunk.subarray(0, allowed))
          if (allowed < chunk.byteLength) return yield* Effect.fail(failure())
        })
      return Effect.succeed({
        write: (chunk) => Socket.isCloseEvent(chunk) ? writer.write(chunk) : send(Bytes.from(chunk)),
        writeAll: (chunks) => send(joined(chunks))
      })
    }
  })
}
