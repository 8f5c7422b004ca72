/**
 * Real TCP for the apps: a `SocketServer` bound with Node's `net`, which also
 * reports each connection's addresses, and a dialer for clients.
 *
 * Stage: accept (and dial). This module (with `FlowingSocket`) and the CLI
 * are the only places that touch Node's `net` and `@effect/platform-node`;
 * everything else runs over any transport. Clients dial with effect's
 * `NodeSocket.makeNet`, declared (`declare`) with Node's failure reasons.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import type * as ServerError from "@socket-to-me/core/ServerError"
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Transport from "@socket-to-me/core/Transport"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as NetAddress from "effect/net/NetAddress"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import * as Net from "node:net"
import * as FlowingSocket from "./FlowingSocket.ts"
import * as NodeErrors from "./NodeErrors.ts"

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

const addressesOf = (conn: Net.Socket) => ({
  local: SocketAddresses.format(conn.localAddress ?? "unknown", conn.localPort ?? 0),
  remote: SocketAddresses.format(conn.remoteAddress ?? "unknown", conn.remotePort ?? 0)
})

// Every accepted socket keeps this listener for its whole life: an error
// while no reader is attached (before the handler runs, after it ended)
// must not crash the process. The reader reports errors it sees itself.
const ignoreError = () => {}

/**
 * Binds a TCP listener on `endpoint` for the life of the scope. Bind
 * failures are classified (`AddressInUse`, `PermissionDenied`, ...).
 *
 * Each accepted socket is read in flowing mode (see `FlowingSocket`), and
 * its handler runs in a fiber of its own with the connection's addresses
 * (`SocketAddresses`) in context. Connections accepted before `run` starts
 * wait for it, paused; those still waiting when the scope closes are
 * destroyed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeServer = Effect.fnUntraced(function*(endpoint: Endpoint) {
  const address = SocketAddresses.format(endpoint.host, endpoint.port)
  const waiting = new Set<Net.Socket>()
  let onConnection = (conn: Net.Socket) => {
    waiting.add(conn)
    conn.once("close", () => waiting.delete(conn))
  }
  // allowHalfOpen: a client that finishes sending (FIN) still gets every
  // byte of its replies; without it Node would end our side at once.
  // noDelay: replies go out at once. The writer already sends each batch
  // in one corked write, so Nagle's algorithm only delayed small replies
  // until the peer's delayed ACK (40 ms): chat lines, short responses.
  // pauseOnConnect: nothing is read before the handler pulls.
  const server = yield* Effect.acquireRelease(
    Effect.sync(() =>
      Net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (conn) => {
        conn.on("error", ignoreError)
        onConnection(conn)
      })
    ),
    (server) =>
      Effect.callback<void>((resume) => {
        for (const conn of waiting) conn.destroy()
        waiting.clear()
        server.close(() => resume(Effect.void))
      })
  )
  yield* Effect.callback<void, ServerError.ServerError>((resume) => {
    const onError = (cause: Error) => resume(Effect.fail(NodeErrors.serverError(cause, address)))
    server.once("error", onError)
    server.listen({ host: endpoint.host, port: endpoint.port }, () => {
      server.off("error", onError)
      resume(Effect.void)
    })
  })
  const bound = server.address() as Net.AddressInfo
  const boundAddress = yield* Effect.fromResult(NetAddress.inetAddressFromIpString(bound.address, bound.port)).pipe(
    Effect.mapError((cause) => NodeErrors.serverError(cause, address))
  )

  const run = <R, E, _>(handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const services = Context.omit(Scope.Scope)(yield* Effect.context<R>()) as Context.Context<R>
      const track = Fiber.runIn(scope)
      const previous = onConnection
      onConnection = (conn) => {
        const context = Context.add(services, SocketAddresses.SocketAddresses, addressesOf(conn))
        track(Effect.runForkWith(context)(
          Effect.ignoreCause(handler(FlowingSocket.fromNetSocket(conn)), {
            log: "Unhandled",
            message: "Unhandled error in the connection handler"
          })
        ))
      }
      for (const conn of waiting) onConnection(conn)
      waiting.clear()
      return yield* Effect.callback<never, SocketServer.SocketServerError>(() =>
        Effect.suspend(() => {
          onConnection = previous
          return Scope.close(scope, Exit.void)
        })
      )
    })

  return SocketServer.SocketServer.of({ address: boundAddress, run })
})

/**
 * `makeServer` as a layer providing `SocketServer`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (endpoint: Endpoint): Layer.Layer<SocketServer.SocketServer, ServerError.ServerError> =>
  Layer.effect(SocketServer.SocketServer, makeServer(endpoint))

// What a socket of effect's `NodeSocket` declares: Node's failure reasons;
// its writer has no direct writes.
const netCapabilities: Transport.Capabilities = { failure: NodeErrors.failure, directWriter: undefined }

/**
 * `socket`, a socket over a Node `net.Socket` made by effect's `NodeSocket`
 * (`makeNet`, `fromDuplex`), declared as core's transport contract asks:
 * its failures are read with `NodeErrors.failure`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const declare = (socket: Socket.Socket): Transport.Transport => Transport.declare(socket, netCapabilities)

/**
 * A socket to `endpoint`; it connects when opened (see `Client.connect`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const dial = (endpoint: Endpoint): Effect.Effect<Socket.Socket> =>
  Effect.map(NodeSocket.makeNet({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true }), declare)
