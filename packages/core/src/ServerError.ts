/**
 * The error family of a server as a whole: what can stop it from listening.
 *
 * Stage: accept. A transport that binds listeners reports a failed bind
 * as a `ServerError` whose reason says what a user can act on; it alone
 * knows its platform's error codes (Node's are read in
 * `@socket-to-me/node`'s `NodeErrors`).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
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
 * The listener's TLS files cannot be used (missing, not PEM, a key that
 * does not match its certificate, an expired certificate): `detail` says
 * which file and why, on one line.
 *
 * @since 0.1.0
 * @category reasons
 */
export class TlsConfigInvalid extends Data.TaggedError("TlsConfigInvalid")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/**
 * Every reason a server can fail.
 *
 * @since 0.1.0
 * @category models
 */
export type ServerErrorReason = AddressInUse | PermissionDenied | BadAddress | ListenFailed | TlsConfigInvalid

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
