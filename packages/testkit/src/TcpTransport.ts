/**
 * Real loopback TCP as a `TestTransport`: binds 127.0.0.1 port 0 with the
 * listener the product uses (`@socket-to-me/node`'s `NodeTransport`), dials
 * it with Node's `net`, and checks that open TCP handles return to baseline.
 * With `TestTransport.memory`, it is what lets one test body run over the
 * memory network and over real TCP (`all`).
 *
 * Its dialed sockets send a real TCP RST when a `CloseEvent` with a code
 * above 1000 is written (`Duplex.reset`), so reset tests are deterministic,
 * and declare Node's failure reasons, as the product's dialer does.
 *
 * @example
 * ```ts
 * import { assert, describe, it } from "@effect/vitest"
 * import { Client, type Connection } from "@socket-to-me/core"
 * import { TcpTransport, TestTransport } from "@socket-to-me/testkit"
 * import * as Effect from "effect/Effect"
 * import * as Stream from "effect/Stream"
 *
 * const echo: Connection.Handler = (input) => input
 *
 * describe.each(TcpTransport.all)("echo over $name", (transport) => {
 *   it.live("sends the bytes back", () =>
 *     Effect.gen(function*() {
 *       const server = yield* TestTransport.serve(transport, echo)
 *       const duplex = yield* Client.connect(server.dial, { address: transport.name })
 *       const reply = yield* Client.exchange(duplex, Stream.make(new Uint8Array([1, 2, 3]))).pipe(Stream.runCollect)
 *       assert.deepStrictEqual(reply.flatMap((chunk) => [...chunk]), [1, 2, 3])
 *       yield* server.assertNoLeaks
 *     }).pipe(Effect.scoped))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as FlowingSocket from "@socket-to-me/node/FlowingSocket"
import * as NodeErrors from "@socket-to-me/node/NodeErrors"
import * as NodeTls from "@socket-to-me/node/NodeTls"
import * as NodeTransport from "@socket-to-me/node/NodeTransport"
import type * as Scope from "effect/Scope"
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import * as Net from "node:net"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assertHandlesBackToBaseline, countHandles, handleBaseline } from "./NodeHandles.ts"
import * as TestTransport from "./TestTransport.ts"
import * as TlsCertificates from "./TlsCertificates.ts"

// Suspended so that each dial has its own `conn`.
const dialWithReset = (port: number): Effect.Effect<Socket.Socket> => Effect.suspend(() => {
  let conn: Net.Socket | undefined
  const open = Effect.acquireRelease(
    Effect.callback<Net.Socket, Socket.SocketError>((resume) => {
      const socket = Net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true })
      conn = socket
      socket.once("connect", () => resume(Effect.succeed(socket)))
      socket.once("error", (cause) =>
        resume(Effect.fail(new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause }) }))))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )
  return Effect.map(NodeSocket.fromDuplex(open), (socket) =>
    NodeTransport.declare(Socket.make({
      reader: socket.reader,
      writer: Effect.map(socket.writer, (writer) => ({
        ...writer,
        write: (chunk: Uint8Array | string | Socket.CloseEvent) =>
          Socket.isCloseEvent(chunk) && chunk.code > 1000
            ? Effect.sync(() => conn?.resetAndDestroy())
            : writer.write(chunk)
      }))
    })))
})

/**
 * Loopback TCP through the product's Node listener.
 *
 * @since 0.1.0
 * @category transports
 */
export const tcp: TestTransport.TestTransport = {
  name: "tcp",
  listen: Effect.gen(function*() {
    const socketServer = yield* Effect.orDie(NodeTransport.makeServer({ host: "127.0.0.1", port: 0 }))
    // Taken once the listener is bound: what must come back to it is every
    // connection's socket, on both sides.
    const baseline = handleBaseline()
    const port = socketServer.address._tag === "UnixPathAddress" ? 0 : socketServer.address.port
    return {
      socketServer,
      dial: dialWithReset(port),
      assertNoLeaks: assertHandlesBackToBaseline(baseline)
    }
  })
}

// Resets `raw`, under a TLS socket, one event-loop turn later: reset in
// the turn of a TLS write (the write the test makes before it resets,
// within the turn the server read it), the socket sends a FIN and the
// server sees an orderly end instead of the reset.
const resetSoon = (raw: Net.Socket): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    setImmediate(() => {
      raw.resetAndDestroy()
      resume(Effect.void)
    })
  })

// A TLS client to 127.0.0.1:`port`: a raw socket under the TLS socket, so
// that writing a `CloseEvent` above 1000 resets it (RST) as over TCP.
const dialTlsWithReset = (port: number, client: NodeTls.Client): Effect.Effect<
  Socket.Socket,
  ConnectionError.ConnectionError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const raw = yield* Effect.acquireRelease(
      Effect.callback<Net.Socket, ConnectionError.ConnectionError>((resume) => {
        const socket = Net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true, noDelay: true })
        socket.once("connect", () => resume(Effect.succeed(socket)))
        socket.once("error", (cause) => resume(Effect.fail(ConnectionError.make(NodeErrors.failure(cause, "read")))))
        socket.on("error", () => {})
      }),
      (socket) => Effect.sync(() => socket.destroy())
    )
    const secure = yield* Effect.acquireRelease(NodeTls.connect(raw, "127.0.0.1", client), (tls) => Effect.sync(() => tls.destroy()))
    const flowing = FlowingSocket.fromNetSocket(secure)
    return NodeTransport.declare(Socket.make({
      reader: flowing.reader,
      writer: Effect.map(flowing.writer, (writer) => ({
        ...writer,
        write: (chunk: Uint8Array | string | Socket.CloseEvent) =>
          Socket.isCloseEvent(chunk) && chunk.code > 1000
            ? resetSoon(raw)
            : writer.write(chunk)
      }))
    }))
  })

/**
 * Loopback TLS through the product's Node listener (`NodeTransport.makeServer`
 * with `tls`), with certificates made by `TlsCertificates` (it needs
 * `openssl`), dialed by the product's TLS client (`NodeTls.connect`)
 * trusting the test CA.
 *
 * @since 0.1.0
 * @category transports
 */
export const tls: TestTransport.TestTransport = {
  name: "tls",
  listen: Effect.gen(function*() {
    const certificates = yield* Effect.orDie(TlsCertificates.get)
    const socketServer = yield* Effect.orDie(
      NodeTransport.makeServer({ host: "127.0.0.1", port: 0 }, { tls: certificates.server })
    )
    const client = yield* Effect.orDie(NodeTls.client({ ca: certificates.ca }))
    const baseline = handleBaseline()
    const port = socketServer.address._tag === "UnixPathAddress" ? 0 : socketServer.address.port
    return {
      socketServer,
      dial: dialTlsWithReset(port, client),
      assertNoLeaks: assertHandlesBackToBaseline(baseline)
    }
  })
}

/**
 * A Unix domain socket through the product's Node listener, in a temporary
 * folder removed with the scope, dialed by the product's dialer
 * (`NodeTransport.dial({ path })`). A Unix socket has no reset: writing a
 * `CloseEvent` above 1000 destroys the client's socket, which its peer
 * sees as an orderly end (the transport contract's reset case does not
 * apply to it). Its leak check counts pipe handles (`PipeWrap`).
 *
 * @since 0.1.0
 * @category transports
 */
export const unix: TestTransport.TestTransport = {
  name: "unix",
  listen: Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "socket-to-me-unix-"))),
      (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
    )
    const path = Path.join(dir, "server.sock")
    const socketServer = yield* Effect.orDie(NodeTransport.makeServer({ path }))
    const baseline = countHandles(["PipeWrap"])
    return {
      socketServer,
      dial: NodeTransport.dial({ path }),
      assertNoLeaks: assertHandlesBackToBaseline(baseline)
    }
  })
}

/**
 * Every transport a test body should run over: the memory network, then TCP.
 *
 * @since 0.1.0
 * @category transports
 */
export const all: ReadonlyArray<TestTransport.TestTransport> = [TestTransport.memory, tcp]

/**
 * `all`, then TLS (`tls`) where `openssl` can make its certificates
 * (`TlsCertificates.available`): what a test body that must hold over TLS
 * too runs over.
 *
 * @since 0.1.0
 * @category transports
 */
export const allWithTls: ReadonlyArray<TestTransport.TestTransport> = TlsCertificates.available ? [...all, tls] : all

/**
 * Every listener the product has: `allWithTls`, then a Unix domain socket
 * (`unix`). What the apps' suites run over.
 *
 * @since 0.1.0
 * @category transports
 */
export const every: ReadonlyArray<TestTransport.TestTransport> = [...allWithTls, unix]
