/**
 * The files app under interleavings: clients upload and download under one
 * name at once, over a memory network whose deliveries are ordered by a
 * seeded scheduler, against a real folder whose every disk operation (the
 * server's and the clients') is an `external` step of the same scheduler,
 * so the order in which they complete is chosen too, not raced.
 */
import { describe, it } from "@effect/vitest"
import * as Interleavings from "@socket-to-me/testkit/Interleavings"
import type * as NetworkScheduler from "@socket-to-me/testkit/NetworkScheduler"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as References from "effect/References"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Disk from "../src/files/Disk.ts"
import * as FilesClient from "../src/files/FilesClient.ts"
import type * as FilesError from "../src/files/FilesError.ts"
import { serveFiles, sha256, staged, tempDirectory, visible } from "./support/files.ts"

// CI runs this many per property; SOCKET_TO_ME_INTERLEAVING_RUNS=2000 runs
// more by hand.
const runs = 40

// Small data frames from the clients (the server takes any size up to its
// default; a client's frames, both ways, must hold a control message), so
// that one upload is several deliveries and another client's steps can
// fall between them.
const chunkBytes = 256

// The node disk, each operation an external step of the run's scheduler.
const scheduledDisk = (scheduler: NetworkScheduler.NetworkScheduler): Disk.Disk["Service"] => {
  const disk = Disk.makeNode()
  const ext = <A, E>(operation: string, path: string, effect: Effect.Effect<A, E>) =>
    scheduler.external(`disk ${operation} ${Path.basename(path)}`, effect)
  const handle = (inner: Disk.Handle): Disk.Handle => ({
    path: inner.path,
    stat: ext("stat", inner.path, inner.stat),
    read: (buffer, position) => ext("read", inner.path, inner.read(buffer, position)),
    write: (buffers, position) => ext("write", inner.path, inner.write(buffers, position)),
    sync: ext("fsync", inner.path, inner.sync),
    truncate: (length) => ext("truncate", inner.path, inner.truncate(length))
  })
  return {
    makeDirectory: (path, options) => ext("mkdir", path, disk.makeDirectory(path, options)),
    removeDirectory: (path) => ext("rmdir", path, disk.removeDirectory(path)),
    realPath: (path) => ext("realpath", path, disk.realPath(path)),
    readDirectory: (path) => ext("readdir", path, disk.readDirectory(path)),
    lstat: (path) => ext("lstat", path, disk.lstat(path)),
    availableBytes: (path) => ext("statfs", path, disk.availableBytes(path)),
    // The open and its close are each a step; the real handle lives in a
    // scope of its own, closed (as a step) with the caller's.
    open: (path, mode, options) =>
      Effect.gen(function*() {
        const inner = yield* Scope.make()
        const opened = yield* ext("open", path, Scope.provide(disk.open(path, mode, options), inner)).pipe(
          Effect.onError(() => Scope.close(inner, Exit.void))
        )
        yield* Effect.addFinalizer(() => ext("close", path, Scope.close(inner, Exit.void)))
        return handle(opened)
      }),
    link: (existingPath, newPath) => ext("link", newPath, disk.link(existingPath, newPath)),
    rename: (oldPath, newPath) => ext("rename", newPath, disk.rename(oldPath, newPath)),
    remove: (path) => ext("unlink", path, disk.remove(path)),
    syncDirectory: (path) => ext("fsync", path, disk.syncDirectory(path))
  }
}

interface Served extends TestTransport.Listener {
  readonly root: string
  readonly directory: string
  readonly disk: Disk.Disk["Service"]
}

const serve = (transport: TestTransport.TestTransport, scheduler: NetworkScheduler.NetworkScheduler) =>
  Effect.gen(function*() {
    const root = yield* tempDirectory
    const disk = scheduledDisk(scheduler)
    const files = yield* serveFiles(transport, { directory: Path.join(root, "received") }, {
      disk,
      // Time moves only when nothing else can happen here: no upload is
      // slow for its own sake.
      handler: { minUploadBytesPerSecond: 0 }
    })
    const served: Served = { ...files.server, root, directory: files.directory, disk }
    return served
  }).pipe(Effect.provideService(References.MinimumLogLevel, "Warn"))

const name = "report.txt"

const Action = Schema.Literals(["upload", "download"])
type Action = typeof Action.Type

interface FilesSession {
  // What this client uploaded (its content each time) and what the
  // operations returned, in order.
  readonly results: Array<
    | { readonly _tag: "Uploaded"; readonly content: string; readonly saved: FilesClient.Uploaded }
    | { readonly _tag: "Downloaded"; readonly content: string }
    | { readonly _tag: "Failed"; readonly action: Action; readonly code: string }
  >
  count: number
}

const codeOf = (error: FilesError.FilesError): string =>
  error.reason._tag === "Rejected" ? error.reason.code : `${error.reason._tag}: ${error.message}`

const act = (session: FilesSession, action: Action, client: Interleavings.ClientContext<Served>) =>
  Effect.gen(function*() {
    const n = ++session.count
    const target: FilesClient.Target<Scope.Scope> = { dial: client.dial, address: client.name }
    const local = Path.join(client.server.root, `${client.name}-${n}`)
    if (action === "upload") {
      // Each upload's own content, over several frames.
      const content = `${client.name} upload ${n}: `.repeat(50)
      Fs.writeFileSync(local, content)
      const result = yield* Effect.result(FilesClient.upload(target, local, { name, chunkBytes, connectRetries: 0 }))
      session.results.push(
        result._tag === "Success"
          ? { _tag: "Uploaded", content, saved: result.success }
          : { _tag: "Failed", action, code: codeOf(result.failure) }
      )
    } else {
      const result = yield* Effect.result(FilesClient.download(target, name, { out: local, connectRetries: 0 }))
      session.results.push(
        result._tag === "Success"
          ? { _tag: "Downloaded", content: Fs.readFileSync(result.success.path, "utf8") }
          : { _tag: "Failed", action, code: codeOf(result.failure) }
      )
    }
  }).pipe(Effect.provideService(Disk.Disk, client.server.disk))

// Every upload landed, each under a name of its own, with its bytes; the
// folder holds exactly those files and nothing staged. Every download got
// a complete upload of that name (the first to land took it) or, before
// any, "not found": never a mix, never a failed check.
const check = (outcome: Interleavings.Outcome<Served, Action, FilesSession>) =>
  Effect.gen(function*() {
    const results = outcome.clients.flatMap((client) => client.session?.results ?? [])
    const uploads = results.flatMap((result) => result._tag === "Uploaded" ? [result] : [])
    for (const result of results) {
      yield* Interleavings.expect(
        result._tag !== "Failed" || (result.action === "download" && result.code === "not-found"),
        `a ${result._tag === "Failed" ? result.action : ""} failed: ${result._tag === "Failed" ? result.code : ""}`
      )
    }
    const saved = uploads.map((upload) => upload.saved.name)
    yield* Interleavings.expect(new Set(saved).size === saved.length, `two uploads saved as one: ${saved.join(", ")}`)
    const directory = outcome.server.directory
    yield* Interleavings.expectEqual(visible(directory), [...saved].sort(), "the folder's files")
    yield* Interleavings.expectEqual(staged(directory), [], "what is staged")
    for (const upload of uploads) {
      const bytes = Fs.readFileSync(Path.join(directory, upload.saved.name))
      yield* Interleavings.expectEqual(bytes.toString("utf8"), upload.content, `${upload.saved.name}'s content`)
      yield* Interleavings.expectEqual(upload.saved.sha256, sha256(bytes), `${upload.saved.name}'s checksum`)
    }
    const underName = uploads.filter((upload) => upload.saved.name === name).map((upload) => upload.content)
    for (const result of results) {
      if (result._tag !== "Downloaded") continue
      yield* Interleavings.expect(underName.includes(result.content), `a download of ${name} got "${result.content}"`)
    }
  })

const spec: Interleavings.Spec<Served, Action, FilesSession> = {
  clients: ["ann", "bob", "cat"],
  action: Action,
  maxActions: 2,
  server: serve,
  connect: () => Effect.succeed<FilesSession>({ results: [], count: 0 }),
  act,
  describe: (action) => `${action} ${name}`,
  check
}

describe("files under interleavings", () => {
  it.effect("concurrent uploads under one name all land, distinct and intact; a concurrent download sees a whole file", () =>
    Effect.asVoid(Interleavings.check(spec, { runs })), { timeout: 120_000 })
})
