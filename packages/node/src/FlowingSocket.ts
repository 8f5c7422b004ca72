/**
 * An effect `Socket` over an accepted Node `net.Socket`, read in flowing mode.
 *
 * Stage: read and write, for real TCP. effect's own adapter
 * (`NodeSocket.fromDuplex`) keeps the stream paused and reads it with
 * `read()` on each `readable` event: every read costs a `nextTick` and,
 * when several chunks are buffered, a concatenation into one new buffer.
 * Here the socket flows, as `pipe` does: each chunk libuv read is handed
 * to a waiting pull at once, in the same turn, without a copy. Chunks that
 * arrive while nobody pulls are queued, and once `highWaterMark` bytes are
 * queued the socket is paused, so Node stops reading it, the kernel's
 * receive buffer fills and the peer's writes block: backpressure is still
 * end to end, with at most `highWaterMark` plus one chunk held here and
 * Node's own readable buffer below it.
 *
 * It keeps the contract of `Socket` as the rest of the framework reads it
 * (see `Duplex` in core): an orderly end of stream is a `SocketCloseError`
 * with code 1000 after every byte read before it; a reset or any failure
 * is a `SocketReadError` (or a close with code 1006) and drops what was
 * queued; closing the reader's scope fails a waiting pull and destroys the
 * socket once its pending output is written (`destroySoon`); releasing the
 * writer half-closes (`end()`); writing a `CloseEvent` destroys at once.
 *
 * @since 0.1.0
 */
import type * as Duplex from "@socket-to-me/core/Duplex"
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import type * as Net from "node:net"

/**
 * Options of `fromNetSocket`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Bytes queued, read but not yet pulled, at which the socket is paused.
   * Default: the socket's `readableHighWaterMark` (64 KiB on Node 22).
   */
  readonly highWaterMark?: number | undefined
}

type Resume = (effect: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>) => void

const endOfStream = new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1000 }) })
const abruptClose = new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1006 }) })
const readError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
const writeError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })

// The reader of a socket, found by the listeners below, which are shared
// by every socket: Node calls a listener with the socket as `this`.
const readerKey = Symbol.for("@socket-to-me/apps/FlowingSocket/Reader")
type WithReader = Net.Socket & { [readerKey]?: Reader | undefined }

function onData(this: WithReader, chunk: Uint8Array) {
  this[readerKey]?.data(chunk)
}
// An orderly end: what was read before it is still delivered.
function onEnd(this: WithReader) {
  this[readerKey]?.fail(endOfStream, false)
}
function onError(this: WithReader, cause: Error) {
  this[readerKey]?.fail(readError(cause), true)
}
function onClose(this: WithReader, hadError: boolean) {
  this[readerKey]?.fail(hadError ? abruptClose : endOfStream, hadError)
}

// One object per connection holds the read state. An idle connection costs
// this object, its queue, its pull (one closure) and one parked fiber; the
// listeners are shared.
class Reader {
  queue: Array<Uint8Array> = []
  queued = 0
  paused = false
  waiter: Resume | undefined = undefined
  failure: Socket.SocketError | undefined = undefined
  readonly conn: WithReader
  readonly highWaterMark: number
  readonly pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>

  constructor(conn: Net.Socket, highWaterMark: number) {
    this.conn = conn
    this.highWaterMark = highWaterMark
    // Interrupting the waiting pull forgets it; what arrives later is queued.
    const cancel = Effect.sync(() => {
      this.waiter = undefined
    })
    this.pull = Effect.callback<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>((resume) => {
      if (this.queue.length > 0) {
        const chunks = this.queue as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
        this.queue = []
        this.queued = 0
        if (this.paused) {
          this.paused = false
          this.conn.resume()
        }
        resume(Effect.succeed(chunks))
        return
      }
      if (this.failure !== undefined) {
        resume(Effect.fail(this.failure))
        return
      }
      // At most one pull waits: a socket's input has a single consumer.
      this.waiter = resume
      return cancel
    })
  }

  data(chunk: Uint8Array) {
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter(Effect.succeed([chunk]))
      return
    }
    this.queue.push(chunk)
    this.queued += chunk.byteLength
    if (this.queued >= this.highWaterMark && !this.paused) {
      this.paused = true
      this.conn.pause()
    }
  }

  // The first failure wins. `discard`: a reset or error drops what was read
  // but not pulled, as the stream is broken anyway; an orderly end keeps it.
  fail(failure: Socket.SocketError, discard: boolean) {
    this.failure ??= failure
    if (discard) {
      this.queue = []
      this.queued = 0
    }
    const waiter = this.waiter
    if (waiter !== undefined && this.queue.length === 0) {
      this.waiter = undefined
      waiter(Effect.fail(this.failure))
    }
  }

  attach() {
    const conn = this.conn
    conn[readerKey] = this
    conn.on("data", onData)
    conn.on("end", onEnd)
    conn.on("error", onError)
    conn.on("close", onClose)
    conn.resume()
  }

  detach() {
    const conn = this.conn
    this.fail(abruptClose, true)
    conn.off("data", onData)
    conn.off("end", onEnd)
    conn.off("error", onError)
    conn.off("close", onClose)
    conn[readerKey] = undefined
  }
}

// Completes when the socket can take more, fails when it is gone.
const awaitDrain = (conn: Net.Socket) =>
  Effect.callback<void, Socket.SocketError>((resume) => {
    if (conn.destroyed) {
      resume(Effect.fail(writeError(new Error("socket closed"))))
      return
    }
    if (!conn.writableNeedDrain) {
      resume(Effect.void)
      return
    }
    const cleanup = () => {
      conn.off("drain", onDrain)
      conn.off("error", onError)
      conn.off("close", onClose)
    }
    const onDrain = () => {
      cleanup()
      resume(Effect.void)
    }
    const onError = (cause: Error) => {
      cleanup()
      resume(Effect.fail(writeError(cause)))
    }
    const onClose = () => {
      cleanup()
      resume(Effect.fail(writeError(new Error("socket closed"))))
    }
    conn.on("drain", onDrain)
    conn.on("error", onError)
    conn.on("close", onClose)
    return Effect.sync(cleanup)
  })

// Hands chunks to the socket, corked when there are several so that they
// leave in one writev; whether the socket takes more.
const writeChunks = (conn: Net.Socket, chunks: Arr.NonEmptyReadonlyArray<Uint8Array | string>): boolean => {
  if (chunks.length === 1) return conn.write(chunks[0])
  let more = true
  conn.cork()
  try {
    for (let i = 0; i < chunks.length; i++) more = conn.write(chunks[i]!) && more
  } finally {
    conn.uncork()
  }
  return more
}

// The writer is also an `ImmediateWriter` (see core's `Duplex`): a write
// that the socket takes without asking to wait needs no effect and no
// fiber, so the app's own fiber can write when the writer has nothing to do.
const makeWriter = (conn: Net.Socket): Duplex.ImmediateWriter => {
  const writeAll = (chunks: Arr.NonEmptyReadonlyArray<Uint8Array | string>) =>
    Effect.suspend(() => {
      let more: boolean
      try {
        more = writeChunks(conn, chunks)
      } catch (cause) {
        return Effect.fail(writeError(cause))
      }
      return more ? Effect.void : awaitDrain(conn)
    })
  return {
    write: (chunk) =>
      Socket.isCloseEvent(chunk)
        ? Effect.sync(() => {
          conn.destroy(chunk.code > 1000 ? new Error(`closed with code ${chunk.code}`) : undefined)
        })
        : writeAll([chunk]),
    writeAll,
    writeImmediate: (chunks) => writeChunks(conn, chunks),
    awaitWritable: awaitDrain(conn)
  }
}

// The socket's reader and writer are made when acquired, so that what a
// connection keeps of its socket is this object alone.
class FlowingNetSocket implements Socket.Socket {
  readonly [Socket.TypeId]: typeof Socket.TypeId = Socket.TypeId
  readonly conn: Net.Socket
  readonly highWaterMark: number
  constructor(conn: Net.Socket, highWaterMark: number) {
    this.conn = conn
    this.highWaterMark = highWaterMark
  }

  get reader(): Socket.Socket["reader"] {
    return Effect.flatMap(Effect.scope, (scope) => {
      const conn = this.conn
      if (conn.destroyed || conn.closed) return Effect.fail(endOfStream)
      const state = new Reader(conn, this.highWaterMark)
      state.attach()
      return Effect.as(
        Scope.addFinalizer(
          scope,
          Effect.sync(() => {
            state.detach()
            if (!conn.destroyed) conn.destroySoon()
          })
        ),
        { pull: state.pull, upgrade: unsupportedUpgrade }
      )
    })
  }

  get writer(): Socket.Socket["writer"] {
    const conn = this.conn
    return Effect.acquireRelease(
      Effect.sync(() => makeWriter(conn)),
      () =>
        Effect.sync(() => {
          if (!conn.destroyed && !conn.writableEnded) conn.end()
        })
    )
  }
}

/**
 * A `Socket` over `conn`, an accepted, paused Node socket (a server created
 * with `pauseOnConnect`, or `conn.pause()` at once), which must already have
 * an `error` listener so that an error while nobody reads cannot crash the
 * process. Acquire its reader once; the reader's scope owns the socket.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromNetSocket = (conn: Net.Socket, options: Options = {}): Socket.Socket =>
  new FlowingNetSocket(conn, options.highWaterMark ?? conn.readableHighWaterMark)

const unsupportedUpgrade = () =>
  Effect.fail(
    new Socket.SocketError({
      reason: new Socket.SocketUpgradeError({ cause: new Error("TLS upgrade is not supported on this socket") })
    })
  )
