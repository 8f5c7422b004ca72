/**
 * Listening on a Unix domain socket: served like TCP (the listening
 * address is the path, a peer's is `unix`, which no per-address limit
 * counts); a socket file left by a server that crashed is replaced, a live
 * server's never is, and a file that is not a socket is left alone; the
 * file gets the permissions asked for and is removed when the server
 * drains; TLS works over it. (The transport contract's cases run over it
 * in the testkit's tests.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Client from "@socket-to-me/core/Client"
import type * as Connection from "@socket-to-me/core/Connection"
import * as Server from "@socket-to-me/core/Server"
import * as TlsCertificates from "@socket-to-me/testkit/TlsCertificates"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as SocketServer from "effect/socket/SocketServer"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as NodeTls from "../src/NodeTls.ts"
import * as NodeTransport from "../src/NodeTransport.ts"

const echo: Connection.Handler = (input) => input

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "socket-to-me-unix-test-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** An echo server on `path`, recording each connection's view of its addresses. */
const serveOn = Effect.fnUntraced(function*(
  path: string,
  listen: NodeTransport.ListenOptions = {},
  options: Server.Options = {}
) {
  const listener = yield* NodeTransport.makeServer({ path }, listen)
  const ended = yield* Queue.unbounded<{ readonly info: Connection.ConnectionInfo; readonly reason: Connection.ExitReason }>()
  const server = yield* Server.make(echo, { ...options, onEnd: (info, reason) => Queue.offer(ended, { info, reason }) }).pipe(
    Effect.provideService(SocketServer.SocketServer, listener)
  )
  return { listener, server, nextEnd: Queue.take(ended) }
})

const roundTrip = (path: string, text: string, dial: NodeTransport.DialOptions = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const duplex = yield* Client.connect(NodeTransport.dial({ path }, dial), { address: path, retries: 0 })
    return yield* Client.exchange(duplex, Stream.make(new TextEncoder().encode(text))).pipe(Stream.decodeText, Stream.mkString)
  }))

describe("a Unix domain socket listener", () => {
  it.live("serves like TCP: the address is the path, a peer's is unix", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "echo.sock")
      const { listener, nextEnd } = yield* serveOn(path)
      assert.deepInclude(listener.address, { _tag: "UnixPathAddress", path })
      assert.strictEqual(yield* roundTrip(path, "over a unix socket"), "over a unix socket")
      const ended = yield* nextEnd
      assert.strictEqual(ended.info.localAddress, path)
      assert.strictEqual(ended.info.remoteAddress, "unix")
      assert.strictEqual(ended.reason._tag, "PeerClosed")
    }).pipe(Effect.scoped))

  it.live("the per-address limit does not count Unix peers, who have no address", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "limited.sock")
      yield* serveOn(path, {}, { maxConnectionsPerAddress: 1 })
      const replies = yield* Effect.all([roundTrip(path, "one"), roundTrip(path, "two")], { concurrency: 2 })
      assert.deepStrictEqual(replies, ["one", "two"])
    }).pipe(Effect.scoped))

  it.live("a socket file left by a crashed server is replaced", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "stale.sock")
      // A server that exits without closing its listener leaves its file.
      const crashed = ChildProcess.spawnSync(process.execPath, [
        "-e",
        `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`
      ])
      assert.strictEqual(crashed.status, 0)
      assert.isTrue(Fs.lstatSync(path).isSocket(), "the crashed server left its socket file")
      yield* serveOn(path)
      assert.strictEqual(yield* roundTrip(path, "after the crash"), "after the crash")
    }).pipe(Effect.scoped))

  it.live("a live server's socket is never taken: AddressInUse, and the live one serves on", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "live.sock")
      yield* serveOn(path)
      const error = yield* Effect.flip(NodeTransport.makeServer({ path }))
      assert.strictEqual(error.reason._tag, "AddressInUse")
      assert.strictEqual(error.message, `address ${path} is already in use`)
      assert.strictEqual(yield* roundTrip(path, "still here"), "still here")
    }).pipe(Effect.scoped))

  it.live("a file that is not a socket is left alone, and listening fails saying so", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "precious.txt")
      Fs.writeFileSync(path, "keep me")
      const error = yield* Effect.flip(NodeTransport.makeServer({ path }))
      assert.strictEqual(error.message, `cannot listen on ${path}: it exists and is not a socket`)
      assert.strictEqual(Fs.readFileSync(path, "utf8"), "keep me")
    }).pipe(Effect.scoped))

  it.live("the file gets the mode asked for, and is removed when the server drains", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      for (const mode of [0o600, 0o660]) {
        const path = Path.join(dir, `mode-${mode.toString(8)}.sock`)
        yield* Effect.scoped(Effect.gen(function*() {
          const { server } = yield* serveOn(path, { unixMode: mode })
          assert.strictEqual(Fs.statSync(path).mode & 0o777, mode)
          assert.strictEqual(yield* roundTrip(path, "hi"), "hi")
          yield* server.drain
        }))
        assert.isFalse(Fs.existsSync(path), "removed once the server is gone")
      }
    }).pipe(Effect.scoped))

  it.live("a folder that does not exist is BadAddress", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "no", "such", "folder.sock")
      const error = yield* Effect.flip(NodeTransport.makeServer({ path }))
      assert.strictEqual(error.reason._tag, "BadAddress")
    }).pipe(Effect.scoped))

  if (TlsCertificates.available) {
    it.live("TLS over a Unix socket: the certificate is checked against localhost", () =>
      Effect.gen(function*() {
        const certificates = yield* TlsCertificates.get
        const path = Path.join(yield* tempDir, "tls.sock")
        yield* serveOn(path, { tls: certificates.server })
        const client = yield* NodeTls.client({ ca: certificates.ca })
        assert.strictEqual(yield* roundTrip(path, "secret", { tls: client }), "secret")
      }).pipe(Effect.scoped))
  }
})
