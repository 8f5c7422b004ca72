/**
 * An in-memory connection: two endpoints joined by two pipes, each endpoint
 * behaving like one Node `net.Socket` (a `Duplex`) with `allowHalfOpen`.
 *
 * Stage: transport. `MemorySocket` turns an endpoint into a `Socket.Socket`
 * exactly as `NodeSocket.fromDuplex` turns a `net.Socket` into one, so the
 * split of work is the same as in Node: the endpoint knows bytes, FIN, reset
 * and destruction; the socket adapter knows scopes and the latch.
 *
 * What each operation looks like from the other end:
 *
 * - `end` (Node `end()`): FIN. The peer reads what is in flight, then an
 *   orderly end of input. This side can still read.
 * - `destroy` (Node `destroy()`, with or without an error): FIN as well, as
 *   on real TCP where closing a socket sends FIN, not RST; the peer's later
 *   writes fail with `EPIPE`. This side's reads stop.
 * - `reset` (Node `resetAndDestroy()`): RST. The peer's reads fail with
 *   `ECONNRESET`, dropping what was in flight, and its writes with `EPIPE`.
 *
 * Like Node's `autoDestroy`, an endpoint that has both sent its FIN and read
 * the peer's is destroyed on its own.
 *
 * Under a `NetworkScheduler` (opt-in: `makePair`'s `channels`), what the
 * peer can observe travels as events on this endpoint's outbound channel,
 * in order: each write's bytes, the FIN of `end`, the FIN and `EPIPE` of
 * `destroy`, the RST of `reset`. What this end observes of its own acts
 * (its reads and writes failing after it closed) happens at once.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type * as Socket from "effect/socket/Socket"
import * as MemoryPipe from "./MemoryPipe.ts"
import type * as NetworkScheduler from "./NetworkScheduler.ts"
import * as TransportErrors from "./TransportErrors.ts"

/**
 * One end of a memory connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  /** Identifies the connection in logs; both ends share it. */
  readonly connectionId: number
  readonly side: "client" | "server"
  /**
   * Everything the peer wrote that is not read yet, waiting while there is
   * none. Fails with `SocketCloseError` 1000 after the peer's FIN, with a
   * `SocketReadError` (`ECONNRESET`) after its reset.
   */
  readonly read: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>
  /** Sends chunks; waits while the peer has a high-water mark's worth unread. */
  readonly write: (chunks: ReadonlyArray<Uint8Array | string>) => Effect.Effect<void, Socket.SocketError>
  /** Half-closes: sends FIN and keeps reading. Idempotent. */
  readonly end: Effect.Effect<void>
  /**
   * Closes this end. Without an error this end's reads fail with
   * `SocketCloseError` 1000, with one they fail with a `SocketReadError`
   * carrying it (as Node's `destroy(error)` does). Idempotent.
   */
  readonly destroy: (error?: Error) => Effect.Effect<void>
  /**
   * Closes this end with a reset: the peer's reads fail with `ECONNRESET`
   * (what was in flight is dropped) and its writes with `EPIPE`. This end's
   * reads fail as after `destroy(error)`. Idempotent.
   */
  readonly reset: (error?: Error) => Effect.Effect<void>
  /** Whether this end has been destroyed (by itself, or by reading the last byte after ending). */
  readonly isDestroyed: Effect.Effect<boolean>
}

interface EndpointState {
  readonly ended: boolean
  readonly readEof: boolean
  readonly destroyed: boolean
}

const encoder = new TextEncoder()

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  let size = 0
  for (const chunk of chunks) size += chunk.byteLength
  const out = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}

// Copy what is written: the caller may reuse its buffer once `write` returns,
// and a real socket has copied the bytes into the kernel by then.
const toBytes = (chunk: Uint8Array | string): Uint8Array =>
  typeof chunk === "string" ? encoder.encode(chunk) : chunk.slice()

// What this side's own reads fail with once it closed itself: Node's
// `destroy(error)` emits `'error'` (a read error), a plain `destroy()` only
// `'close'` (an orderly end).
const localReadError = (error: Error | undefined): Socket.SocketError =>
  error === undefined ? TransportErrors.closed(1000) : TransportErrors.readError(error)

const makeEndpoint = Effect.fnUntraced(function*(options: {
  readonly connectionId: number
  readonly side: "client" | "server"
  readonly inbound: MemoryPipe.MemoryPipe
  readonly outbound: MemoryPipe.MemoryPipe
  readonly onDestroyed: Effect.Effect<void>
  readonly link: NetworkScheduler.Channel | undefined
}) {
  const { inbound, link, outbound } = options
  const deliver: MemoryPipe.Deliver | undefined = link === undefined
    ? undefined
    : (chunks, append) =>
      link.post({ _tag: "Data", bytes: chunks.length === 1 ? chunks[0]! : concat(chunks) }, append)
  const state = yield* Ref.make<EndpointState>({ ended: false, readEof: false, destroyed: false })

  const markDestroyed = Ref.modify(state, (s) => [!s.destroyed, { ...s, destroyed: true }] as const)

  const destroy = (error?: Error): Effect.Effect<void> =>
    Effect.uninterruptible(Effect.gen(function*() {
      if (!(yield* markDestroyed)) return
      if (link === undefined) {
        yield* MemoryPipe.finish(outbound)
        yield* MemoryPipe.failWrites(outbound, TransportErrors.writeAfterDestroy())
        yield* MemoryPipe.failReads(inbound, localReadError(error))
        yield* MemoryPipe.failWrites(inbound, TransportErrors.brokenPipe())
      } else {
        yield* MemoryPipe.failWrites(outbound, TransportErrors.writeAfterDestroy())
        yield* MemoryPipe.failReads(inbound, localReadError(error))
        yield* link.post(
          { _tag: "Close" },
          Effect.andThen(MemoryPipe.finish(outbound), MemoryPipe.failWrites(inbound, TransportErrors.brokenPipe()))
        )
      }
      yield* options.onDestroyed
    }))

  const reset = (error?: Error): Effect.Effect<void> =>
    Effect.uninterruptible(Effect.gen(function*() {
      if (!(yield* markDestroyed)) return
      if (link === undefined) {
        yield* MemoryPipe.failReads(outbound, TransportErrors.connectionReset())
        yield* MemoryPipe.failWrites(outbound, TransportErrors.writeAfterDestroy())
        yield* MemoryPipe.failReads(inbound, localReadError(error))
        yield* MemoryPipe.failWrites(inbound, TransportErrors.brokenPipe())
      } else {
        yield* MemoryPipe.failWrites(outbound, TransportErrors.writeAfterDestroy())
        yield* MemoryPipe.failReads(inbound, localReadError(error))
        yield* link.post(
          { _tag: "Reset" },
          Effect.andThen(
            MemoryPipe.failReads(outbound, TransportErrors.connectionReset()),
            MemoryPipe.failWrites(inbound, TransportErrors.brokenPipe())
          )
        )
      }
      yield* options.onDestroyed
    }))

  const end: Effect.Effect<void> = Effect.uninterruptible(Effect.gen(function*() {
    const before = yield* Ref.getAndUpdate(state, (s) => s.destroyed ? s : { ...s, ended: true })
    if (before.ended || before.destroyed) return
    yield* link === undefined ? MemoryPipe.finish(outbound) : link.post({ _tag: "End" }, MemoryPipe.finish(outbound))
    if (before.readEof) yield* destroy()
  }))

  const onEof: Effect.Effect<never, Socket.SocketError> = Effect.gen(function*() {
    const alsoDestroy = yield* Ref.modify(state, (s) => [s.ended && !s.readEof, { ...s, readEof: true }] as const)
    if (alsoDestroy) yield* destroy()
    return yield* Effect.fail(TransportErrors.closed(1000))
  })

  const read = MemoryPipe.read(inbound).pipe(
    Effect.catchIf(Cause.isDone, () => onEof)
  ) as Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>

  const write = (chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, Socket.SocketError> =>
    Effect.flatMap(Ref.get(state), (s) =>
      s.destroyed
        ? Effect.fail(TransportErrors.writeAfterDestroy())
        : s.ended
        ? Effect.fail(TransportErrors.writeAfterEnd())
        : MemoryPipe.write(outbound, chunks.map(toBytes), deliver))

  const endpoint: Endpoint = {
    connectionId: options.connectionId,
    side: options.side,
    read,
    write,
    end,
    destroy,
    reset,
    isDestroyed: Effect.map(Ref.get(state), (s) => s.destroyed)
  }
  return endpoint
})

/**
 * Creates a connected pair of endpoints. `onDestroyed` runs once for each
 * endpoint when it is destroyed, which is how a network counts open sockets.
 * With `channels`, everything each end does that the other observes goes
 * through its channel of a `NetworkScheduler`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePair = Effect.fnUntraced(function*(options: {
  readonly connectionId: number
  readonly highWaterMark: number
  readonly onDestroyed: Effect.Effect<void>
  readonly channels?: {
    readonly toServer: NetworkScheduler.Channel
    readonly toClient: NetworkScheduler.Channel
  } | undefined
}) {
  const toServer = yield* MemoryPipe.make(options.highWaterMark)
  const toClient = yield* MemoryPipe.make(options.highWaterMark)
  const client = yield* makeEndpoint({
    connectionId: options.connectionId,
    side: "client",
    inbound: toClient,
    outbound: toServer,
    onDestroyed: options.onDestroyed,
    link: options.channels?.toServer
  })
  const server = yield* makeEndpoint({
    connectionId: options.connectionId,
    side: "server",
    inbound: toServer,
    outbound: toClient,
    onDestroyed: options.onDestroyed,
    link: options.channels?.toClient
  })
  return { client, server } as const
})
