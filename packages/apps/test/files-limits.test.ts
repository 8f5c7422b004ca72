/**
 * What keeps the files server's disk and inodes from being locked up by
 * peers that offer and do not send: upload slots (in all and per address),
 * the minimum upload rate that releases a stalled upload's reservation,
 * the cap on staging entries, and the sweep of empty and foreign staging
 * entries. Over the memory network, with time on the `TestClock`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Client from "@socket-to-me/core/Client"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Pull from "effect/Pull"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Disk from "../src/files/Disk.ts"
import * as FilesClient from "../src/files/FilesClient.ts"
import * as FilesConfig from "../src/files/FilesConfig.ts"
import * as FileStore from "../src/files/FileStore.ts"
import * as Protocol from "../src/files/Protocol.ts"
import {
  codeOf,
  decodeReplies,
  type FilesTestServer,
  quiet,
  serveFiles,
  sha256,
  staged,
  tempDirectory,
  visible,
  wireFrames,
  writeLocal
} from "./support/files.ts"

const memory = TestTransport.memory
const MiB = 1024 * 1024

// What the server answered, as `type` or `type:code`.
const describeReply = (frame: Protocol.Frame<Protocol.ServerMessage>): string =>
  frame._tag === "Data" ? "data" : frame.message.type === "error" ? `error:${frame.message.code}` : frame.message.type

// A peer that offers `bytes` as `name` and reads the answer, keeping the
// connection open for the life of the scope (until the scope closes, an
// accepted offer is an upload in progress).
const offer = Effect.fnUntraced(function*(served: FilesTestServer, name: string, bytes: Uint8Array) {
  const duplex = yield* Client.connect(served.target.dial, { address: "test" })
  const message = yield* Protocol.encodeClient({ type: "upload", name, size: bytes.length, sha256: sha256(bytes) })
  yield* duplex.write([yield* wireFrames(message)])
  const replies: Pull.Pull<ReadonlyArray<Uint8Array>, unknown> = yield* Stream.toPull(Protocol.codec().decode(duplex.input))
  const next = Effect.flatMap(Effect.flatMap(replies, decodeReplies), (frames) => Effect.succeed(frames[0]!))
  const first = yield* next
  const send = (data: Uint8Array) => Effect.flatMap(wireFrames(Protocol.encodeData(data)), (wire) => duplex.write([wire]))
  return { reply: describeReply(first), first, next, send }
})

// A node disk that tells when `bytes` bytes in all were written to
// staging files (`written`), and when a path was removed (`removed`).
const watchedDisk = () => {
  const disk = Disk.makeNode()
  let total = 0
  const thresholds: Array<{ readonly bytes: number; readonly reached: Deferred.Deferred<void> }> = []
  const removals = new Map<string, Deferred.Deferred<void>>()
  const staging = `${Path.sep}${FileStore.stagingFolder}${Path.sep}`
  const watched: Disk.Disk["Service"] = {
    ...disk,
    open: (path, mode, options) =>
      Effect.map(disk.open(path, mode, options), (handle): Disk.Handle =>
        !path.includes(staging) ? handle : {
          ...handle,
          write: (buffers, position) =>
            Effect.tap(handle.write(buffers, position), () => {
              total += buffers.reduce((n, buffer) => n + buffer.length, 0)
              return Effect.forEach(thresholds, (t) => t.bytes <= total ? Deferred.succeed(t.reached, undefined) : Effect.void)
            })
        }),
    remove: (path) =>
      Effect.tap(disk.remove(path), () => {
        const removal = removals.get(path)
        return removal === undefined ? Effect.void : Deferred.succeed(removal, undefined)
      })
  }
  return {
    disk: watched,
    written: (bytes: number) =>
      Effect.gen(function*() {
        const reached = yield* Deferred.make<void>()
        thresholds.push({ bytes, reached })
        if (total >= bytes) yield* Deferred.succeed(reached, undefined)
        yield* Deferred.await(reached)
      }),
    // Call before the removal may happen, then wait on what it returns.
    removal: (path: string) =>
      Effect.map(Deferred.make<void>(), (removed) => {
        removals.set(path, removed)
        return Deferred.await(removed)
      })
  }
}

describe("files limits over memory (TestClock)", () => {
  it.effect("uploads in progress are capped in all; the cap frees as they end", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const served = yield* serveFiles(memory, {
        directory: Path.join(root, "received"),
        maxPendingUploads: 2,
        maxPendingUploadsPerPeer: 10
      })
      const local = writeLocal(root, "c.bin", Bytes.random(1000))
      yield* Effect.scoped(Effect.gen(function*() {
        assert.strictEqual((yield* offer(served, "a.bin", Bytes.random(1000))).reply, "accept")
        assert.strictEqual((yield* offer(served, "b.bin", Bytes.random(1000))).reply, "accept")
        const refused = yield* Effect.flip(FilesClient.upload(served.target, local))
        assert.strictEqual(codeOf(refused), "too-many-uploads")
        assert.strictEqual(
          refused.message,
          "server refused (too-many-uploads): too many uploads in progress: the server receives at most 2 at a time; retry later"
        )
      }))
      yield* served.server.server.awaitIdle
      assert.strictEqual((yield* FilesClient.upload(served.target, local)).name, "c.bin")
      // Refused before anything was reserved or created; the abandoned offers left nothing.
      assert.deepStrictEqual(staged(served.directory), [])
      assert.deepStrictEqual(visible(served.directory), ["c.bin"])
    })))

  it.effect("uploads in progress are capped per address, whatever the ports", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const served = yield* serveFiles(memory, {
        directory: Path.join(root, "received"),
        maxPendingUploads: 10,
        maxPendingUploadsPerPeer: 2
      })
      yield* Effect.scoped(Effect.gen(function*() {
        // Every memory connection comes from 127.0.0.1, each from a port of its own.
        assert.strictEqual((yield* offer(served, "a.bin", Bytes.random(1000))).reply, "accept")
        assert.strictEqual((yield* offer(served, "b.bin", Bytes.random(1000))).reply, "accept")
        const third = yield* offer(served, "c.bin", Bytes.random(1000))
        assert.strictEqual(third.reply, "error:too-many-uploads")
        assert.isTrue(third.first._tag === "Control" && third.first.message.type === "error")
        if (third.first._tag === "Control" && third.first.message.type === "error") {
          assert.strictEqual(
            third.first.message.message,
            "too many uploads in progress from 127.0.0.1: the server receives at most 2 at a time from one address; retry later"
          )
        }
      }))
      yield* served.server.server.awaitIdle
      assert.strictEqual((yield* offer(served, "d.bin", Bytes.random(1000)).pipe(Effect.scoped)).reply, "accept")
    })))

  it.effect("an upload below the minimum rate is stopped with too-slow: its reservation is released, its bytes kept", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const size = MiB
      const watched = watchedDisk()
      // Room for one upload of `size` above the reserve, not two.
      const disk = { ...watched.disk, availableBytes: () => Effect.succeed(FilesConfig.minFreeDiskBytes + 1.5 * size) }
      const served = yield* serveFiles(memory, { directory: Path.join(root, "received") }, {
        disk,
        handler: { minUploadBytesPerSecond: 1024, uploadRateWindow: "10 seconds" }
      })
      const slowBytes = Bytes.random(size)
      const local = writeLocal(root, "other.bin", Bytes.random(size))
      yield* Effect.scoped(Effect.gen(function*() {
        const slow = yield* offer(served, "slow.bin", slowBytes)
        assert.strictEqual(slow.reply, "accept")
        const refused = yield* Effect.flip(FilesClient.upload(served.target, local))
        assert.strictEqual(codeOf(refused), "insufficient-space")
        // First window: 10240 bytes, the minimum; the upload goes on.
        yield* slow.send(slowBytes.subarray(0, 10240))
        yield* watched.written(10240)
        yield* TestClock.adjust("10 seconds")
        // Second window: 100 bytes, too few.
        yield* slow.send(slowBytes.subarray(10240, 10340))
        yield* watched.written(10340)
        yield* TestClock.adjust("10 seconds")
        const stopped = yield* slow.next
        assert.strictEqual(describeReply(stopped), "error:too-slow")
        if (stopped._tag === "Control" && stopped.message.type === "error") {
          assert.strictEqual(
            stopped.message.message,
            "upload too slow: 100 bytes received in 10 seconds, below the server's minimum of 1024 bytes per second; what was received is kept, send again to resume"
          )
        }
        // Its reservation is released: the other upload now fits.
        assert.strictEqual((yield* FilesClient.upload(served.target, local)).name, "other.bin")
      }))
      const partial = `${FileStore.stagingKey({ name: "slow.bin", size, sha256: sha256(slowBytes) })}.part`
      assert.deepStrictEqual(staged(served.directory), [partial])
      assert.strictEqual(Fs.statSync(Path.join(served.directory, FileStore.stagingFolder, partial)).size, 10340)
    })))

  it.effect("an offer abandoned before its first byte leaves no staging file", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const served = yield* serveFiles(memory, { directory: Path.join(root, "received") })
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((yield* offer(served, `a${i}.bin`, Bytes.random(1000)).pipe(Effect.scoped)).reply, "accept")
      }
      yield* served.server.server.awaitIdle
      assert.deepStrictEqual(staged(served.directory), [])
    })))

  it.effect("staging entries are capped: the least recently written partial upload makes room; live ones never do", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const served = yield* serveFiles(memory, { directory: Path.join(root, "received"), maxStagingEntries: 2 })
      const stagingDirectory = Path.join(served.directory, FileStore.stagingFolder)
      // Two partial uploads, as interrupted uploads leave them: `older` last written an hour before `newer`.
      const partialOf = (bytes: Uint8Array, name: string) => {
        const file = `${FileStore.stagingKey({ name, size: bytes.length, sha256: sha256(bytes) })}.part`
        Fs.writeFileSync(Path.join(stagingDirectory, file), bytes.subarray(0, 100))
        return file
      }
      const older = partialOf(Bytes.random(1000), "older.bin")
      const newer = partialOf(Bytes.random(1000), "newer.bin")
      const mtime = Fs.statSync(Path.join(stagingDirectory, newer)).mtimeMs / 1000
      Fs.utimesSync(Path.join(stagingDirectory, older), mtime - 3600, mtime - 3600)

      const local = writeLocal(root, "new.bin", Bytes.random(1000))
      assert.strictEqual((yield* FilesClient.upload(served.target, local)).name, "new.bin")
      assert.deepStrictEqual(staged(served.directory), [newer])

      // With the cap at one entry and that entry in use, a new upload is refused.
      const tight = yield* serveFiles(memory, { directory: Path.join(root, "tight"), maxStagingEntries: 1 })
      yield* Effect.scoped(Effect.gen(function*() {
        assert.strictEqual((yield* offer(tight, "live.bin", Bytes.random(1000))).reply, "accept")
        const refused = yield* Effect.flip(FilesClient.upload(tight.target, local))
        assert.strictEqual(codeOf(refused), "too-many-uploads")
        assert.include(refused.message, "all 1 staging entries are in use")
        assert.lengthOf(staged(tight.directory), 1)
      }))
    })))

  it.effect("the staging folder is swept at startup and every minute: empty and foreign entries go, partial uploads stay", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const directory = Path.join(root, "received")
      const stagingDirectory = Path.join(directory, FileStore.stagingFolder)
      Fs.mkdirSync(stagingDirectory, { recursive: true })
      const now = Fs.statSync(stagingDirectory).mtimeMs
      yield* TestClock.setTime(now)
      const tenMinutesAgo = (now - 10 * 60_000) / 1000
      const entry = (file: string, bytes: Uint8Array, old: boolean) => {
        const path = Path.join(stagingDirectory, file)
        Fs.writeFileSync(path, bytes)
        if (old) Fs.utimesSync(path, tenMinutesAgo, tenMinutesAgo)
        return file
      }
      const key = (i: number) => `${String(i).repeat(64)}.part`
      entry(key(1), new Uint8Array(0), true)
      entry("junk.tmp", Bytes.random(10), true)
      const partial = entry(key(2), Bytes.random(10), true)
      const fresh = entry(key(3), new Uint8Array(0), false)

      const watched = watchedDisk()
      const store = yield* Effect.provideService(FileStore.make({ directory }), Disk.Disk, watched.disk)
      // At startup: the old empty entry and the foreign one.
      assert.deepStrictEqual(staged(directory), [partial, fresh].sort())

      // Left while serving (a crash between creating and writing, say).
      const leftover = entry(key(4), new Uint8Array(0), true)
      const removed = yield* watched.removal(Path.join(store.directory, FileStore.stagingFolder, leftover))
      yield* TestClock.adjust(FilesConfig.stagingSweepInterval)
      yield* removed
      assert.deepStrictEqual(staged(directory), [partial, fresh].sort())
    })))
})
