/**
 * Real TCP for the apps: a `SocketServer` bound with Node's `net`, which also
 * reports each connection's addresses, and a dialer for clients.
 *
 * Stage: accept (and dial). This module (with `FlowingSocket`) and the CLI
 * are the only places that touch Node's `net` and `@effect/platform-node`;
 * everything else runs over any transport. Clients dial (`dial`) into the
 * same flowing socket that accepted connections get; `declare` gives a
 * socket of effect's own `NodeSocket` Node's failure reasons.
 *
 * @since 0.1.0
 */
import * as AcceptError from "@socket-to-me/core/AcceptError"
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as ServerError from "@socket-to-me/core/ServerError"
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Transport from "@socket-to-me/core/Transport"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as NetAddress from "effect/net/NetAddress"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
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

// Whether the process can open one more file descriptor: opens and closes
// one (a few microseconds), or gives the error of trying.
const spareDescriptor = (): Result.Result<void, unknown> => Result.try(() => Fs.closeSync(Fs.openSync(Os.devNull, "r")))

const acceptError = (cause: unknown, occurrences: number) =>
  new SocketServer.SocketServerError({
    reason: new SocketServer.SocketServerUnknownError({
      cause: new AcceptError.AcceptError({ reason: NodeErrors.acceptFailure(cause), occurrences })
    })
  })

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
 * Out of file descriptors, a connection is closed as soon as it is
 * accepted, and `run` fails with a `SocketServerError` whose cause is an
 * `AcceptError` (`DescriptorsExhausted`) counting every such connection
 * since the last report, as does any other accept error Node reports.
 * The handlers a failed `run` started keep running; connections accepted
 * until the next `run` wait for it, and failures until then make it fail
 * at once with their count (see core's `Server`: it counts, logs, backs
 * off and runs the listener again).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeServer = Effect.fnUntraced(function*(endpoint: Endpoint) {
  const address = SocketAddresses.format(endpoint.host, endpoint.port)
  const waiting = new Set<Net.Socket>()
  const wait = (conn: Net.Socket) => {
    waiting.add(conn)
    conn.once("close", () => waiting.delete(conn))
  }
  let onConnection = wait

  // Accept failures not reported yet, by errno: the latest cause and how
  // many times. A running `run` fails at the first one (`report`); without
  // one (before the first run, during the server's back-off) they wait here,
  // and the next run reports them at once, so each report counts all that
  // happened since the previous one.
  const unreported = new Map<string, { cause: unknown; occurrences: number }>()
  let report: ((error: SocketServer.SocketServerError) => void) | undefined
  const nextReport = (): SocketServer.SocketServerError | undefined => {
    for (const [errno, { cause, occurrences }] of unreported) {
      unreported.delete(errno)
      return acceptError(cause, occurrences)
    }
    return undefined
  }
  const acceptFailed = (cause: unknown) => {
    const errno = NodeErrors.code(cause) ?? "unknown"
    unreported.set(errno, { cause, occurrences: (unreported.get(errno)?.occurrences ?? 0) + 1 })
    if (report !== undefined) report(nextReport()!)
  }

  // allowHalfOpen: a client that finishes sending (FIN) still gets every
  // byte of its replies; without it Node would end our side at once.
  // noDelay: replies go out at once. The writer already sends each batch
  // in one corked write, so Nagle's algorithm only delayed small replies
  // until the peer's delayed ACK (40 ms): chat lines, short responses.
  // pauseOnConnect: nothing is read before the handler pulls.
  //
  // Each connection first checks that a file descriptor is left. When none
  // is, libuv accepts every further connection with a descriptor it keeps
  // in reserve and closes it at once, below JavaScript: no event, no error,
  // nothing to count (668 of 900 under `ulimit -n 256`); and once that
  // reserve is gone too, it retries the accept in a busy loop. Closing the
  // connection that took the last descriptor leaves one for libuv's next
  // accept, so every connection that arrives while none is left comes
  // here, is closed (its peer sees the close at once) and is counted. It
  // costs one open and close per connection.
  const server = yield* Effect.acquireRelease(
    Effect.sync(() =>
      Net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (conn) => {
        conn.on("error", ignoreError)
        const spare = spareDescriptor()
        if (Result.isFailure(spare) && NodeErrors.isDescriptorsExhausted(spare.failure)) {
          conn.destroy()
          return acceptFailed(spare.failure)
        }
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
  // One error listener for the server's whole life: a bind failure while it
  // binds, an accept failure after (an `error` with no listener would be an
  // uncaught exception). libuv 1.51 (Node 22) keeps its accept errors to
  // itself; this catches any that Node does emit.
  let onError = acceptFailed
  server.on("error", (cause: Error) => onError(cause))
  yield* Effect.callback<void, ServerError.ServerError>((resume) => {
    onError = (cause) => {
      onError = acceptFailed
      resume(Effect.fail(NodeErrors.serverError(cause, address)))
    }
    server.listen({ host: endpoint.host, port: endpoint.port }, () => {
      onError = acceptFailed
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
      const previous = { onConnection, report }
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
      return yield* Effect.callback<never, SocketServer.SocketServerError>((resume) => {
        const stop = () => {
          onConnection = previous.onConnection
          report = previous.report
        }
        // A failure ends this run only: its scope is left open, so the
        // handlers it started run on (each leaves the scope when it ends).
        const fail = (error: SocketServer.SocketServerError) => {
          stop()
          resume(Effect.fail(error))
        }
        const pending = nextReport()
        if (pending !== undefined) fail(pending)
        else report = fail
        return Effect.suspend(() => {
          stop()
          return Scope.close(scope, Exit.void)
        })
      })
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
 * A socket to `endpoint`, connected: the same flowing socket the listener
 * gives its connections (`FlowingSocket`), so a client reads, writes,
 * half-closes and fails exactly as a server's connection does (a write
 * after the peer's reset fails as `PeerReset`; it never waits for a drain
 * that cannot come). Fails when the connection cannot be made (refused,
 * unreachable, a name that does not resolve), with Node's error as the
 * reason's cause; `Client.connect` retries it. The socket belongs to the
 * scope: it is destroyed when the scope closes unless its reader took it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dial = (endpoint: Endpoint): Effect.Effect<Socket.Socket, ConnectionError.ConnectionError, Scope.Scope> =>
  Effect.flatMap(
    Effect.acquireRelease(
      Effect.callback<Net.Socket, ConnectionError.ConnectionError>((resume) => {
        const conn = Net.createConnection({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true, noDelay: true })
        const failed = (cause: Error) => {
          conn.destroy()
          resume(Effect.fail(ConnectionError.make(NodeErrors.failure(cause, "read"))))
        }
        conn.once("error", failed)
        conn.once("connect", () => {
          // As the listener's connections: paused until the reader pulls,
          // with an error listener for the socket's whole life.
          conn.pause()
          conn.off("error", failed)
          conn.on("error", ignoreError)
          resume(Effect.succeed(conn))
        })
        return Effect.sync(() => conn.destroy())
      }),
      // A socket whose reader took it is destroyed by the reader's scope
      // (after its pending output is written); this only covers one that
      // was never read, and is harmless after.
      (conn) => Effect.sync(() => conn.destroySoon())
    ),
    (conn) => Effect.succeed(FlowingSocket.fromNetSocket(conn))
  )
