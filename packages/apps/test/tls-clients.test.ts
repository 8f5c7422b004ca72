/**
 * The apps over TLS with real TLS clients: `openssl s_client` and Python's
 * `ssl` module, each checking the server's certificate (the test CA's,
 * for `localhost`) and speaking each app's protocol: echo's bytes come
 * back, a chat session is seen by a member of the room, a files upload is
 * saved whole (its sha256). Our own clients over TLS run the apps' whole
 * suites (echo, chat, files: `TcpTransport.allWithTls`).
 *
 * Without `openssl` or `python3` these tests are skipped, and `npm test`
 * says what to install.
 */
import { assert, describe } from "@effect/vitest"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Spawned from "@socket-to-me/testkit/Spawned"
import * as TcpTransport from "@socket-to-me/testkit/TcpTransport"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as TlsCertificates from "@socket-to-me/testkit/TlsCertificates"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Echo from "../src/echo/Echo.ts"
import * as Disk from "../src/files/Disk.ts"
import * as ChatPeer from "./support/ChatPeer.ts"
import * as ChatServer from "./support/ChatServer.ts"
import { serveFiles, sha256, tempDirectory, writeLocal } from "./support/files.ts"
import * as Tools from "./support/Tools.ts"

const python = fileURLToPath(new URL("./support/tls_client.py", import.meta.url))

const portOf = (server: TestTransport.Listener) =>
  server.socketServer.address._tag === "UnixPathAddress" ? 0 : server.socketServer.address.port

const sClient = (port: number, ca: string) => [
  "s_client",
  "-connect",
  `127.0.0.1:${port}`,
  "-servername",
  "localhost",
  "-verify_hostname",
  "localhost",
  "-CAfile",
  ca,
  "-verify_return_error",
  "-quiet",
  // Ends at the end of its input, and sends what it reads as it is (no
  // command letters at the start of a line: the files test sends binary).
  "-no_ign_eof",
  "-nocommands"
]

// One files frame: u32 length (type byte and body), type, body.
const frame = (type: number, body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(5 + body.byteLength)
  new DataView(out.buffer).setUint32(0, body.byteLength + 1)
  out[4] = type
  out.set(body, 5)
  return out
}

// An upload's whole conversation from the client's side: the offer, then the data.
const uploadBytes = (name: string, content: Uint8Array): Uint8Array => {
  const offer = Bytes.encode(JSON.stringify({ type: "upload", name, size: content.byteLength, sha256: sha256(content) }))
  const frames = [frame(1, offer)]
  for (let at = 0; at < content.byteLength; at += 65536) frames.push(frame(2, content.subarray(at, at + 65536)))
  return Bytes.concat(frames)
}

// The JSON objects Python's client printed, one per line.
const reports = (stdout: string): Array<Record<string, unknown>> =>
  stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>)

describe("openssl s_client against the apps over TLS", () => {
  const live = Tools.liveWith("openssl")

  live("echo: the bytes come back, over a verified handshake", () =>
    Effect.gen(function*() {
      const { ca } = yield* TlsCertificates.get
      const server = yield* TestTransport.serve(TcpTransport.tls, Echo.handler)
      const ran = yield* Tools.converse(Tools.which("openssl")!, sClient(portOf(server), ca), [
        { send: "hello over tls\n", expect: /hello over tls\n/ }
      ])
      assert.strictEqual(ran.stdout, "hello over tls\n", ran.stderr)
      assert.match(ran.stderr, /verify return:1/)
      assert.notMatch(ran.stderr, /verify error/)
    }))

  live("chat: a session seen by a member of the room", () =>
    Effect.gen(function*() {
      const { ca } = yield* TlsCertificates.get
      const server = yield* ChatServer.serve(TcpTransport.tls)
      const ada = yield* ChatPeer.login(server, "ada")
      const ran = yield* Tools.converse(Tools.which("openssl")!, sClient(portOf(server), ca), [
        { expect: /choose a nickname/ },
        { send: "/nick ossl\n", expect: /\* you joined lobby/ },
        { send: "hello from openssl\n/quit\n", expect: /\* bye/ }
      ])
      assert.include(ran.stdout, "* you are now ossl", ran.stderr)
      yield* ada.expect("* ossl joined lobby")
      yield* ada.expect("<ossl> hello from openssl")
      yield* ada.expect("* ossl quit")
    }))

  live("files: an upload is saved whole (sha256)", () =>
    Effect.gen(function*() {
      const { ca } = yield* TlsCertificates.get
      const served = yield* serveFiles(TcpTransport.tls, { directory: yield* tempDirectory })
      const content = Bytes.random(1024 * 1024 + 3)
      const ran = yield* Tools.converse(Tools.which("openssl")!, sClient(portOf(served.server), ca), [
        { send: uploadBytes("from-openssl.bin", content), expect: /"type":"saved"/ }
      ])
      assert.include(ran.stdout, `"sha256":"${sha256(content)}"`, ran.stderr)
      assert.strictEqual(sha256(Fs.readFileSync(Path.join(served.directory, "from-openssl.bin"))), sha256(content))
    }).pipe(Effect.provide(Disk.layerNode)))
})

describe("Python's ssl module against the apps over TLS", () => {
  const live = Tools.liveWith("openssl", "python3")

  live("echo: the bytes come back, over a verified handshake", () =>
    Effect.gen(function*() {
      const { ca } = yield* TlsCertificates.get
      const server = yield* TestTransport.serve(TcpTransport.tls, Echo.handler)
      const payload = Bytes.random(200_000)
      const ran = yield* Spawned.run(Tools.which("python3")!, [python, "127.0.0.1", String(portOf(server)), ca, "echo"], {
        input: payload
      })
      assert.strictEqual(ran.code, 0, ran.stderr)
      const [handshake, echo] = reports(ran.stdout)
      assert.deepInclude(handshake, { event: "handshake", peer: "localhost" })
      assert.deepStrictEqual(echo, { event: "echo", same: true, size: payload.byteLength })
    }))

  live("chat: a session seen by a member of the room", () =>
    Effect.gen(function*() {
      const { ca } = yield* TlsCertificates.get
      const server = yield* ChatServer.serve(TcpTransport.tls)
      const ada = yield* ChatPeer.login(server, "ada")
      const ran = yield* Spawned.run(Tools.which("python3")!, [
        python,
        "127.0.0.1",
        String(portOf(server)),
        ca,
        "chat",
        "py",
        "hello from python"
      ])
      assert.strictEqual(ran.code, 0, ran.stderr)
      const lines = reports(ran.stdout).find((report) => report.event === "chat")?.lines as Array<string>
      assert.includeMembers(lines, ["* you are now py", "* you joined lobby", "* bye"])
      yield* ada.expect("<py> hello from python")
      yield* ada.expect("* py quit")
    }))

  live("files: an upload is saved whole (sha256)", () =>
    Effect.gen(function*() {
      const { ca } = yield* TlsCertificates.get
      const local = yield* tempDirectory
      const content = Bytes.random(2 * 1024 * 1024 + 11)
      const file = writeLocal(local, "from-python.bin", content)
      const served = yield* serveFiles(TcpTransport.tls, { directory: yield* tempDirectory })
      const ran = yield* Spawned.run(Tools.which("python3")!, [
        python,
        "127.0.0.1",
        String(portOf(served.server)),
        ca,
        "files",
        file
      ])
      assert.strictEqual(ran.code, 0, ran.stderr)
      const reply = reports(ran.stdout).find((report) => report.event === "files")?.reply
      assert.deepStrictEqual(reply, { type: "saved", name: "from-python.bin", size: content.byteLength, sha256: sha256(content) })
      assert.strictEqual(sha256(Fs.readFileSync(Path.join(served.directory, "from-python.bin"))), sha256(content))
    }).pipe(Effect.provide(Disk.layerNode)))
})
