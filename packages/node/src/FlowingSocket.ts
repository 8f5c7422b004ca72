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
 * It declares, as core's transport contract asks (`Transport`), Node's
 * failure reasons (`NodeErrors.failure`) and a direct writer: a write the
 * socket takes without asking to wait needs no effect and no fiber, so the
 * app's own fiber can write when the connection's writer has nothing to do.
 *
 * @since 0.1.0
 */
import * as Handoff from "@socket-to-me/core/Handoff"
import * as Transport from "@socket-to-me/core/Transport"
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import type * as Net from "node:net"
import * as NodeErrors from "./NodeErrors.ts"

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
  /**
   * Hold the socket's writes made while a read is handed over, until the
   * end of the tick (`cork`, then `uncork` on `nextTick`), so that the
   * replies to the reads of one tick leave in one write. For a TLS socket,
   * whose one TCP read gives a read per TLS record (16 KiB at most), and
   * where each write is a record and a system call of its own: without
   * it an echo wrote each record on its own. Default false.
   */
  readonly corkReads?: boolean | undefined
}

const endOfStream = new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1000 }) })
const abruptClose = new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1006 }) })
const readError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
const writeError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })

// The reader of a socket, found by the listeners below, which are shared
// by every socket: Node calls a listener with the socket as `this`.
const readerKey = Symbol.for("@socket-to-me/node/FlowingSocket/Reader")
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
// this object, its queue, its pull (a hand-off) and one parked fiber; the
// listeners are shared.
function uncork(reader: Reader) {
  reader.corked = false
  reader.conn.uncork()
}

class Reader {
  queue: Array<Uint8Array> = []
  queued = 0
  paused = false
  failure: Socket.SocketError | undefined = undefined
  readonly conn: WithReader
  readonly highWaterMark: number
  readonly corkReads: boolean
  corked = false
  // At most one pull waits: a socket's input has a single consumer. An
  // interrupted pull is forgotten; what arrives later is queued.
  readonly pulls: Handoff.Handoff<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError>

  constructor(conn: Net.Socket, highWaterMark: number, corkReads: boolean) {
    this.conn = conn
    this.highWaterMark = highWaterMark
    this.corkReads = corkReads
    this.pulls = Handoff.make(this.ready, this)
  }

  get pull(): Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError> {
    return this.pulls.take
  }

  // What a pull gets without waiting: everything queued, else the failure.
  ready(): Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError> | undefined {
    if (this.queue.length > 0) {
      const chunks = this.queue as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
      this.queue = []
      this.queued = 0
      if (this.paused) {
        this.paused = false
        this.conn.resume()
      }
      return Effect.succeed(chunks)
    }
    return this.failure === undefined ? undefined : Effect.fail(this.failure)
  }

  data(chunk: Uint8Array) {
    if (this.pulls.waiting) {
      if (this.corkReads && !this.corked) {
        this.corked = true
        this.conn.cork()
        process.nextTick(uncork, this)
      }
      this.pulls.give(Effect.succeed([chunk]))
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
    if (this.queue.length === 0 && this.pulls.waiting) this.pulls.give(Effect.fail(this.failure))
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

// Why a socket can no longer be written: the error that destroyed it (a
// reset, say, seen by the reader or by an earlier write before this writer
// waited), or that it was closed.
const gone = (conn: Net.Socket) => writeError(conn.errored ?? new Error("socket closed"))

// Completes once the socket has written everything it buffered (Node emits
// `drain` when its buffer is empty), fails when it is gone.
const awaitDrain = (conn: Net.Socket) =>
  Effect.callback<void, Socket.SocketError>((resume) => {
    if (conn.destroyed) {
      resume(Effect.fail(gone(conn)))
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
      resume(Effect.fail(gone(conn)))
    }
    conn.on("drain", onDrain)
    conn.on("error", onError)
    conn.on("close", onClose)
    return Effect.sync(cleanup)
  })

// Hands chunks to the socket, corked when there are several so that they
// leave in one writev; whether the socket takes more. Node's `write` does
// not throw for bytes: a failed write is reported by its `error` event,
// which `awaitDrain` sees.
const writeChunks = (conn: Net.Socket, chunks: Arr.NonEmptyReadonlyArray<Uint8Array | string>): boolean => {
  if (chunks.length === 1) return conn.write(chunks[0])
  let more = true
  conn.cork()
  for (let i = 0; i < chunks.length; i++) more = conn.write(chunks[i]!) && more
  conn.uncork()
  return more
}

// The writer is a `Transport.DirectWriter`: the effectful `writeAll` is
// `writeNow`, then `awaitWritable` if the socket asked to wait.
const makeWriter = (conn: Net.Socket): Transport.DirectWriter => {
  const awaitWritable = awaitDrain(conn)
  const writeAll = (chunks: Arr.NonEmptyReadonlyArray<Uint8Array | string>) =>
    Effect.suspend(() => writeChunks(conn, chunks) ? Effect.void : awaitWritable)
  return {
    write: (chunk) =>
      Socket.isCloseEvent(chunk)
        ? Effect.sync(() => {
          conn.destroy(chunk.code > 1000 ? new Error(`closed with code ${chunk.code}`) : undefined)
        })
        : writeAll([chunk]),
    writeAll,
    writeNow: (chunks) => writeChunks(conn, chunks),
    awaitWritable
  }
}

// The socket's reader and writer are made when acquired, so that what a
// connection keeps of its socket is this object alone.
class FlowingNetSocket implements Transport.Transport {
  readonly [Socket.TypeId]: typeof Socket.TypeId = Socket.TypeId
  readonly conn: Net.Socket
  readonly highWaterMark: number
  readonly corkReads: boolean
  constructor(conn: Net.Socket, highWaterMark: number, corkReads: boolean) {
    this.conn = conn
    this.highWaterMark = highWaterMark
    this.corkReads = corkReads
  }

  get reader(): Socket.Socket["reader"] {
    return Effect.flatMap(Effect.scope, (scope) => {
      const conn = this.conn
      if (conn.destroyed || conn.closed) return Effect.fail(endOfStream)
      const state = new Reader(conn, this.highWaterMark, this.corkReads)
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

  get writer(): Effect.Effect<Transport.DirectWriter, never, Scope.Scope> {
    const conn = this.conn
    return Effect.acquireRelease(
      Effect.sync(() => makeWriter(conn)),
      () =>
        Effect.sync(() => {
          if (!conn.destroyed && !conn.writableEnded) conn.end()
        })
    )
  }

  // Read once, when a connection opens the socket: nothing of it is kept
  // per socket beyond that.
  get [Transport.TypeId](): Transport.Capabilities {
    return { failure: NodeErrors.failure, directWriter: this.writer }
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
  new FlowingNetSocket(conn, options.highWaterMark ?? conn.readableHighWaterMark, options.corkReads === true)

const unsupportedUpgrade = () =>
  Effect.fail(
    new Socket.SocketError({
      reason: new Socket.SocketUpgradeError({ cause: new Error("TLS upgrade is not supported on this socket") })
    })
  )
