/**
 * The errors a transport reports, built the way Node's `net` module reports
 * them: a `SocketError` whose reason carries an `Error` with an errno `code`
 * (`ECONNRESET`, `EPIPE`, `ECONNREFUSED`, ...). The memory transport and the
 * fault wrappers both use these, so code that classifies socket errors by
 * `cause.code` (`@socket-to-me/node`'s `NodeErrors`, which memory sockets
 * declare as their failure reasons) sees the same values it would see over
 * real TCP.
 *
 * Stage: transport (below read and write).
 *
 * @since 0.1.0
 */
import * as NodeErrors from "@socket-to-me/node/NodeErrors"
import * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"

/**
 * An `Error` shaped like Node's system errors: `code` and `syscall` set, and
 * the message Node would print (`"read ECONNRESET"`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrnoError extends Error {
  readonly code: string
  readonly syscall: string
}

/**
 * Builds an `ErrnoError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const errnoError = (code: string, syscall: string, detail?: string): ErrnoError =>
  Object.assign(new Error(detail === undefined ? `${syscall} ${code}` : `${syscall} ${code} ${detail}`), {
    code,
    syscall
  })

/**
 * What `pull` fails with after the peer reset the connection: a read error
 * with `ECONNRESET`, like Node's `'error'` event on a reset socket.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectionReset = (): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketReadError({ cause: errnoError("ECONNRESET", "read") }) })

/**
 * What `write` fails with once the peer can no longer receive (it reset or
 * closed the connection): a write error with `EPIPE`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const brokenPipe = (): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause: errnoError("EPIPE", "write") }) })

/**
 * What dialing fails with when nothing listens (or the backlog is full):
 * an open error with `ECONNREFUSED`, as `NodeSocket.makeNet` reports it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectionRefused = (address: string): Socket.SocketError =>
  new Socket.SocketError({
    reason: new Socket.SocketOpenError({ kind: "Unknown", cause: errnoError("ECONNREFUSED", "connect", address) })
  })

/**
 * A close with the given code. Code 1000 is how every socket reports an
 * orderly end of input; 1006 is what a pull gets when its own reader scope
 * closed under it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const closed = (code: number): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })

/**
 * What `write` fails with on a socket this side already destroyed (by a
 * `CloseEvent`, a reset or closing the reader).
 *
 * @since 0.1.0
 * @category constructors
 */
export const writeAfterDestroy = (): Socket.SocketError =>
  new Socket.SocketError({
    reason: new Socket.SocketWriteError({
      cause: Object.assign(new Error("Cannot call write after a stream was destroyed"), {
        code: "ERR_STREAM_DESTROYED"
      })
    })
  })

/**
 * What `write` fails with after this side half-closed (`end`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const writeAfterEnd = (): Socket.SocketError =>
  new Socket.SocketError({
    reason: new Socket.SocketWriteError({
      cause: Object.assign(new Error("write after end"), { code: "ERR_STREAM_WRITE_AFTER_END" })
    })
  })

/**
 * What binding a second listener on the same memory network fails with.
 *
 * @since 0.1.0
 * @category constructors
 */
export const addressInUse = (address: string): SocketServer.SocketServerError =>
  new SocketServer.SocketServerError({
    reason: new SocketServer.SocketServerOpenError({ cause: errnoError("EADDRINUSE", "listen", address) })
  })

/**
 * The errno `code` of a socket error's cause, if it has one (`"ECONNRESET"`,
 * `"EPIPE"`, ...).
 *
 * @since 0.1.0
 * @category utils
 */
export const causeCode = (error: Socket.SocketError): string | undefined => {
  const reason = error.reason
  return "cause" in reason ? NodeErrors.code(reason.cause) : undefined
}

/**
 * A read error carrying `cause`, what a socket destroyed with an error (for
 * instance by writing a `CloseEvent` with a code above 1000) reads.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readError = (cause: unknown): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
