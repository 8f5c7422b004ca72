/**
 * Real TCP for the apps: a `SocketServer` bound with Node's `net`, which also
 * reports each connection's addresses, and a dialer for clients.
 *
 * Stage: accept (and dial). This module and the CLI are the only places that
 * touch `@effect/platform-node`; everything else runs over any transport.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as ServerError from "@socket-to-me/core/ServerError"
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"

/**
 * Where to listen or connect.
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly host: string
  readonly port: number
}

// NodeSocketServer runs each connection's handler with the accepted
// `net.Socket` in context; read the addresses from it.
const addressesOf = Effect.map(Effect.serviceOption(NodeSocket.NetSocket), (conn) =>
  Option.match(conn, {
    onNone: () => ({ local: "unknown", remote: "unknown" }),
    onSome: (conn) => ({
      local: SocketAddresses.format(conn.localAddress ?? "unknown", conn.localPort ?? 0),
      remote: SocketAddresses.format(conn.remoteAddress ?? "unknown", conn.remotePort ?? 0)
    })
  }))

/**
 * Binds a TCP listener on `endpoint` for the life of the scope. Bind
 * failures are classified (`AddressInUse`, `PermissionDenied`, ...).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeServer = (endpoint: Endpoint) =>
  // allowHalfOpen: a client that finishes sending (FIN) still gets every
  // byte of its replies; without it Node would end our side at once.
  // noDelay: replies go out at once. The writer already sends each batch
  // in one corked write, so Nagle's algorithm only delayed small replies
  // until the peer's delayed ACK (40 ms): chat lines, short responses.
  NodeSocketServer.make({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true }).pipe(
    Effect.mapError((error) =>
      ServerError.fromSocketServerError(error, SocketAddresses.format(endpoint.host, endpoint.port))
    ),
    Effect.map((server) =>
      SocketServer.SocketServer.of({
        address: server.address,
        run: <R, E, _>(handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>) =>
          server.run((socket) =>
            Effect.flatMap(addressesOf, (addresses) =>
              Effect.provideService(handler(socket), SocketAddresses.SocketAddresses, addresses)) as Effect.Effect<
                _,
                E,
                R
              >
          )
      })
    )
  )

/**
 * `makeServer` as a layer providing `SocketServer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (endpoint: Endpoint): Layer.Layer<SocketServer.SocketServer, ServerError.ServerError> =>
  Layer.effect(SocketServer.SocketServer, makeServer(endpoint))

/**
 * A socket to `endpoint`; it connects when opened (see `Client.connect`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const dial = (endpoint: Endpoint): Effect.Effect<Socket.Socket> =>
  NodeSocket.makeNet({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true })
