/**
 * The transport contract: what core needs from a socket beyond effect's
 * `Socket`, declared by the transport that made the socket. Core never
 * looks at a socket's shape or its platform's error codes; it reads this.
 *
 * Stage: transport, under read and write (`Duplex` is its one reader). A
 * transport (Node TCP in `@socket-to-me/node`, the memory network in the
 * testkit) makes effect `Socket`s and may declare, with `declare`:
 *
 * - `failure`: what its failures mean, as typed reasons. A reset is a
 *   `PeerReset` whatever errno its platform reports it with; core has no
 *   table of codes.
 * - `directWriter`: a writer that can also write without an effect
 *   (`DirectWriter`: write now if the socket takes it, then await writable).
 *   The write stage (`Outbound`) then writes from the app's fiber when the
 *   writer has nothing to do. A later capability (sending a file by the
 *   kernel) belongs here too.
 *
 * A socket that declares nothing (a plain effect `Socket`) gets
 * `undeclared`: every failure is a `ReadFailed` or `WriteFailed`, and
 * every write goes through `Socket.Writer`.
 *
 * What a transport promises by declaring, beyond effect's `Socket`
 * contract (an orderly end of input is a `SocketCloseError` with code
 * 1000; a close with any other code is abrupt):
 *
 * - `failure` is total and pure: any cause its socket reported gives a
 *   reason, the same each time.
 * - `directWriter`, when present, is acquired once, instead of
 *   `Socket.writer`, with the same release (half-close). Its `writeNow`
 *   never throws and never waits; once it returned `false`, nothing is
 *   written before `awaitWritable` completes; a write that failed is
 *   reported by `awaitWritable` (or by the next `write`).
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as ConnectionError from "./ConnectionError.ts"

/**
 * Key under which a socket carries its transport's declaration.
 *
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId = "~@socket-to-me/core/Transport"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = typeof TypeId

/**
 * What the socket was doing when it failed: reading (or opening), or writing.
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = "read" | "write"

/**
 * The reasons a transport's own failure may be given: a reset by the peer,
 * nothing listening where a client dialed, or any other failure of a read
 * or a write.
 *
 * @since 0.1.0
 * @category models
 */
export type Failure =
  | ConnectionError.PeerReset
  | ConnectionError.NoListener
  | ConnectionError.ReadFailed
  | ConnectionError.WriteFailed

/**
 * A socket writer that can also write without an effect.
 *
 * @since 0.1.0
 * @category models
 */
export interface DirectWriter extends Socket.Writer {
  /**
   * Hands `chunks` to the socket at once: `true` if it takes more now,
   * `false` if it asks to wait, after which nothing may be written before
   * `awaitWritable` completes. Never throws.
   */
  readonly writeNow: (chunks: Arr.NonEmptyReadonlyArray<Uint8Array>) => boolean
  /**
   * Completes once the socket has taken everything handed to it (nothing
   * is left buffered in user space); fails if it never will (the socket
   * failed or was closed), with the failure that closed it.
   */
  readonly awaitWritable: Effect.Effect<void, Socket.SocketError>
}

/**
 * What a transport declares about its sockets.
 *
 * @since 0.1.0
 * @category models
 */
export interface Capabilities {
  /**
   * The typed reason for the cause of a `SocketReadError` or
   * `SocketOpenError` (`"read"`), or of a `SocketWriteError` (`"write"`),
   * that this transport's socket reported.
   */
  readonly failure: (cause: unknown, during: Operation) => Failure
  /** The socket's writer with direct writes, acquired instead of `Socket.writer`; `undefined` if it has none. */
  readonly directWriter: Effect.Effect<DirectWriter, never, Scope.Scope> | undefined
}

/**
 * A socket that declares its transport's capabilities.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transport extends Socket.Socket {
  readonly [TypeId]: Capabilities
}

/**
 * The failure reasons of a transport that declares nothing: a read
 * failure, or a write failure.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unclassified = (cause: unknown, during: Operation): Failure =>
  during === "read" ? new ConnectionError.ReadFailed({ cause }) : new ConnectionError.WriteFailed({ cause })

/**
 * What core assumes of a socket that declares nothing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const undeclared: Capabilities = { failure: unclassified, directWriter: undefined }

/**
 * Whether `socket` declares its transport.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTransport = (socket: Socket.Socket): socket is Transport => Predicate.hasProperty(socket, TypeId)

/**
 * What `socket`'s transport declared, or `undeclared`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const capabilities = (socket: Socket.Socket): Capabilities => isTransport(socket) ? socket[TypeId] : undeclared

/**
 * `socket` with `capabilities` declared. Everything else (its reader and
 * writer, any other key it carries) is `socket`'s own, inherited.
 *
 * @since 0.1.0
 * @category constructors
 */
export const declare = (socket: Socket.Socket, capabilities: Capabilities): Transport =>
  Object.assign(Object.create(socket) as Socket.Socket, { [TypeId]: capabilities })

/**
 * `wrapper`, a socket built over `wrapped` (a fault, a probe), with the
 * failure reasons `wrapped` declared and no direct writer: its writes go
 * through the wrapper's own writer, which a direct write would bypass.
 *
 * @since 0.1.0
 * @category combinators
 */
export const wrapping = (wrapped: Socket.Socket, wrapper: Socket.Socket): Transport =>
  declare(wrapper, { failure: capabilities(wrapped).failure, directWriter: undefined })

/**
 * The typed reason for `error`, a failure a socket reported while reading
 * or opening, given its transport's `failure` (see `Capabilities`);
 * `undefined` for an orderly end of input (a close with code 1000).
 *
 * @since 0.1.0
 * @category errors
 */
export const readFailure = (
  failure: Capabilities["failure"],
  error: Socket.SocketError
): ConnectionError.ConnectionErrorReason | undefined => {
  const reason = error.reason
  switch (reason._tag) {
    case "SocketCloseError":
      return reason.code === 1000 ? undefined : new ConnectionError.PeerReset({ cause: reason })
    case "SocketReadError":
    case "SocketOpenError":
      return failure(reason.cause, "read")
    default:
      return new ConnectionError.ReadFailed({ cause: reason })
  }
}

/**
 * The typed reason for `error`, a failure a socket reported while writing,
 * given its transport's `failure` (see `Capabilities`).
 *
 * @since 0.1.0
 * @category errors
 */
export const writeFailure = (failure: Capabilities["failure"], error: Socket.SocketError): Failure => {
  const reason = error.reason
  return failure("cause" in reason ? reason.cause : reason, "write")
}
