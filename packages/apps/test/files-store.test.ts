/**
 * The files store on its own: the checksum cache, its refusal of a
 * symlinked staging folder, staging files that cannot be a prefix, and the
 * sweeper leaving uploads in progress alone.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Effect from "effect/Effect"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Disk from "../src/files/Disk.ts"
import * as FileStore from "../src/files/FileStore.ts"
import { sha256, staged, tempDirectory, visible } from "./support/files.ts"

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Disk.layerNode), Effect.provideService(References.MinimumLogLevel, "Warn"))

describe("FileStore", () => {
  it.live("lists from the checksum cache, and hashes a file copied into the folder once", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const store = yield* FileStore.make({ directory: Path.join(root, "received") })
      const bytes = Bytes.random(100_000)
      Fs.writeFileSync(Path.join(store.directory, "copied.bin"), bytes)
      const [first] = yield* Stream.runCollect(store.list)
      assert.strictEqual(first!.sha256, sha256(bytes))
      const record = Path.join(store.directory, FileStore.metaFolder, "copied.bin.json")
      assert.isTrue(Fs.existsSync(record))
      // A record that matches size, mtime and inode is trusted: list reads it, not the file.
      const cached = JSON.parse(Fs.readFileSync(record, "utf8"))
      Fs.writeFileSync(record, JSON.stringify({ ...cached, sha256: "0".repeat(64) }))
      const [again] = yield* Stream.runCollect(store.list)
      assert.strictEqual(again!.sha256, "0".repeat(64))
      // A changed file does not match its record any more: hashed again.
      const changed = Bytes.random(100_001)
      Fs.writeFileSync(Path.join(store.directory, "copied.bin"), changed)
      const [fresh] = yield* Stream.runCollect(store.list)
      assert.strictEqual(fresh!.sha256, sha256(changed))
    })))

  it.live("a file that cannot be read is left out of the listing; the others are listed", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const directory = Path.join(root, "received")
      const node = Disk.makeNode()
      // Running as root, permissions would not stop a read: the disk refuses instead.
      const disk: Disk.Disk["Service"] = {
        ...node,
        open: (path, mode, options) =>
          Path.basename(path) === "locked.bin"
            ? Effect.fail(
              new Disk.DiskError({ reason: new Disk.Failed({ code: "EACCES", detail: "permission denied" }), operation: "open", path })
            )
            : node.open(path, mode, options)
      }
      const store = yield* Effect.provideService(FileStore.make({ directory }), Disk.Disk, disk)
      Fs.writeFileSync(Path.join(store.directory, "locked.bin"), Bytes.random(10))
      Fs.writeFileSync(Path.join(store.directory, "open.bin"), Bytes.random(10))
      const listed = yield* Stream.runCollect(store.list)
      assert.deepStrictEqual(listed.map((file) => file.name), ["open.bin"])
    })))

  it.live("refuses a staging folder that is a symlink", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const directory = Path.join(root, "received")
      Fs.mkdirSync(directory)
      Fs.mkdirSync(Path.join(root, "elsewhere"))
      Fs.symlinkSync(Path.join(root, "elsewhere"), Path.join(directory, FileStore.stagingFolder))
      const error = yield* Effect.flip(Effect.scoped(FileStore.make({ directory })))
      assert.strictEqual(error.reason._tag, "StorageFailed")
      assert.include(error.message, "symlinks are not followed")
    })))

  it.live("a staging file longer than the offered size is not a prefix: the upload starts over", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const store = yield* FileStore.make({ directory: Path.join(root, "received") })
      const bytes = Bytes.random(1000)
      const offer = { name: "a.bin", size: bytes.length, sha256: sha256(bytes) }
      Fs.writeFileSync(Path.join(store.directory, FileStore.stagingFolder, `${FileStore.stagingKey(offer)}.part`), Bytes.random(2000))
      const saved = yield* Effect.scoped(Effect.gen(function*() {
        const upload = yield* store.upload(offer)
        assert.strictEqual(upload.offset, 0)
        yield* upload.write([bytes])
        return yield* upload.complete
      }))
      assert.strictEqual(saved.sha256, sha256(bytes))
      assert.deepStrictEqual(visible(store.directory), ["a.bin"])
      assert.deepStrictEqual(staged(store.directory), [])
    })))

  it.live("the sweeper leaves an upload in progress alone, however old its file", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const store = yield* FileStore.make({ directory: Path.join(root, "received"), stagingExpiry: "1 minute" })
      const bytes = Bytes.random(1000)
      const offer = { name: "a.bin", size: bytes.length, sha256: sha256(bytes) }
      yield* Effect.scoped(Effect.gen(function*() {
        const upload = yield* store.upload(offer)
        yield* upload.write([bytes.subarray(0, 500)])
        const path = Path.join(store.directory, FileStore.stagingFolder, `${FileStore.stagingKey(offer)}.part`)
        const old = (Fs.statSync(path).mtimeMs - 3_600_000) / 1000
        Fs.utimesSync(path, old, old)
        assert.strictEqual(yield* store.sweep, 0)
        yield* upload.write([bytes.subarray(500)])
        yield* upload.complete
      }))
      assert.deepStrictEqual(visible(store.directory), ["a.bin"])
    })))
})
