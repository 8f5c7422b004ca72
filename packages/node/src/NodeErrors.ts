/**
 * Node's errors as core's typed reasons: the one place that reads the
 * `code` of a Node error (`ECONNRESET`, `EADDRINUSE`, ...) and knows what
 * each code means.
 *
 * Stage: transport. The Node transport declares `failure` as its sockets'
 * failure reasons (see core's `Transport`), and its listeners build their
 * `ServerError`s with `serverError` and their accept failures with
 * `acceptFailure`; nothing else in the framework reads an errno.
 *
 * @since 0.1.0
 */
import * as AcceptError from "@socket-to-me/core/AcceptError"
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as ServerError from "@socket-to-me/core/ServerError"
import type * as Transport from "@socket-to-me/core/Transport"

/**
 * The `code` of a Node error (`"ECONNRESET"`, `"ERR_STREAM_DESTROYED"`,
 * ...), or `undefined` for anything without a string one.
 *
 * @since 0.1.0
 * @category accessors
 */
export const code = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined
  return typeof cause.code === "string" ? cause.code : undefined
}

// The peer reset the connection, or it is gone: a write to it fails with
// EPIPE; one to a socket destroyed under the writer (by that reset) with
// ERR_STREAM_DESTROYED.
const resetCodes: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_STREAM_DESTROYED"])

/**
 * Whether a Node socket error means the connection was reset or is gone.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isReset = (cause: unknown): boolean => {
  const errno = code(cause)
  return errno !== undefined && resetCodes.has(errno)
}

/**
 * The typed reason of a Node socket's failure: `PeerReset` for a reset,
 * `NoListener` for a dial refused (ECONNREFUSED: nothing listens there),
 * otherwise `ReadFailed` or `WriteFailed` by what the socket was doing.
 * What Node sockets declare as their `Transport.Capabilities.failure`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const failure = (cause: unknown, during: Transport.Operation): Transport.Failure =>
  isReset(cause)
    ? new ConnectionError.PeerReset({ cause })
    : code(cause) === "ECONNREFUSED"
    ? new ConnectionError.NoListener({ cause })
    : during === "read"
    ? new ConnectionError.ReadFailed({ cause })
    : new ConnectionError.WriteFailed({ cause })

// An address this machine cannot listen on: not one of its own, a name
// that does not resolve, or a port out of range.
const badAddressCodes: ReadonlySet<string> = new Set([
  "EADDRNOTAVAIL",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_NONAME",
  "EINVAL",
  "ERR_SOCKET_BAD_PORT"
])

/**
 * The `ServerError` of a failed listen on `address`, from Node's error.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverError = (cause: unknown, address: string): ServerError.ServerError => {
  const errno = code(cause)
  const reason: ServerError.ServerErrorReason = errno === "EADDRINUSE"
    ? new ServerError.AddressInUse({ address })
    : errno === "EACCES" || errno === "EPERM"
    ? new ServerError.PermissionDenied({ address })
    : errno !== undefined && badAddressCodes.has(errno)
    ? new ServerError.BadAddress({ address, cause })
    : new ServerError.ListenFailed({ address, cause })
  return new ServerError.ServerError({ reason })
}

// No file descriptor left: the process's limit (EMFILE) or the system's
// (ENFILE) on open files, which sockets count against.
const exhaustedCodes: ReadonlySet<string> = new Set(["EMFILE", "ENFILE"])

/**
 * Whether a Node error means no file descriptor is left (`EMFILE`, `ENFILE`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isDescriptorsExhausted = (cause: unknown): boolean => {
  const errno = code(cause)
  return errno !== undefined && exhaustedCodes.has(errno)
}

/**
 * The typed reason of a failed accept (or of a connection the listener
 * could not take), from Node's error: `DescriptorsExhausted` for `EMFILE`
 * and `ENFILE`, otherwise `AcceptFailed`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const acceptFailure = (cause: unknown): AcceptError.AcceptErrorReason => {
  const errno = code(cause)
  return errno !== undefined && exhaustedCodes.has(errno)
    ? new AcceptError.DescriptorsExhausted({ code: errno, cause })
    : new AcceptError.AcceptFailed({ cause })
}
