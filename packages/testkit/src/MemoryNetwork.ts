/**
 * An in-memory network with one listening address: the `SocketServer` a
 * server runs on in tests, and the dialer its clients use. Nothing touches
 * the OS, so tests are fast and deterministic, and `TestClock` drives every
 * timer.
 *
 * Stage: accept (and dial). It mirrors `NodeSocketServer`: the listener
 * queues connections until `run` is called (here in a bounded backlog; dials
 * beyond it are refused), `run` forks each connection's handler into a
 * `FiberSet` with the caller's services minus `Scope` and logs and ignores
 * its failure, and interrupting `run` interrupts the handlers. Handlers also
 * get `SocketAddresses` (from core), as the apps' Node transport provides.
 *
 * It counts open sockets (each end of each connection until closed) and live
 * connections (accepted, handler still running), and can wait until both
 * are zero, which is what the leak checks in `Leaks` use.
 *
 * With a `scheduler` (opt-in; see `NetworkScheduler`), every delivery of
 * bytes, FIN, close and reset between the two ends of a connection, and
 * every connection reaching the listener's backlog (accept), is an event
 * whose order the scheduler picks; a dial is still refused or admitted at
 * once (a full backlog counts the accepts on their way). Its channels are
 * named after the dialing fiber's `PeerName` (`ann→server #1`). Without
 * one, everything happens at once, as before.
 *
 * @since 0.1.0
 */
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as NetAddress from "effect/net/NetAddress"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as MemoryConnection from "./MemoryConnection.ts"
import * as MemorySocket from "./MemorySocket.ts"
import type * as NetworkScheduler from "./NetworkScheduler.ts"
import * as TestkitConfig from "./TestkitConfig.ts"
import * as TransportErrors from "./TransportErrors.ts"

/**
 * Options of a memory network.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Bytes in flight per direction before `write` waits. Default `TestkitConfig.highWaterMark`. */
  readonly highWaterMark?: number | undefined
  /** Connections queued before `run` accepts them. Default `TestkitConfig.backlog`. */
  readonly backlog?: number | undefined
  /** Port of the fake listening address `127.0.0.1:port`. Default `TestkitConfig.port`. */
  readonly port?: number | undefined
  /** Orders deliveries, closes, resets and accepts (see `NetworkScheduler`). Default none: at once. */
  readonly scheduler?: NetworkScheduler.NetworkScheduler | undefined
}

/**
 * The name a dialing fiber gives its connections in a scheduler's
 * transcript (`ann→server #1`); `client` when unset.
 *
 * @since 0.1.0
 * @category references
 */
export const PeerName = Context.Reference<string | undefined>("@socket-to-me/testkit/MemoryNetwork/PeerName", {
  defaultValue: () => undefined
})

/**
 * How many sockets and connections are alive.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Ends of connections (client or server side) not yet closed. */
  readonly openSockets: number
  /** Accepted connections whose handler is still running. */
  readonly connections: number
}

/**
 * A memory network.
 *
 * @since 0.1.0
 * @category services
 */
export class MemoryNetwork extends Context.Service<MemoryNetwork, {
  /** The address the listener reports (`127.0.0.1` and the fake port). */
  readonly address: NetAddress.InetAddress
  /**
   * Binds the network's listener for the life of the scope. Fails with
   * `EADDRINUSE` if it is already bound. Unbinding refuses new dials and
   * closes the connections still in the backlog.
   */
  readonly listen: Effect.Effect<SocketServer.SocketServer["Service"], SocketServer.SocketServerError, Scope.Scope>
  /**
   * Connects now and returns the client end, closed with the scope. Fails
   * with `SocketOpenError` (`ECONNREFUSED`) when nothing listens or the
   * backlog is full.
   */
  readonly dial: Effect.Effect<MemorySocket.MemorySocket, Socket.SocketError, Scope.Scope>
  /** `dial`, with the connection's controls (`end`, `close`, `reset`) beside the socket. */
  readonly dialControlled: Effect.Effect<MemorySocket.ControlledSocket, Socket.SocketError, Scope.Scope>
  /**
   * A client socket that connects each time its reader is acquired, like
   * `NodeSocket.makeNet`: a refused connection fails that acquisition.
   */
  readonly makeClient: Effect.Effect<MemorySocket.MemorySocket>
  /** Both counters at once. */
  readonly stats: Effect.Effect<Stats>
  /** Ends of connections not yet closed. */
  readonly openSockets: Effect.Effect<number>
  /** Accepted connections whose handler is still running. */
  readonly connections: Effect.Effect<number>
  /** Waits until no socket is open and no connection is live. */
  readonly awaitIdle: Effect.Effect<void>
}>()("@socket-to-me/testkit/MemoryNetwork") {}

// The fake source port of the n-th connection, in the ephemeral range.
const ephemeralPort = (connectionId: number): number => 49152 + (connectionId % 16384)

/**
 * Creates a memory network with no listener bound.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options?: Options) {
  const highWaterMark = options?.highWaterMark ?? TestkitConfig.highWaterMark
  const backlogSize = options?.backlog ?? TestkitConfig.backlog
  const address = NetAddress.inetAddressFromIpStringUnsafe("127.0.0.1", options?.port ?? TestkitConfig.port)
  const addressText = NetAddress.formatInet(address)
  const stats = yield* SubscriptionRef.make<Stats>({ openSockets: 0, connections: 0 })
  const nextConnectionId = yield* Ref.make(0)
  const listener = yield* Ref.make<Queue.Queue<MemoryConnection.Endpoint, Cause.Done> | undefined>(undefined)
  const scheduler = options?.scheduler
  const accepts = scheduler?.channel("accept")
  // Accepts queued on `accepts` and not yet in the backlog: they count
  // against its size, so a dial is refused or admitted when it is made.
  const arriving = yield* Ref.make(0)

  const countSockets = (delta: number) =>
    SubscriptionRef.update(stats, (s) => ({ ...s, openSockets: s.openSockets + delta }))
  const countConnections = (delta: number) =>
    SubscriptionRef.update(stats, (s) => ({ ...s, connections: s.connections + delta }))

  const connect: Effect.Effect<MemoryConnection.Endpoint, Socket.SocketError> = Effect.uninterruptible(
    Effect.gen(function*() {
      const backlog = yield* Ref.get(listener)
      if (backlog === undefined) return yield* Effect.fail(TransportErrors.connectionRefused(addressText))
      const connectionId = yield* Ref.getAndUpdate(nextConnectionId, (n) => n + 1)
      yield* countSockets(2)
      if (scheduler === undefined || accepts === undefined) {
        const { client, server } = yield* MemoryConnection.makePair({
          connectionId,
          highWaterMark,
          onDestroyed: countSockets(-1)
        })
        // A dropping queue: a full backlog (or an unbound listener) refuses.
        if (!(yield* Queue.offer(backlog, server))) {
          yield* server.destroy()
          yield* client.destroy()
          return yield* Effect.fail(TransportErrors.connectionRefused(addressText))
        }
        return client
      }
      const name = (yield* PeerName) ?? "client"
      const peer = `${name} #${connectionId}`
      const { client, server } = yield* MemoryConnection.makePair({
        connectionId,
        highWaterMark,
        onDestroyed: countSockets(-1),
        channels: {
          toServer: scheduler.channel(`${name}→server #${connectionId}`),
          toClient: scheduler.channel(`server→${peer}`)
        }
      })
      const admitted = yield* Ref.modify(arriving, (n) =>
        Queue.sizeUnsafe(backlog) + n < backlogSize ? [true, n + 1] as const : [false, n] as const)
      if (!admitted) {
        yield* server.destroy()
        yield* client.destroy()
        return yield* Effect.fail(TransportErrors.connectionRefused(addressText))
      }
      // The backlog may be gone by then (the listener unbound): like a
      // connection left in it, the server's end is closed.
      yield* accepts.post(
        { _tag: "Accept", connection: peer },
        Effect.gen(function*() {
          yield* Ref.update(arriving, (n) => n - 1)
          if (!(yield* Queue.offer(backlog, server))) yield* server.destroy()
        })
      )
      return client
    })
  )

  const dialControlled = Effect.gen(function*() {
    const client = yield* Effect.acquireRelease(connect, (client) => client.destroy())
    const socket = yield* MemorySocket.fromExisting(client)
    const controls = MemorySocket.endpointControls(client)
    const controlled: MemorySocket.ControlledSocket = { socket, ...controls }
    return controlled
  })

  const serve = <R, E, _>(
    server: MemoryConnection.Endpoint,
    handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
  ): Effect.Effect<void, never, R> =>
    Effect.flatMap(MemorySocket.fromExisting(server), handler).pipe(
      Effect.ignoreCause({ log: "Unhandled", message: "Unhandled error in SocketServer" }),
      Effect.provideService(SocketAddresses.SocketAddresses, {
        local: addressText,
        remote: SocketAddresses.format("127.0.0.1", ephemeralPort(server.connectionId))
      }),
      Effect.ensuring(countConnections(-1)),
      // Node runs handlers with the caller's services minus `Scope`; a handler
      // that needs one must bring its own, here as over TCP.
      Effect.updateContext((context: Context.Context<R>) => Context.omit(Scope.Scope)(context) as Context.Context<R>)
    )

  const run = (backlog: Queue.Queue<MemoryConnection.Endpoint, Cause.Done>) =>
  <R, E, _>(
    handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
  ): Effect.Effect<never, SocketServer.SocketServerError, R> =>
    Effect.scoped(Effect.gen(function*() {
      const handlers = yield* FiberSet.make<void>()
      while (true) {
        yield* Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            // An unbound listener accepts nothing more; `run` still only
            // returns when interrupted, as Node's does.
            const server = yield* restore(Effect.catch(Queue.take(backlog), () => Effect.never))
            yield* countConnections(1)
            yield* FiberSet.run(handlers, serve(server, handler))
          })
        )
      }
    }))

  const listen = Effect.gen(function*() {
    const backlog = yield* Queue.dropping<MemoryConnection.Endpoint, Cause.Done>(backlogSize)
    const bound = yield* Ref.modify(listener, (current) =>
      current === undefined ? [true, backlog] as const : [false, current] as const)
    if (!bound) return yield* Effect.fail(TransportErrors.addressInUse(addressText))
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Ref.set(listener, undefined)
        yield* Queue.end(backlog)
        // Like Node's server close: connections never accepted are destroyed.
        const pending = yield* Queue.clear(backlog)
        yield* Effect.forEach(pending, (server) => server.destroy(), { discard: true })
      })
    )
    return SocketServer.SocketServer.of({ address, run: run(backlog) })
  })

  const awaitIdle = SubscriptionRef.changes(stats).pipe(
    Stream.filter((s) => s.openSockets === 0 && s.connections === 0),
    Stream.take(1),
    Stream.runDrain
  )

  return MemoryNetwork.of({
    address,
    listen,
    dial: Effect.map(dialControlled, (controlled) => controlled.socket),
    dialControlled,
    makeClient: MemorySocket.fromEndpoint(Effect.acquireRelease(connect, (client) => client.destroy())),
    stats: SubscriptionRef.get(stats),
    openSockets: Effect.map(SubscriptionRef.get(stats), (s) => s.openSockets),
    connections: Effect.map(SubscriptionRef.get(stats), (s) => s.connections),
    awaitIdle
  })
})

/**
 * A memory network with no listener: every dial is refused until something
 * calls `listen`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNetwork = (options?: Options): Layer.Layer<MemoryNetwork> =>
  Layer.effect(MemoryNetwork, make(options))

/**
 * A memory network with its listener bound: provides the network (to dial
 * and count) and the `SocketServer` a server runs on.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<MemoryNetwork | SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.effectContext(Effect.gen(function*() {
    const network = yield* make(options)
    const server = yield* network.listen
    return Context.make(MemoryNetwork, network).pipe(Context.add(SocketServer.SocketServer, server))
  }))

/**
 * Provides `Socket.Socket` as a client of the network in context (connecting
 * when opened), as `NodeSocket.layerNet` does over TCP.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient: Layer.Layer<Socket.Socket, never, MemoryNetwork> = Layer.effect(
  Socket.Socket,
  MemoryNetwork.use((network) => network.makeClient)
)
