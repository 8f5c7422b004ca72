/**
 * One test body, any transport: a `TestTransport` binds a listener and dials
 * it, so the same test runs over the memory network and over real loopback
 * TCP. The memory implementation lives here; the TCP one is `TcpTransport`.
 * `TransportContract` checks any `TestTransport` against what core needs.
 *
 * @since 0.1.0
 */
import * as Connection from "@socket-to-me/core/Connection"
import * as ProxyProtocol from "@socket-to-me/core/ProxyProtocol"
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as Server from "@socket-to-me/core/Server"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import * as Leaks from "./Leaks.ts"
import * as MemoryNetwork from "./MemoryNetwork.ts"

/**
 * A bound listener and how to reach it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  readonly socketServer: SocketServer.SocketServer["Service"]
  /**
   * A new client socket to this listener; it connects when its reader is
   * acquired, and writing a `CloseEvent` with a code above 1000 resets the
   * connection (RST), as `Duplex.reset` expects.
   */
  readonly dial: Effect.Effect<Socket.Socket, ConnectionError.ConnectionError, Scope.Scope>
  /** Fails when sockets or handles this listener's traffic opened are still alive (waits a bounded time). */
  readonly assertNoLeaks: Effect.Effect<void, Error>
}

/**
 * A way to bind listeners for tests.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestTransport {
  readonly name: string
  readonly listen: Effect.Effect<Listener, never, Scope.Scope>
}

/**
 * A running test server with its listener.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestServer extends Listener {
  readonly server: Server.Server
  /** Exit reasons of ended connections, in the order they ended. */
  readonly exits: ReadonlyArray<{ readonly id: number; readonly reason: Connection.ExitReason }>
}

/**
 * Binds `transport` and serves `handler` on it for the life of the scope,
 * recording every connection's exit reason.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = Effect.fnUntraced(function*<E, R>(
  transport: TestTransport,
  handler: Connection.Handler<E, R>,
  options: Server.Options = {}
): Effect.fn.Return<TestServer, never, Scope.Scope | R> {
  const listener = yield* transport.listen
  const exits: Array<{ readonly id: number; readonly reason: Connection.ExitReason }> = []
  const server = yield* Server.make(handler, {
    ...options,
    onEnd: (info, reason, stats) =>
      Effect.andThen(
        Effect.sync(() => exits.push({ id: info.id, reason })),
        options.onEnd === undefined ? Effect.void : options.onEnd(info, reason, stats)
      )
  }).pipe(Effect.provideService(SocketServer.SocketServer, listener.socketServer))
  return { ...listener, server, exits }
})

/**
 * The in-memory network as a `TestTransport`: a fresh network per listener,
 * and a leak check that every memory socket and connection has ended.
 *
 * @since 0.1.0
 * @category transports
 */
export const memory: TestTransport = {
  name: "memory",
  listen: Effect.gen(function*() {
    const network = yield* MemoryNetwork.make()
    const socketServer = yield* Effect.orDie(network.listen)
    return {
      socketServer,
      dial: network.makeClient,
      assertNoLeaks: Leaks.assertNetworkIdle(network)
    }
  })
}

/**
 * `memory` with network options: buffer sizes, a backlog, or a
 * `NetworkScheduler` that orders every delivery (`{ scheduler }`).
 *
 * @since 0.1.0
 * @category transports
 */
export const memoryWith = (options: MemoryNetwork.Options): TestTransport => ({
  name: options.scheduler === undefined ? "memory" : "memory (scheduled)",
  listen: Effect.gen(function*() {
    const network = yield* MemoryNetwork.make(options)
    const socketServer = yield* Effect.orDie(network.listen)
    return {
      socketServer,
      dial: network.makeClient,
      assertNoLeaks: Leaks.assertNetworkIdle(network)
    }
  })
})

/**
 * `transport` with every accepted socket passed through `f` before the
 * server sees it: a fault (`Faults.bytewise`), a probe, a gate. Over either
 * transport, on the server's side only.
 *
 * @since 0.1.0
 * @category combinators
 */
export const mapAccepted = (
  transport: TestTransport,
  f: (socket: Socket.Socket) => Effect.Effect<Socket.Socket>
): TestTransport => ({
  name: transport.name,
  listen: Effect.map(transport.listen, (listener) => ({
    ...listener,
    socketServer: SocketServer.SocketServer.of({
      address: listener.socketServer.address,
      run: (handler) => listener.socketServer.run((socket) => Effect.flatMap(f(socket), handler))
    })
  }))
})

/**
 * `transport` with the PROXY protocol on, as a listener told to expect it
 * (`NodeTransport.makeServer({ proxyProtocol })`): every accepted socket
 * reads a PROXY header first (`ProxyProtocol.wrap`), and its connection
 * gets the addresses the header gave. Its name is `transport`'s with
 * `+proxy`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withProxyProtocol = (transport: TestTransport, options?: ProxyProtocol.Options): TestTransport => ({
  ...mapAccepted(transport, (socket) => Effect.succeed(ProxyProtocol.wrap(socket, options))),
  name: `${transport.name}+proxy`
})
