/**
 * Helpers for the files app's tests: temporary folders, a files server over
 * any test transport, local files with known content, and what a folder
 * holds.
 */
import * as Client from "@socket-to-me/core/Client"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Faults from "@socket-to-me/testkit/Faults"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import type * as Server from "@socket-to-me/core/Server"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Disk from "../../src/files/Disk.ts"
import type * as FilesClient from "../../src/files/FilesClient.ts"
import type * as FilesError from "../../src/files/FilesError.ts"
import * as FilesServer from "../../src/files/FilesServer.ts"
import * as FileStore from "../../src/files/FileStore.ts"
import * as Protocol from "../../src/files/Protocol.ts"

/** A fresh temporary folder, removed with everything in it when the scope closes. */
export const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "socket-to-me-files-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

export interface FilesTestServer {
  readonly server: TestTransport.TestServer
  readonly store: FileStore.FileStore["Service"]
  readonly target: FilesClient.Target<Scope.Scope>
  /** The served folder. */
  readonly directory: string
}

/** A files server on `transport` saving into `directory`, for the life of the scope. */
export const serveFiles = Effect.fnUntraced(function*(
  transport: TestTransport.TestTransport,
  storeOptions: FileStore.Options,
  options: { readonly handler?: FilesServer.Options; readonly server?: Server.Options; readonly disk?: Disk.Disk["Service"] } = {}
) {
  const disk = options.disk ?? Disk.makeNode()
  const store = yield* Effect.provideService(FileStore.make(storeOptions), Disk.Disk, disk)
  const server = yield* TestTransport.serve(transport, FilesServer.handler(options.handler), options.server).pipe(
    Effect.provideService(FileStore.FileStore, store)
  )
  const served: FilesTestServer = { server, store, target: { dial: server.dial, address: "test" }, directory: store.directory }
  return served
})

export const sha256 = (bytes: Uint8Array): string => Crypto.createHash("sha256").update(bytes).digest("hex")

/** Writes `bytes` to `dir/name` and returns the path. */
export const writeLocal = (dir: string, name: string, bytes: Uint8Array): string => {
  const path = Path.join(dir, name)
  Fs.writeFileSync(path, bytes)
  return path
}

/** The visible entries of a served folder (what a user of the folder sees), sorted. */
export const visible = (dir: string): Array<string> => Fs.readdirSync(dir).filter((name) => !name.startsWith(".")).sort()

/** The staging files of a served folder. */
export const staged = (dir: string): Array<string> => Fs.readdirSync(Path.join(dir, FileStore.stagingFolder)).sort()

/**
 * Flips one bit of the byte at `offset` of everything the socket writes (a
 * bit error in flight, past the length prefixes if `offset` is chosen so).
 */
export const corruptWrittenByte = (offset: number) => (socket: Socket.Socket): Socket.Socket => {
  let written = 0
  const corrupt = (chunk: Uint8Array): Uint8Array => {
    const start = written
    written += chunk.length
    if (offset < start || offset >= written) return chunk
    const copy = Uint8Array.from(chunk)
    copy[offset - start]! ^= 0x01
    return copy
  }
  return Faults.mapSocket(socket, {
    writer: (writer) =>
      Effect.succeed({
        write: (chunk) => Socket.isCloseEvent(chunk) ? writer.write(chunk) : writer.write(corrupt(Bytes.from(chunk))),
        writeAll: (chunks) => writer.writeAll(Arr.map(chunks, (chunk) => corrupt(Bytes.from(chunk))))
      })
  })
}

// A node disk whose writes to files under `.staging` (upload data) go
// through `write`, given the real handle and the file's path; other files
// are left alone.
const stagingWrites = (
  write: (handle: Disk.Handle, path: string, buffers: ReadonlyArray<Uint8Array>, position: number) => Effect.Effect<void, Disk.DiskError>
): Disk.Disk["Service"] => {
  const disk = Disk.makeNode()
  return {
    ...disk,
    open: (path, mode, options) =>
      Effect.map(disk.open(path, mode, options), (handle): Disk.Handle =>
        !path.includes(`${Path.sep}${FileStore.stagingFolder}${Path.sep}`) ? handle : {
          ...handle,
          write: (buffers, position) => write(handle, path, buffers, position)
        })
  }
}

/**
 * A disk whose writes to files under `.staging` fail with `NoSpace` once
 * `afterBytes` bytes were written there (a disk filling up mid-upload).
 * The failed upload's staging file is deleted, which frees the space: the
 * count starts again.
 */
export const fillingDisk = (afterBytes: number): Disk.Disk["Service"] => {
  let written = 0
  return stagingWrites((handle, path, buffers, position) => {
    const total = buffers.reduce((n, buffer) => n + buffer.length, 0)
    if (written + total > afterBytes) {
      written = 0
      return Effect.fail(new Disk.DiskError({ reason: new Disk.NoSpace(), operation: "write", path }))
    }
    written += total
    return handle.write(buffers, position)
  })
}

/**
 * A disk that completes `reached` once `bytes` bytes were written to files
 * under `.staging`: a test can wait for the server to have stored a prefix.
 */
export const signallingDisk = (bytes: number, reached: Deferred.Deferred<void>): Disk.Disk["Service"] => {
  let written = 0
  return stagingWrites((handle, _path, buffers, position) =>
    Effect.tap(handle.write(buffers, position), () => {
      written += buffers.reduce((n, buffer) => n + buffer.length, 0)
      return written >= bytes ? Deferred.succeed(reached, undefined) : Effect.void
    })
  )
}

/** Every path under `root`, relative, sorted (directories included). */
export const walk = (root: string): Array<string> =>
  (Fs.readdirSync(root, { recursive: true }) as Array<string>).sort()

/**
 * Connects, sends `bytes` as they are, and returns the frame payloads the
 * server sends until its first `error` (included) or until it closes. Like
 * a careful client, it reads the answer before it closes its side: a server
 * may close at once on a peer that broke the protocol, discarding replies
 * the peer never waited for.
 */
export const rawExchange = (target: FilesClient.Target<Scope.Scope>, bytes: ReadonlyArray<Uint8Array>) =>
  Effect.scoped(Effect.gen(function*() {
    const duplex = yield* Client.connect(target.dial, { address: target.address })
    const chunks = bytes.filter((chunk) => chunk.length > 0)
    if (Arr.isArrayNonEmpty(chunks)) yield* duplex.write(chunks)
    return yield* Protocol.codec().decode(duplex.input).pipe(
      Stream.takeUntil((payload) => payload[0] === Protocol.controlFrame && isErrorMessage(payload)),
      Stream.runCollect
    )
  }))

const isErrorMessage = (payload: Uint8Array): boolean =>
  Bytes.decode(payload.subarray(1)).startsWith("{\"type\":\"error\"")

/** The wire bytes of frames with the given payloads. */
export const wireFrames = (...payloads: ReadonlyArray<Uint8Array>) =>
  Effect.map(Stream.runCollect(Protocol.codec().encode(Stream.fromIterable(payloads))), Bytes.concat)

/** Decodes server frame payloads into messages (data frames as `Data`). */
export const decodeReplies = (payloads: ReadonlyArray<Uint8Array>) =>
  Effect.forEach(payloads, (payload) => Protocol.decodeServerFrame(payload))

/** One captured log line, with its annotations and the rendering of its cause (empty without one). */
export interface LogLine {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
  readonly cause: string
}

/**
 * A logger that records every line that reaches it instead of printing
 * it: tests assert on what the server logs, at which level, and with which
 * annotations.
 */
export const captureLogs = () => {
  const lines: Array<LogLine> = []
  const logger = Logger.make<unknown, void>(({ cause, fiber, logLevel, message }) => {
    lines.push({
      level: logLevel,
      message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      annotations: { ...fiber.getRef(References.CurrentLogAnnotations) },
      cause: cause.reasons.length > 0 ? Cause.pretty(cause) : ""
    })
  })
  const provide = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(self, Logger.CurrentLoggers, new Set([logger]))
  return { lines, provide }
}

/**
 * Runs `effect` on the real disk with logs from Warn up: the framework logs
 * every connection's end, and these tests assert on exits instead.
 */
export const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Disk.layerNode), Effect.provideService(References.MinimumLogLevel, "Warn"))

/** The server's code for a refusal, or the reason's tag for anything else. */
export const codeOf = (error: FilesError.FilesError): string =>
  error.reason._tag === "Rejected" ? error.reason.code : error.reason._tag
