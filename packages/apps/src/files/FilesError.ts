/**
 * The error family of the files app: every way an upload, download or list
 * can fail, on either side, as one tagged `FilesError` whose `reason` says
 * which.
 *
 * Stage: protocol and app. The server's reasons each have a wire code
 * (`ErrorCode`) sent to the client in an `error` message; the
 * client turns an `error` message into `Rejected` with that code, and has a
 * few reasons of its own (verification, local files, the connection).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"

/**
 * Every code an `error` message of the protocol can carry, one per server
 * reason below.
 *
 * @since 0.1.0
 * @category wire
 */
export const ErrorCode = Schema.Literals([
  "invalid-name",
  "too-large",
  "insufficient-space",
  "disk-full",
  "busy",
  "too-many-uploads",
  "too-slow",
  "not-found",
  "size-mismatch",
  "checksum-mismatch",
  "no-free-name",
  "storage-failed",
  "bad-frame",
  "bad-request"
])

/**
 * A wire error code.
 *
 * @since 0.1.0
 * @category wire
 */
export type ErrorCode = typeof ErrorCode.Type

// Names come from peers: shown quoted and escaped, so control characters
// and separators are visible and cannot break a log or terminal line.
const quote = (name: string): string => JSON.stringify(name)

/**
 * The offered name is not a plain, safe base name (see `FileName.validate`).
 *
 * @since 0.1.0
 * @category reasons
 */
export class InvalidName extends Data.TaggedError("InvalidName")<{
  readonly name: string
  readonly detail: string
}> {
  override get message(): string {
    return `invalid file name ${quote(this.name)}: ${this.detail}`
  }
}

/**
 * The offered file is larger than the server accepts.
 *
 * @since 0.1.0
 * @category reasons
 */
export class TooLarge extends Data.TaggedError("TooLarge")<{
  readonly size: number
  readonly limit: number
}> {
  override get message(): string {
    return `file of ${this.size} bytes exceeds the limit of ${this.limit} bytes`
  }
}

/**
 * Accepting the upload would leave less free disk space than the server keeps.
 *
 * @since 0.1.0
 * @category reasons
 */
export class InsufficientSpace extends Data.TaggedError("InsufficientSpace")<{
  readonly needed: number
  readonly available: number
}> {
  override get message(): string {
    return `insufficient disk space: ${this.needed} bytes needed, ${this.available} available`
  }
}

/**
 * The disk filled up while the file was being written; the partial file was deleted.
 *
 * @since 0.1.0
 * @category reasons
 */
export class DiskFull extends Data.TaggedError("DiskFull")<{
  readonly detail: string
  /** Where, for the server's log; never part of the message a client is sent. */
  readonly path?: string | undefined
}> {
  override get message(): string {
    return `disk full: ${this.detail}`
  }
}

/**
 * The same file (name, size and sha256) is being received on another
 * connection; try again shortly.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Busy extends Data.TaggedError("Busy")<{
  readonly detail: string
}> {
  override get message(): string {
    return `busy: ${this.detail}`
  }
}

/**
 * The server is receiving as many uploads as it allows: in all
 * (`limit: "server"`), from the offering peer's address (`"peer"`), or
 * staged (`"staging"`: every staging entry belongs to an upload in
 * progress). Nothing was reserved or written; try again later.
 *
 * @since 0.1.0
 * @category reasons
 */
export class TooManyUploads extends Data.TaggedError("TooManyUploads")<{
  readonly limit: "server" | "peer" | "staging"
  readonly max: number
  /** The peer's address, for `limit: "peer"`. */
  readonly peer?: string | undefined
}> {
  override get message(): string {
    switch (this.limit) {
      case "server":
        return `too many uploads in progress: the server receives at most ${this.max} at a time; retry later`
      case "peer":
        return `too many uploads in progress from ${this.peer ?? "this address"}: the server receives at most ${this.max} at a time from one address; retry later`
      case "staging":
        return `too many uploads in progress: all ${this.max} staging entries are in use; retry later`
    }
  }
}

/**
 * The upload received less than the server's minimum rate over one
 * measuring window; it was stopped, and what it sent is kept for a resume.
 *
 * @since 0.1.0
 * @category reasons
 */
export class TooSlow extends Data.TaggedError("TooSlow")<{
  /** Bytes received in the window. */
  readonly received: number
  readonly windowMillis: number
  readonly minBytesPerSecond: number
}> {
  override get message(): string {
    return `upload too slow: ${this.received} bytes received in ${this.windowMillis / 1000} seconds, below the server's minimum of ${this.minBytesPerSecond} bytes per second; what was received is kept, send again to resume`
  }
}

/**
 * No regular file of that name is in the folder.
 *
 * @since 0.1.0
 * @category reasons
 */
export class NotFound extends Data.TaggedError("NotFound")<{
  readonly name: string
}> {
  override get message(): string {
    return `no file named ${quote(this.name)}`
  }
}

/**
 * The client sent more bytes than it offered.
 *
 * @since 0.1.0
 * @category reasons
 */
export class SizeMismatch extends Data.TaggedError("SizeMismatch")<{
  readonly expected: number
  readonly actual: number
}> {
  override get message(): string {
    return `size mismatch: ${this.expected} bytes offered, ${this.actual} sent`
  }
}

/**
 * The bytes received do not hash to the offered sha256; the partial file was deleted.
 *
 * @since 0.1.0
 * @category reasons
 */
export class ChecksumMismatch extends Data.TaggedError("ChecksumMismatch")<{
  readonly expected: string
  readonly actual: string
}> {
  override get message(): string {
    return `checksum mismatch: expected sha256 ${this.expected}, received bytes hash to ${this.actual}`
  }
}

/**
 * The name and all its numbered variants are taken.
 *
 * @since 0.1.0
 * @category reasons
 */
export class NoFreeName extends Data.TaggedError("NoFreeName")<{
  readonly name: string
  readonly tried: number
}> {
  override get message(): string {
    return `no free name for ${quote(this.name)} after ${this.tried} tries`
  }
}

/**
 * A file operation of the store failed for a reason other than space.
 *
 * @since 0.1.0
 * @category reasons
 */
export class StorageFailed extends Data.TaggedError("StorageFailed")<{
  readonly detail: string
  /** Where, for the server's log; never part of the message a client is sent. */
  readonly path?: string | undefined
}> {
  override get message(): string {
    return `storage failed: ${this.detail}`
  }
}

/**
 * A frame that is not a frame of the protocol: too large, empty, of an
 * unknown type, or a control frame that is not UTF-8 JSON.
 *
 * @since 0.1.0
 * @category reasons
 */
export class BadFrame extends Data.TaggedError("BadFrame")<{
  readonly detail: string
}> {
  override get message(): string {
    return `bad frame: ${this.detail}`
  }
}

/**
 * A well-formed message that is not valid here: unknown type, missing or
 * invalid fields, or a message out of order.
 *
 * @since 0.1.0
 * @category reasons
 */
export class BadRequest extends Data.TaggedError("BadRequest")<{
  readonly detail: string
}> {
  override get message(): string {
    return `bad request: ${this.detail}`
  }
}

/**
 * The server answered with an `error` message (client side).
 *
 * @since 0.1.0
 * @category reasons
 */
export class Rejected extends Data.TaggedError("Rejected")<{
  readonly code: ErrorCode
  readonly detail: string
}> {
  override get message(): string {
    return `server refused (${this.code}): ${this.detail}`
  }
}

/**
 * A downloaded file does not hash to the sha256 the server announced; the
 * partial output was deleted (client side).
 *
 * @since 0.1.0
 * @category reasons
 */
export class VerifyFailed extends Data.TaggedError("VerifyFailed")<{
  readonly name: string
  readonly expected: string
  readonly actual: string
}> {
  override get message(): string {
    return `verification of ${quote(this.name)} failed: expected sha256 ${this.expected}, got ${this.actual}; the partial download was deleted, run the command again`
  }
}

/**
 * A local file could not be read or written (client side).
 *
 * @since 0.1.0
 * @category reasons
 */
export class LocalFileFailed extends Data.TaggedError("LocalFileFailed")<{
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.path}: ${this.detail}`
  }
}

/**
 * The server did not follow the protocol (client side).
 *
 * @since 0.1.0
 * @category reasons
 */
export class UnexpectedReply extends Data.TaggedError("UnexpectedReply")<{
  readonly detail: string
}> {
  override get message(): string {
    return `unexpected reply from server: ${this.detail}`
  }
}

/**
 * The connection could not be made or was lost before the exchange ended
 * (client side). An interrupted upload can be resumed by sending again.
 *
 * @since 0.1.0
 * @category reasons
 */
export class ConnectionLost extends Data.TaggedError("ConnectionLost")<{
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * The peer's first reply is not in the files protocol: it is another kind
 * of server (an echo server sends the request back; an HTTP server's
 * `HTTP/1.1` reads as a frame length of 1213486160 bytes) (client side).
 *
 * @since 0.1.0
 * @category reasons
 */
export class NotFilesServer extends Data.TaggedError("NotFilesServer")<{
  readonly address: string
}> {
  override get message(): string {
    return `${this.address} is not a files server: its reply is not in the files protocol`
  }
}

/**
 * Reasons the server sends to clients, each with its wire code.
 *
 * @since 0.1.0
 * @category models
 */
export type ServerReason =
  | InvalidName
  | TooLarge
  | InsufficientSpace
  | DiskFull
  | Busy
  | TooManyUploads
  | TooSlow
  | NotFound
  | SizeMismatch
  | ChecksumMismatch
  | NoFreeName
  | StorageFailed
  | BadFrame
  | BadRequest

/**
 * Reasons only a client produces.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientReason =
  | Rejected
  | VerifyFailed
  | LocalFileFailed
  | UnexpectedReply
  | NotFilesServer
  | ConnectionLost
  | InvalidName

/**
 * Every reason a files operation can fail.
 *
 * @since 0.1.0
 * @category models
 */
export type FilesErrorReason = ServerReason | ClientReason

/**
 * The one error type of the files app; `reason` tells which failure it is.
 *
 * @since 0.1.0
 * @category errors
 */
export class FilesError extends Data.TaggedError("FilesError")<{
  readonly reason: FilesErrorReason
}> {
  override get message(): string {
    return this.reason.message
  }
}

/**
 * Wraps a reason into a `FilesError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (reason: FilesErrorReason): FilesError => new FilesError({ reason })

const codes: { readonly [K in ServerReason["_tag"]]: ErrorCode } = {
  InvalidName: "invalid-name",
  TooLarge: "too-large",
  InsufficientSpace: "insufficient-space",
  DiskFull: "disk-full",
  Busy: "busy",
  TooManyUploads: "too-many-uploads",
  TooSlow: "too-slow",
  NotFound: "not-found",
  SizeMismatch: "size-mismatch",
  ChecksumMismatch: "checksum-mismatch",
  NoFreeName: "no-free-name",
  StorageFailed: "storage-failed",
  BadFrame: "bad-frame",
  BadRequest: "bad-request"
}

/**
 * Whether a reason is one the server reports to its client.
 *
 * @since 0.1.0
 * @category guards
 */
export const isServerReason = (reason: FilesErrorReason): reason is ServerReason => reason._tag in codes

/**
 * The wire code of a server reason.
 *
 * @since 0.1.0
 * @category wire
 */
export const code = (reason: ServerReason): ErrorCode => codes[reason._tag]

/**
 * Whether a reason means the peer broke the protocol (as opposed to a
 * request the server declines): such a connection ends with a typed
 * `DecodeFailed` exit reason.
 *
 * @since 0.1.0
 * @category guards
 */
export const isProtocolViolation = (reason: FilesErrorReason): boolean =>
  reason._tag === "BadFrame" || reason._tag === "BadRequest" || reason._tag === "SizeMismatch"

/**
 * Whether a reason is a failure of the server's storage, which its operator
 * must hear of (logged at `Error`, or `Warn` for a full disk), rather than
 * a request it declined.
 *
 * @since 0.1.0
 * @category guards
 */
export const isStorageFailure = (reason: FilesErrorReason): reason is StorageFailed | DiskFull =>
  reason._tag === "StorageFailed" || reason._tag === "DiskFull"
