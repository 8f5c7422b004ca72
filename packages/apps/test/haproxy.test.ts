/**
 * The apps behind a real HAProxy (Debian's `haproxy`), started on loopback
 * ports with `send-proxy` (PROXY v1) and `send-proxy-v2`: our listener,
 * with the PROXY protocol on, takes the client's address from HAProxy's
 * header (the connection's peer is the client's own socket, and its local
 * address HAProxy's frontend), and echo, a chat session and a files upload
 * work through it unchanged. A client that reaches the listener without
 * HAProxy is refused for want of a header.
 *
 * Without `haproxy` (`apt-get install haproxy`; `.ci/run` installs it)
 * these tests are skipped, and `npm test` says so.
 */
import { assert, describe } from "@effect/vitest"
import type * as Connection from "@socket-to-me/core/Connection"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as NodeTransport from "@socket-to-me/node/NodeTransport"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Echo from "../src/echo/Echo.ts"
import * as Disk from "../src/files/Disk.ts"
import * as FilesClient from "../src/files/FilesClient.ts"
import * as ChatPeer from "./support/ChatPeer.ts"
import * as ChatServer from "./support/ChatServer.ts"
import { serveFiles, sha256, tempDirectory, writeLocal } from "./support/files.ts"
import * as Tools from "./support/Tools.ts"

const live = Tools.liveWith("haproxy")

// One raw client through HAProxy: sends `text`, half-closes, and reads
// until the server closes; reports its own port, which the server must
// see as the peer's.
const rawExchange = (port: number, text: string) =>
  Effect.callback<{ readonly localPort: number; readonly received: string }, Error>((resume) => {
    const conn = Net.connect({ host: "127.0.0.1", port, allowHalfOpen: true })
    let received = ""
    let localPort = 0
    conn.on("connect", () => {
      localPort = conn.localPort!
      conn.end(text)
    })
    conn.on("data", (chunk) => (received += chunk))
    conn.on("end", () => (conn.destroy(), resume(Effect.succeed({ localPort, received }))))
    conn.on("error", (error) => resume(Effect.fail(error)))
    return Effect.sync(() => conn.destroy())
  })

for (const mode of ["send-proxy", "send-proxy-v2"] as const) {
  describe(`behind haproxy (${mode})`, () => {
    live("echo: the peer is the client's own socket and the local address HAProxy's frontend", () =>
      Effect.gen(function*() {
        const { ports, transport } = Tools.behindHaproxy(mode)
        const seen: Array<Connection.ConnectionInfo> = []
        const server = yield* TestTransport.serve(transport, Echo.handler, {
          onEnd: (info) => Effect.sync(() => seen.push(info))
        })
        const { localPort, received } = yield* rawExchange(ports.frontend, "hello through haproxy\n")
        assert.strictEqual(received, "hello through haproxy\n")
        yield* server.server.awaitIdle
        assert.lengthOf(seen, 1)
        assert.strictEqual(seen[0]!.remoteAddress, `127.0.0.1:${localPort}`)
        assert.strictEqual(seen[0]!.localAddress, `127.0.0.1:${ports.frontend}`)
        assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["PeerClosed"])
        yield* server.assertNoLeaks
      }))

    live("chat: two people talk through HAProxy", () =>
      Effect.gen(function*() {
        const server = yield* ChatServer.serve(Tools.behindHaproxy(mode).transport)
        const ada = yield* ChatPeer.login(server, "ada")
        const bob = yield* ChatPeer.login(server, "bob")
        yield* ada.expect("* bob joined lobby")
        yield* bob.send("hi ada")
        yield* ada.expect("<bob> hi ada")
        yield* ada.send("/quit")
        yield* bob.expect("* ada quit")
      }))

    live("files: an upload through HAProxy is stored whole (sha256)", () =>
      Effect.gen(function*() {
        const local = yield* tempDirectory
        const bytes = Bytes.random(3 * 1024 * 1024 + 17)
        const file = writeLocal(local, "through-haproxy.bin", bytes)
        const served = yield* serveFiles(Tools.behindHaproxy(mode).transport, { directory: yield* tempDirectory })
        const uploaded = yield* FilesClient.upload(served.target, file)
        assert.strictEqual(uploaded.sha256, sha256(bytes))
        assert.strictEqual(sha256(Fs.readFileSync(Path.join(served.directory, uploaded.name))), sha256(bytes))
        const back = Path.join(local, "back.bin")
        assert.strictEqual((yield* FilesClient.download(served.target, uploaded.name, { out: back })).sha256, sha256(bytes))
      }).pipe(Effect.provide(Disk.layerNode)))

    live("a client that reaches the listener without HAProxy is refused: no PROXY header", () =>
      Effect.gen(function*() {
        const server = yield* TestTransport.serve(Tools.behindHaproxy(mode).transport, Echo.handler)
        const address = server.socketServer.address
        const port = address._tag === "UnixPathAddress" ? 0 : address.port
        const peer = yield* TestPeer.connectWith(NodeTransport.dial({ host: "127.0.0.1", port }), { address: "direct" })
        yield* peer.send("hello\n")
        assert.strictEqual((yield* peer.readToEnd).bytes.byteLength, 0)
        yield* server.server.awaitIdle
        assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["ProxyHeaderInvalid"])
      }))
  })
}
