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
import { captureLogs, sha256, staged, tempDirectory, visible } from "./support/files.ts"

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
      const record = Path.join(store.directory, FileStore.metaFolder, "copied.bin")
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

  it.live("the checksum cache works for every name the store allows, up to what the file system allows", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const root = yield* tempDirectory
      const store = yield* logs.provide(FileStore.make({ directory: Path.join(root, "received"), maxNameBytes: 255 }))
      const long = "z".repeat(255)
      Fs.writeFileSync(Path.join(store.directory, long), Bytes.random(10))
      const [first] = yield* logs.provide(Stream.runCollect(store.list))
      assert.strictEqual(first!.name, long)
      assert.deepStrictEqual(logs.lines, [])
      // The record was written, and is what the next listing reads.
      const record = Path.join(store.directory, FileStore.metaFolder, long)
      const cached = JSON.parse(Fs.readFileSync(record, "utf8"))
      Fs.writeFileSync(record, JSON.stringify({ ...cached, sha256: "0".repeat(64) }))
      const [again] = yield* Stream.runCollect(store.list)
      assert.strictEqual(again!.sha256, "0".repeat(64))
    }).pipe(Effect.provide(Disk.layerNode)))

  it.live("a checksum cache that cannot be written costs a warning of one line, without a stack; the file is listed", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const root = yield* tempDirectory
      const node = Disk.makeNode()
      const failing: Disk.Disk["Service"] = {
        ...node,
        rename: (_, path) =>
          Effect.fail(new Disk.DiskError({ reason: new Disk.Failed({ code: "EIO", detail: "i/o error" }), operation: "rename", path }))
      }
      const broken = yield* Effect.provideService(FileStore.make({ directory: Path.join(root, "received") }), Disk.Disk, failing)
      Fs.writeFileSync(Path.join(broken.directory, "a.bin"), Bytes.random(10))
      const listed = yield* logs.provide(Stream.runCollect(broken.list))
      assert.deepStrictEqual(listed.map((file) => file.name), ["a.bin"])
      assert.deepStrictEqual(logs.lines.map((line) => [line.level, line.message, line.cause]), [
        ["Warn", "cannot write checksum cache of \"a.bin\"", ""]
      ])
      assert.include(String(logs.lines[0]!.annotations.reason), "i/o error")
    }).pipe(Effect.provide(Disk.layerNode)))

  it.live("names the store refuses are neither listed nor served: too long, or with invisible characters", () =>
    quiet(Effect.gen(function*() {
      const root = yield* tempDirectory
      const store = yield* FileStore.make({ directory: Path.join(root, "received") })
      for (const name of ["ok.txt", "x".repeat(200), "x".repeat(201), "x".repeat(255), "evil\u202etxt.exe"]) {
        Fs.writeFileSync(Path.join(store.directory, name), Bytes.random(10))
      }
      const listed = yield* Stream.runCollect(store.list)
      assert.deepStrictEqual(listed.map((file) => file.name), ["ok.txt", "x".repeat(200)])
      for (const name of ["x".repeat(201), "evil\u202etxt.exe"]) {
        const error = yield* Effect.flip(Effect.scoped(store.download(name)))
        assert.strictEqual(error.reason._tag, "InvalidName")
      }
      // The store's own numbered variants keep within the limit, so are listed.
      const bytes = Bytes.random(10)
      const offer = { name: "y".repeat(200), size: bytes.length, sha256: sha256(bytes) }
      const saved: Array<string> = []
      for (let i = 0; i < 2; i++) {
        saved.push(yield* Effect.scoped(Effect.gen(function*() {
          const upload = yield* store.upload(offer)
          yield* upload.write([bytes])
          return (yield* upload.complete).name
        })))
      }
      assert.deepStrictEqual(saved, ["y".repeat(200), "y".repeat(196) + " (1)"])
      const names = (yield* Stream.runCollect(store.list)).map((file) => file.name)
      assert.includeMembers(names, saved)
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

  it.live("a disk error names its path for the log; its reason, which clients may be told, does not", () =>
    Effect.gen(function*() {
      const root = yield* tempDirectory
      const file = Path.join(root, "file")
      Fs.writeFileSync(file, "x")
      const error = yield* Effect.flip(Effect.scoped(Disk.makeNode().open(Path.join(file, "child"), "read")))
      assert.strictEqual(error.reason._tag, "Failed")
      assert.deepInclude(error.reason, { code: "ENOTDIR" })
      assert.strictEqual(error.reason.message, "not a directory")
      assert.notInclude(error.reason.message, root)
      assert.include(error.message, Path.join(file, "child"))
    }))

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
