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
 * A connection's two addresses, as `host:port` strings (`[v6]:port` for
 * IPv6; a path, or `unix`, on a Unix socket).
 *
 * @since 0.1.0
 * @category models
 */
export interface Addresses {
  readonly local: string
  readonly remote: string
}

/**
 * Addresses of the socket being handled, as `host:port` strings
 * (`[v6]:port` for IPv6).
 *
 * @since 0.1.0
 * @category services
 */
export class SocketAddresses extends Context.Service<SocketAddresses, Addresses>()("@socket-to-me/core/SocketAddresses") {}

/**
 * Formats a host and port the way every log line and CLI message shows them.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (host: string, port: number): string => host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

/**
 * The host of an address as `format` writes it (`host:port`, `[v6]:port`),
 * without its port: what a machine's connections share whatever their source
 * ports, and what the per-address limit counts by. An IPv4 address mapped
 * into IPv6 (`[::ffff:1.2.3.4]:5`) is its IPv4 address. `undefined` for an
 * address without a port (a Unix socket's peer, `"unknown"`), which no
 * machine can be told apart by.
 *
 * @since 0.1.0
 * @category formatting
 */
export const host = (address: string): string | undefined => {
  const host = address.startsWith("[")
    ? (address.indexOf("]:") < 0 ? undefined : address.slice(1, address.indexOf("]:")))
    : address.lastIndexOf(":") < 0
    ? undefined
    : address.slice(0, address.lastIndexOf(":"))
  if (host === undefined || host === "" || host === "unknown") return undefined
  return host.toLowerCase().startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host
}

/**
 * Formats a listener's bound address as `host:port` (or the path of a Unix socket).
 *
 * @since 0.1.0
 * @category formatting
 */
export const formatSocketAddress = (address: NetAddress.SocketAddress): string =>
  address._tag === "UnixPathAddress" ? address.path : format(NetAddress.formatIp(address.address), address.port)
