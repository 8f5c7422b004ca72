/**
 * The local and remote address of an accepted socket, as the transport
 * reports them.
 *
 * Stage: accept. effect's `Socket` carries no addresses, so a transport that
 * knows them (Node TCP, the testkit's memory network) provides this service
 * in the context it runs each connection's handler with. Core only reads it;
 * without it a connection's addresses read as `"unknown"`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as NetAddress from "effect/net/NetAddress"

/**
 * Addresses of the socket being handled, as `host:port` strings
 * (`[v6]:port` for IPv6).
 *
 * @since 0.1.0
 * @category services
 */
export class SocketAddresses extends Context.Service<SocketAddresses, {
  readonly local: string
  readonly remote: string
}>()("@socket-to-me/core/SocketAddresses") {}

/**
 * Formats a host and port the way every log line and CLI message shows them.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (host: string, port: number): string => host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

/**
 * Formats a listener's bound address as `host:port` (or the path of a Unix socket).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatSocketAddress = (address: NetAddress.SocketAddress): string =>
  address._tag === "UnixPathAddress" ? address.path : format(NetAddress.formatIp(address.address), address.port)
