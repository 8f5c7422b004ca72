/**
 * The files app end to end: round trips, resume, corruption in flight,
 * concurrent uploads, a filling disk, hostile peers. Every body runs over
 * each transport (memory network and loopback TCP) against a real folder in
 * a temporary directory.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Client from "@socket-to-me/core/Client"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Faults from "@socket-to-me/testkit/Faults"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as References from "effect/References"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Disk from "../src/files/Disk.ts"
import * as FilesClient from "../src/files/FilesClient.ts"
import * as FilesConfig from "../src/files/FilesConfig.ts"
import * as FileStore from "../src/files/FileStore.ts"
import * as Protocol from "../src/files/Protocol.ts"
import {
  captureLogs,
  codeOf,
  corruptWrittenByte,
  decodeReplies,
  fillingDisk,
  rawExchange,
  quiet,
  serveFiles,
  sha256,
  signallingDisk,
  staged,
  tempDirectory,
  visible,
  wireFrames,
  writeLocal
} from "./support/files.ts"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"

const chunk = FilesConfig.fileChunkBytes
const MiB = 1024 * 1024

for (const transport of transports) {
  describe(`files over ${transport.name}`, () => {
    it.live("round trips of 0, 1, chunk-1, chunk, chunk+1 bytes and 10 MiB random: upload, list, download", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        const sizes = [0, 1, chunk - 1, chunk, chunk + 1, 10 * MiB]
        for (const size of sizes) {
          const bytes = Bytes.random(size)
          const local = writeLocal(root, `file-${size}.bin`, bytes)
          const uploaded = yield* FilesClient.upload(served.target, local)
          assert.deepStrictEqual(uploaded, { name: `file-${size}.bin`, size, sha256: sha256(bytes), resumedAt: 0 })
          assert.isTrue(Bytes.equals(Fs.readFileSync(Path.join(served.directory, uploaded.name)), bytes))
          const out = Path.join(root, `back-${size}.bin`)
          const downloaded = yield* FilesClient.download(served.target, uploaded.name, { out })
          assert.strictEqual(downloaded.sha256, sha256(bytes))
          assert.strictEqual(downloaded.resumedAt, 0)
          assert.isTrue(Bytes.equals(Fs.readFileSync(out), bytes))
        }
        const names = sizes.map((size) => `file-${size}.bin`).sort()
        const listed = yield* Stream.runCollect(FilesClient.list(served.target))
        assert.deepStrictEqual(listed.map((file) => file.name), names)
        for (const file of listed) {
          const bytes = Fs.readFileSync(Path.join(served.directory, file.name))
          assert.strictEqual(file.sha256, sha256(bytes))
          assert.strictEqual(file.size, bytes.length)
          assert.match(file.modifiedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        }
        assert.deepStrictEqual(staged(served.directory), [])
        assert.deepStrictEqual(visible(served.directory), names)
        yield* served.server.server.awaitIdle
        // Served connections end when the server has replied, or when the
        // client, done first, closes its side.
        for (const exit of served.server.exits) assert.oneOf(exit.reason._tag, ["Completed", "PeerClosed"])
        yield* served.server.assertNoLeaks
      })))

    it.live("a client killed mid-transfer leaves nothing visible; sending again resumes and saves the right bytes", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        const bytes = Bytes.random(10 * MiB)
        const local = writeLocal(root, "big.bin", bytes)
        // The client's connection dies (reset) after 3 MiB have left it.
        const killed = { ...served.target, dial: Effect.map(served.target.dial, Faults.resetAfter(3 * MiB, { direction: "write" })) }
        const error = yield* Effect.flip(FilesClient.upload(killed, local))
        assert.strictEqual(error.reason._tag, "ConnectionLost")
        yield* served.server.server.awaitIdle
        assert.deepStrictEqual(visible(served.directory), [])
        const partial = staged(served.directory)
        assert.strictEqual(partial.length, 1)
        const held = Fs.statSync(Path.join(served.directory, FileStore.stagingFolder, partial[0]!)).size
        assert.isAbove(held, 0)
        assert.isAtMost(held, 3 * MiB)

        const events: Array<FilesClient.Event> = []
        const uploaded = yield* FilesClient.upload(served.target, local, {
          onEvent: (event) => Effect.sync(() => events.push(event))
        })
        assert.strictEqual(uploaded.resumedAt, held)
        assert.isAbove(uploaded.resumedAt, 0)
        assert.deepStrictEqual(events.filter((event) => event._tag === "Resumed"), [
          { _tag: "Resumed", offset: held, total: bytes.length }
        ])
        assert.strictEqual(uploaded.sha256, sha256(bytes))
        assert.isTrue(Bytes.equals(Fs.readFileSync(Path.join(served.directory, "big.bin")), bytes))
        assert.deepStrictEqual(visible(served.directory), ["big.bin"])
        assert.deepStrictEqual(staged(served.directory), [])
        yield* served.server.server.awaitIdle
        // The lost connection ended with the peer's reset or its close mid-frame.
        assert.oneOf(served.server.exits[0]!.reason._tag, ["PeerReset", "PeerClosed"])
      })))

    it.live("a server stopped mid-upload keeps the partial file; a server restarted on the folder resumes it", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const directory = Path.join(root, "received")
        const bytes = Bytes.random(2 * MiB)
        const local = writeLocal(root, "big.bin", bytes)
        const stored = yield* Deferred.make<void>()
        yield* Effect.scoped(Effect.gen(function*() {
          const served = yield* serveFiles(transport, { directory }, {
            disk: signallingDisk(MiB, stored),
            server: { shutdownGrace: "50 millis" }
          })
          // A client that offers the file, sends its first MiB and waits.
          const duplex = yield* Client.connect(served.target.dial, { address: "test" })
          const offer = yield* Protocol.encodeClient({ type: "upload", name: "big.bin", size: bytes.length, sha256: sha256(bytes) })
          yield* duplex.write([yield* wireFrames(offer)])
          const replies = yield* Stream.toPull(Protocol.codec().decode(duplex.input))
          assert.deepStrictEqual(yield* Effect.flatMap(replies, decodeReplies), [{ _tag: "Control", message: { type: "accept", offset: 0 } }])
          const frames = Array.from({ length: MiB / chunk }, (_, i) => Protocol.encodeData(bytes.subarray(i * chunk, (i + 1) * chunk)))
          yield* duplex.write([yield* wireFrames(...frames)])
          yield* Deferred.await(stored)
          // Closing the scope drains the server: the connection is interrupted after the grace.
        }))
        assert.deepStrictEqual(visible(directory), [])
        assert.strictEqual(staged(directory).length, 1)
        const restarted = yield* serveFiles(transport, { directory })
        const uploaded = yield* FilesClient.upload(restarted.target, local)
        assert.strictEqual(uploaded.resumedAt, MiB)
        assert.strictEqual(uploaded.sha256, sha256(bytes))
        assert.isTrue(Bytes.equals(Fs.readFileSync(Path.join(directory, "big.bin")), bytes))
      })))

    it.live("bytes corrupted in flight are rejected and nothing is kept", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        const bytes = Bytes.random(MiB)
        const local = writeLocal(root, "report.pdf", bytes)
        // One bit inside the third data frame's file bytes (past its header).
        const offer = yield* Protocol.encodeClient({ type: "upload", name: "report.pdf", size: bytes.length, sha256: sha256(bytes) })
        const offset = 4 + offer.length + 2 * (Protocol.dataHeaderBytes + chunk) + Protocol.dataHeaderBytes + 1000
        const corrupted = { ...served.target, dial: Effect.map(served.target.dial, corruptWrittenByte(offset)) }
        const error = yield* Effect.flip(FilesClient.upload(corrupted, local))
        assert.strictEqual(codeOf(error), "checksum-mismatch")
        assert.match(error.message, /checksum mismatch/)
        assert.deepStrictEqual(visible(served.directory), [])
        assert.deepStrictEqual(staged(served.directory), [])
        const listed = yield* Stream.runCollect(FilesClient.list(served.target))
        assert.deepStrictEqual(listed, [])
      })))

    it.live("concurrent uploads under one name all land, under distinct names, none corrupt", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        // Eight uploads from one address at once.
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received"), maxPendingUploadsPerPeer: 8 })
        // Six different contents and two copies of one of them (same offer).
        const contents = Array.from({ length: 6 }, (_, i) => Bytes.random(256 * 1024 + i * 1000))
        contents.push(contents[0]!, contents[0]!)
        const locals = contents.map((bytes, i) => writeLocal(root, `local-${i}`, bytes))
        const uploads = yield* Effect.forEach(
          locals,
          (local) => FilesClient.upload(served.target, local, { name: "report.pdf" }),
          { concurrency: "unbounded" }
        )
        const expected = ["report.pdf", ...Array.from({ length: 7 }, (_, i) => `report (${i + 1}).pdf`)]
        assert.deepStrictEqual(uploads.map((upload) => upload.name).sort(), expected.sort())
        uploads.forEach((upload, i) => {
          assert.strictEqual(upload.sha256, sha256(contents[i]!))
          assert.isTrue(Bytes.equals(Fs.readFileSync(Path.join(served.directory, upload.name)), contents[i]!))
        })
        assert.deepStrictEqual(visible(served.directory), expected.sort())
        assert.deepStrictEqual(staged(served.directory), [])
      })))

    it.live("a disk filling up mid-upload: typed error, staging file removed, nothing visible", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(
          transport,
          { directory: Path.join(root, "received") },
          { disk: fillingDisk(2 * MiB) }
        )
        const local = writeLocal(root, "big.bin", Bytes.random(5 * MiB))
        const error = yield* Effect.flip(FilesClient.upload(served.target, local))
        assert.strictEqual(codeOf(error), "disk-full")
        assert.match(error.message, /disk full/)
        assert.deepStrictEqual(staged(served.directory), [])
        assert.deepStrictEqual(visible(served.directory), [])
        // The server still serves what fits.
        const small = writeLocal(root, "small.bin", Bytes.random(1000))
        const uploaded = yield* FilesClient.upload(served.target, small)
        assert.strictEqual(uploaded.name, "small.bin")
      })))

    it.live("a storage failure: the client is told what failed, never the server's paths; the server logs it at ERROR, path included", () => {
      const logs = captureLogs()
      return Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        // The staging folder replaced by a file while serving.
        const staging = Path.join(served.directory, FileStore.stagingFolder)
        Fs.rmSync(staging, { recursive: true })
        Fs.writeFileSync(staging, "not a folder")
        const local = writeLocal(root, "a.bin", Bytes.random(1000))
        const error = yield* Effect.flip(FilesClient.upload(served.target, local))
        assert.strictEqual(codeOf(error), "storage-failed")
        assert.notInclude(error.message, root)
        yield* served.server.server.awaitIdle
        // What the connection logged about it (the sweeper may also have run into the file).
        const about = logs.lines.filter((line) =>
          line.annotations.connection !== undefined && JSON.stringify(line).includes("storage failed")
        )
        assert.deepStrictEqual(about.map((line) => line.level), ["Error"], JSON.stringify(logs.lines))
        assert.include(JSON.stringify(about[0]!.annotations), staging)
      }).pipe(logs.provide, Effect.provide(Disk.layerNode), Effect.provideService(References.MinimumLogLevel, "Info"))
    })

    it.live("its hidden folders removed while serving: the next upload and listing re-create them", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        for (const hidden of [FileStore.stagingFolder, FileStore.metaFolder]) {
          Fs.rmSync(Path.join(served.directory, hidden), { recursive: true })
        }
        const bytes = Bytes.random(100_000)
        const uploaded = yield* FilesClient.upload(served.target, writeLocal(root, "a.bin", bytes))
        assert.strictEqual(uploaded.sha256, sha256(bytes))
        assert.deepStrictEqual(visible(served.directory), ["a.bin"])
        assert.deepStrictEqual(staged(served.directory), [])
        // The checksum cache too.
        assert.isTrue(Fs.existsSync(Path.join(served.directory, FileStore.metaFolder, "a.bin")))
        const listed = yield* Stream.runCollect(FilesClient.list(served.target))
        assert.deepStrictEqual(listed.map((file) => file.name), ["a.bin"])
      })))

    it.live("the folder removed while serving: storage-failed saying so; re-created, it serves again without a restart", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const directory = Path.join(root, "received")
        const served = yield* serveFiles(transport, { directory })
        const local = writeLocal(root, "a.bin", Bytes.random(100_000))
        Fs.rmSync(directory, { recursive: true })
        const failures = [
          yield* Effect.flip(FilesClient.upload(served.target, local)),
          yield* Effect.flip(Stream.runCollect(FilesClient.list(served.target))),
          yield* Effect.flip(FilesClient.download(served.target, "a.bin", { out: Path.join(root, "out") }))
        ]
        for (const error of failures) {
          assert.strictEqual(codeOf(error), "storage-failed")
          assert.include(error.message, "the server's folder is missing")
          assert.notInclude(error.message, root)
        }
        // Not re-created by the server: it might be a volume that is not mounted.
        assert.isFalse(Fs.existsSync(directory))
        Fs.mkdirSync(directory)
        const uploaded = yield* FilesClient.upload(served.target, local)
        assert.strictEqual(uploaded.name, "a.bin")
        const listed = yield* Stream.runCollect(FilesClient.list(served.target))
        assert.deepStrictEqual(listed.map((file) => file.name), ["a.bin"])
        assert.deepStrictEqual(staged(directory), [])
      })))

    it.live("offers over the size limit or the free space are refused before any byte is sent", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const small = yield* serveFiles(transport, { directory: Path.join(root, "small"), maxFileBytes: 1000 })
        const local = writeLocal(root, "a.bin", Bytes.random(1001))
        const tooLarge = yield* Effect.flip(FilesClient.upload(small.target, local))
        assert.strictEqual(codeOf(tooLarge), "too-large")
        assert.include(tooLarge.message, "exceeds the limit of 1000 bytes")

        const full = yield* serveFiles(transport, { directory: Path.join(root, "full") }, {
          disk: { ...Disk.makeNode(), availableBytes: () => Effect.succeed(FilesConfig.minFreeDiskBytes + 500) }
        })
        const noSpace = yield* Effect.flip(FilesClient.upload(full.target, local))
        assert.strictEqual(codeOf(noSpace), "insufficient-space")
        assert.include(noSpace.message, "1001 bytes needed, 500 available")
        for (const served of [small, full]) {
          yield* served.server.server.awaitIdle
          // Declined, not broken: the connection ends normally.
          assert.oneOf(served.server.exits[0]!.reason._tag, ["Completed", "PeerClosed"])
          assert.deepStrictEqual(staged(served.directory), [])
          assert.deepStrictEqual(visible(served.directory), [])
        }
      })))

    it.live("random bytes sent to the port: a typed error to that client, the server keeps serving", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        const garbage = Bytes.random(64 * 1024)
        garbage[0] = 0xff // announces a frame far over the cap
        const tooLarge = yield* Effect.flatMap(rawExchange(served.target, [garbage]), decodeReplies)
        assert.deepStrictEqual(tooLarge.map((frame) => frame._tag === "Control" ? frame.message.type : "data"), ["error"])
        const first = tooLarge[0]!
        assert.isTrue(first._tag === "Control" && first.message.type === "error" && first.message.code === "bad-frame")

        // A frame of the right size but of an unknown type, and JSON that is no message.
        const unknownType = yield* wireFrames(Uint8Array.of(0x07, 1, 2, 3))
        const notJson = yield* wireFrames(Uint8Array.of(Protocol.controlFrame, 0x7b, 0x7b))
        const notMessage = yield* wireFrames(
          Uint8Array.from([Protocol.controlFrame, ...Bytes.encode(`{"type":"upload","name":"a","size":-1}`)])
        )
        const dataFirst = yield* wireFrames(Protocol.encodeData(Uint8Array.of(1, 2, 3)))
        const codes: Array<string> = []
        for (const bytes of [unknownType, notJson, notMessage, dataFirst]) {
          const replies = yield* Effect.flatMap(rawExchange(served.target, [bytes]), decodeReplies)
          for (const reply of replies) if (reply._tag === "Control" && reply.message.type === "error") codes.push(reply.message.code)
        }
        assert.deepStrictEqual(codes, ["bad-frame", "bad-frame", "bad-request", "bad-request"])

        const local = writeLocal(root, "after.bin", Bytes.random(100_000))
        const uploaded = yield* FilesClient.upload(served.target, local)
        assert.strictEqual(uploaded.name, "after.bin")
        yield* served.server.server.awaitIdle
        const tags = served.server.exits.map((exit) => exit.reason._tag)
        assert.deepStrictEqual(tags.slice(0, 5), ["FrameTooLarge", "DecodeFailed", "DecodeFailed", "DecodeFailed", "DecodeFailed"])
        assert.oneOf(tags[5], ["Completed", "PeerClosed"])
        assert.deepStrictEqual(staged(served.directory), [])
        yield* served.server.assertNoLeaks
      })))

    it.live("a peer that stops mid-frame is cut off by the frame deadline; its partial upload stays resumable", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") }, {
          handler: { frameDeadline: "200 millis" }
        })
        const bytes = Bytes.random(3 * chunk)
        const offer = yield* Protocol.encodeClient({ type: "upload", name: "slow.bin", size: bytes.length, sha256: sha256(bytes) })
        yield* Effect.scoped(Effect.gen(function*() {
          const duplex = yield* Client.connect(served.target.dial, { address: "test" })
          yield* duplex.write([yield* wireFrames(offer)])
          const replies = yield* Stream.toPull(Protocol.codec().decode(duplex.input))
          yield* replies
          // One whole data frame, then the first half of the next one.
          const whole = yield* wireFrames(Protocol.encodeData(bytes.subarray(0, chunk)))
          const next = yield* wireFrames(Protocol.encodeData(bytes.subarray(chunk, 2 * chunk)))
          yield* duplex.write([whole, next.subarray(0, next.length / 2)])
          // The server gives up on the frame and closes.
          yield* replies.pipe(Effect.forever, Effect.ignore)
        }))
        yield* served.server.server.awaitIdle
        assert.strictEqual(served.server.exits[0]!.reason._tag, "FrameTimeout")
        assert.deepStrictEqual(visible(served.directory), [])
        const local = writeLocal(root, "slow.bin", bytes)
        const uploaded = yield* FilesClient.upload(served.target, local)
        assert.strictEqual(uploaded.resumedAt, chunk)
        assert.strictEqual(uploaded.sha256, sha256(bytes))
      })))

    it.live("a slow upload whose every frame arrives in time is not cut by the frame deadline, however long it runs", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const small = 4096
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") }, {
          handler: { frameDeadline: "500 millis", chunkBytes: small }
        })
        // 32 frames of 4101 wire bytes sent 1000 bytes every 10 ms: about
        // 50 ms per frame, 1.3 s in all, and no read ends on a frame boundary
        // (the deadline must time the frame in progress, not the run).
        const slow = (socket: Socket.Socket) =>
          Faults.rechunk([1000], { direction: "write" })(Faults.delay("10 millis", { direction: "write" })(socket))
        const local = writeLocal(root, "slow.bin", Bytes.random(32 * small))
        const uploaded = yield* FilesClient.upload(
          { ...served.target, dial: Effect.map(served.target.dial, slow) },
          local,
          { chunkBytes: small }
        )
        assert.strictEqual(uploaded.size, 32 * small)
        yield* served.server.server.awaitIdle
        assert.deepStrictEqual(served.server.exits.map((exit) => exit.reason._tag), ["Completed"])
      })))

    it.live("hostile names are refused by the server with a clear message; nothing is written", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        const names = ["../evil", "/etc/passwd", "a\\b", "..", ".", "", "nul\u0000byte", "line\nfeed", ".hidden", "x".repeat(201), "evil\u202etxt.exe"]
        const messages: Array<string> = []
        for (const name of names) {
          const offer = yield* Protocol.encodeClient({ type: "upload", name, size: 1, sha256: sha256(Uint8Array.of(1)) })
          const replies = yield* Effect.flatMap(Effect.flatMap(wireFrames(offer), (bytes) => rawExchange(served.target, [bytes])), decodeReplies)
          const reply = replies[0]!
          assert.isTrue(reply._tag === "Control" && reply.message.type === "error" && reply.message.code === "invalid-name", name)
          if (reply._tag === "Control" && reply.message.type === "error") messages.push(reply.message.message)
        }
        assert.include(messages[0], "without \"/\" or \"\\\"")
        assert.include(messages[3], "\".\" and \"..\" are not file names")
        assert.include(messages[6], "NUL")
        assert.include(messages[9], "201 bytes long; the limit is 200")
        assert.include(messages[10], "invisible formatting characters")
        assert.deepStrictEqual(Fs.readdirSync(root), ["received"])
        assert.deepStrictEqual(visible(served.directory), [])
        assert.deepStrictEqual(staged(served.directory), [])
      })))

    it.live("symlinks in the folder are neither followed nor listed nor written through", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        const secret = writeLocal(root, "secret.txt", Bytes.encode("outside the folder"))
        Fs.symlinkSync(secret, Path.join(served.directory, "escape"))
        const error = yield* Effect.flip(FilesClient.download(served.target, "escape", { out: Path.join(root, "got") }))
        assert.strictEqual(codeOf(error), "not-found")
        assert.deepStrictEqual(yield* Stream.runCollect(FilesClient.list(served.target)), [])
        const local = writeLocal(root, "payload", Bytes.random(1000))
        const uploaded = yield* FilesClient.upload(served.target, local, { name: "escape" })
        assert.strictEqual(uploaded.name, "escape (1)")
        assert.strictEqual(Fs.readFileSync(secret, "utf8"), "outside the folder")
        assert.isTrue(Fs.lstatSync(Path.join(served.directory, "escape")).isSymbolicLink())
      })))

    it.live("an offer being received on another connection is answered busy", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        const bytes = Bytes.random(1000)
        const offer = yield* Effect.flatMap(
          Protocol.encodeClient({ type: "upload", name: "same", size: bytes.length, sha256: sha256(bytes) }),
          (payload) => wireFrames(payload)
        )
        // A first connection holds the offer (accepted, no bytes sent yet).
        yield* Effect.scoped(Effect.gen(function*() {
          const first = yield* Client.connect(served.target.dial, { address: "first" })
          yield* first.write([offer])
          const replies = yield* Stream.toPull(Protocol.codec().decode(first.input))
          const accepted = yield* Effect.flatMap(replies, (payloads) => decodeReplies(payloads))
          assert.deepStrictEqual(accepted, [{ _tag: "Control", message: { type: "accept", offset: 0 } }])
          const second = yield* Effect.flatMap(rawExchange(served.target, [offer]), decodeReplies)
          const reply = second[0]!
          assert.isTrue(reply._tag === "Control" && reply.message.type === "error" && reply.message.code === "busy")
        }))
        yield* served.server.server.awaitIdle
        assert.deepStrictEqual(visible(served.directory), [])
      })))

    it.live("stale staging files expire; an offer after expiry starts from zero", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received"), stagingExpiry: "1 hour" })
        const bytes = Bytes.random(4 * MiB)
        const local = writeLocal(root, "big.bin", bytes)
        // What an interrupted upload leaves.
        const partial = `${FileStore.stagingKey({ name: "big.bin", size: bytes.length, sha256: sha256(bytes) })}.part`
        Fs.writeFileSync(Path.join(served.directory, FileStore.stagingFolder, partial), bytes.subarray(0, MiB))
        // Fresh: kept.
        assert.strictEqual(yield* served.store.sweep, 0)
        const twoHoursAgo = (Fs.statSync(local).mtimeMs - 2 * 3600_000) / 1000
        Fs.utimesSync(Path.join(served.directory, FileStore.stagingFolder, partial), twoHoursAgo, twoHoursAgo)
        assert.strictEqual(yield* served.store.sweep, 1)
        assert.deepStrictEqual(staged(served.directory), [])
        const uploaded = yield* FilesClient.upload(served.target, local)
        assert.strictEqual(uploaded.resumedAt, 0)
        assert.strictEqual(uploaded.sha256, sha256(bytes))
      })))

    it.live("a download resumes into its partial file and is verified; a damaged partial is caught and deleted", () =>
      quiet(Effect.gen(function*() {
        const root = yield* tempDirectory
        const served = yield* serveFiles(transport, { directory: Path.join(root, "received") })
        const bytes = Bytes.random(3 * MiB + 17)
        writeLocal(served.directory, "data.bin", bytes)
        const digest = sha256(bytes)

        const out = Path.join(root, "data.bin")
        Fs.writeFileSync(FilesClient.partialPath(out, digest), bytes.subarray(0, MiB))
        const resumed = yield* FilesClient.download(served.target, "data.bin", { out })
        assert.strictEqual(resumed.resumedAt, MiB)
        assert.isTrue(Bytes.equals(Fs.readFileSync(out), bytes))
        assert.isFalse(Fs.existsSync(FilesClient.partialPath(out, digest)))

        const again = yield* Effect.flip(FilesClient.download(served.target, "data.bin", { out }))
        assert.strictEqual(again.reason._tag, "LocalFileFailed")
        assert.include(again.message, "already exists")

        const damagedOut = Path.join(root, "damaged.bin")
        Fs.writeFileSync(FilesClient.partialPath(damagedOut, digest), Bytes.random(MiB))
        const damaged = yield* Effect.flip(FilesClient.download(served.target, "data.bin", { out: damagedOut }))
        assert.strictEqual(damaged.reason._tag, "VerifyFailed")
        assert.isFalse(Fs.existsSync(damagedOut))
        assert.isFalse(Fs.existsSync(FilesClient.partialPath(damagedOut, digest)))

        const missing = yield* Effect.flip(FilesClient.download(served.target, "nope", { out: Path.join(root, "nope") }))
        assert.strictEqual(codeOf(missing), "not-found")
      })))
  })
}
