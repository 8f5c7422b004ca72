/**
 * The error family of a server as a whole: what can stop it from listening.
 *
 * Stage: accept. Transports report bind failures as effect's
 * `SocketServerError`; `fromSocketServerError` turns them into a
 * `ServerError` whose reason says what a user can act on.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as SocketServer from "effect/socket/SocketServer"
import { describeCause } from "./ConnectionError.ts"

/**
 * Another process (or server) is already listening on the address.
 *
 * @since 0.1.0
 * @category reasons
 */
export class AddressInUse extends Data.TaggedError("AddressInUse")<{ readonly address: string }> {
  override get message(): string {
    return `address ${this.address} is already in use`
  }
}

/**
 * The process may not listen there (for example a port below 1024 without privileges).
 *
 * @since 0.1.0
 * @category reasons
 */
export class PermissionDenied extends Data.TaggedError("PermissionDenied")<{ readonly address: string }> {
  override get message(): string {
    return `permission denied to listen on ${this.address}`
  }
}

/**
 * The host does not exist or is not an address of this machine.
 *
 * @since 0.1.0
 * @category reasons
 */
export class BadAddress extends Data.TaggedError("BadAddress")<{
  readonly address: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `cannot listen on ${this.address}: ${describeCause(this.cause)}`
  }
}

/**
 * Any other failure to listen or accept.
 *
 * @since 0.1.0
 * @category reasons
 */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly address: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `cannot listen on ${this.address}: ${describeCause(this.cause)}`
  }
}

/**
 * Every reason a server can fail.
 *
 * @since 0.1.0
 * @category models
 */
export type ServerErrorReason = AddressInUse | PermissionDenied | BadAddress | ListenFailed

/**
 * The one error type of a server; `reason` tells which failure it is.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Data.TaggedError("ServerError")<{
  readonly reason: ServerErrorReason
}> {
  override get message(): string {
    return this.reason.message
  }
}

const badAddressCodes = new Set(["EADDRNOTAVAIL", "ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EINVAL", "ERR_SOCKET_BAD_PORT"])

/**
 * Classifies a transport's bind error for the address it tried.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSocketServerError = (error: SocketServer.SocketServerError, address: string): ServerError =>
  fromCause(error.reason.cause, address)

/**
 * Classifies the platform error (with its `code`, e.g. `EADDRINUSE`) of a
 * failed listen on `address`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromCause = (cause: unknown, address: string): ServerError => {
  const code = (cause as { readonly code?: unknown } | null | undefined)?.code
  const reason: ServerErrorReason = code === "EADDRINUSE"
    ? new AddressInUse({ address })
    : code === "EACCES" || code === "EPERM"
    ? new PermissionDenied({ address })
    : typeof code === "string" && badAddressCodes.has(code)
    ? new BadAddress({ address, cause })
    : new ListenFailed({ address, cause })
  return new ServerError({ reason })
}
