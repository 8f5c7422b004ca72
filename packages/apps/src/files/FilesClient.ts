/**
 * The files client: upload a local file, download a saved one, list the
 * server's folder, each over one connection.
 *
 * Stage: app, on the dialing side. Both transfers are verified end to end
 * by SHA-256 and resumable:
 *
 * - Upload hashes the file first, offers (name, size, sha256), and sends
 *   from the offset the server answers with; an offer the server is still
 *   receiving on a connection it has not yet seen die is answered `busy`,
 *   and retried with backoff. Success is the server's `saved` reply, after
 *   it has verified, synced and named the file.
 * - Download writes into `<out>.<first 16 hex digits of sha256>.part`,
 *   continues such a file if one exists (it belongs to that exact content),
 *   verifies the whole, and only then gives it the output name (`link`, so
 *   an existing file is never replaced).
 *
 * Progress is reported as `Event`s to a callback; rendering them is the
 * CLI's business.
 *
 * @since 0.1.0
 */
import * as Client from "@socket-to-me/core/Client"
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as Duplex from "@socket-to-me/core/Duplex"
import type * as LengthPrefixedCodec from "@socket-to-me/core/LengthPrefixedCodec"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import * as Disk from "./Disk.ts"
import * as FileName from "./FileName.ts"
import * as FilesConfig from "./FilesConfig.ts"
import * as FilesError from "./FilesError.ts"
import * as Protocol from "./Protocol.ts"

/**
 * Progress of a transfer.
 *
 * - `Hashing`: the local file is being hashed before an upload.
 * - `Resumed`: the transfer continues at `offset` (bytes already there).
 * - `Progress`: `done` of `total` bytes are transferred (counting the resumed part).
 *
 * @since 0.1.0
 * @category models
 */
export type Event =
  | { readonly _tag: "Hashing"; readonly done: number; readonly total: number }
  | { readonly _tag: "Resumed"; readonly offset: number; readonly total: number }
  | { readonly _tag: "Progress"; readonly done: number; readonly total: number }

/**
 * Options shared by every operation.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Called with each progress event. */
  readonly onEvent?: ((event: Event) => Effect.Effect<void>) | undefined
  /** File bytes per data frame. Default `FilesConfig.fileChunkBytes`. */
  readonly chunkBytes?: number | undefined
  /** Retries of an upload answered `busy`. Default `FilesConfig.fileBusyRetries`. */
  readonly busyRetries?: number | undefined
  /** Connect retries (see `Client.connect`). */
  readonly connectRetries?: number | undefined
}

/**
 * Upload options.
 *
 * @since 0.1.0
 * @category models
 */
export interface UploadOptions extends Options {
  /** The name to save under. Default: the local file's base name. */
  readonly name?: string | undefined
}

/**
 * A confirmed upload.
 *
 * @since 0.1.0
 * @category models
 */
export interface Uploaded {
  /** The name the server saved the file under (a numbered variant when the name was taken). */
  readonly name: string
  readonly size: number
  readonly sha256: string
  /** Bytes the server already had (0 for a fresh upload). */
  readonly resumedAt: number
}

/**
 * A verified download.
 *
 * @since 0.1.0
 * @category models
 */
export interface Downloaded {
  readonly name: string
  /** Where it was saved. */
  readonly path: string
  readonly size: number
  readonly sha256: string
  /** Bytes a partial download already had (0 for a fresh download). */
  readonly resumedAt: number
}

/**
 * A file in the server's folder.
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoteFile {
  readonly name: string
  readonly size: number
  readonly sha256: string
  /** ISO 8601 UTC. */
  readonly modifiedAt: string
}

/**
 * How to reach a server: the effect that makes a socket (it connects when
 * opened) and the address to show in messages.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target<R> {
  readonly dial: Effect.Effect<Socket.Socket, ConnectionError.ConnectionError, R>
  readonly address: string
}

// Reading local files to hash them: large pieces, one buffer.
const hashBufferBytes = 1024 * 1024

// File bytes an upload reads and writes at a time (as several data frames).
const sendBatchBytes = 1024 * 1024

const fail = (reason: FilesError.FilesErrorReason) => Effect.fail(FilesError.make(reason))

const localFailure = (path: string) => (error: Disk.DiskError) =>
  FilesError.make(new FilesError.LocalFileFailed({ path, detail: `${error.operation}: ${error.reason.message}` }))

const lost = (address: string) => (error: ConnectionError.ConnectionError | Client.ConnectError) =>
  FilesError.make(
    new FilesError.ConnectionLost({
      detail: error._tag === "ConnectError" ? error.message : `connection to ${address} lost: ${error.message}`
    })
  )

const unexpected = (detail: string) => fail(new FilesError.UnexpectedReply({ detail }))

const noEvents = (_: Event) => Effect.void

interface Session {
  readonly duplex: Duplex.Duplex
  readonly frames: Protocol.FrameReader
  readonly send: (message: Protocol.ClientMessage) => Effect.Effect<void, FilesError.FilesError>
  /** The next frame; the end of input is `undefined`. */
  readonly receive: Effect.Effect<Protocol.Frame<Protocol.ServerMessage> | undefined, FilesError.FilesError>
  /** The next control message; an `error` message fails with `Rejected`, the end of input with `ConnectionLost`. */
  readonly receiveControl: Effect.Effect<Exclude<Protocol.ServerMessage, { readonly type: "error" }>, FilesError.FilesError>
  readonly lost: (error: ConnectionError.ConnectionError) => FilesError.FilesError
}

const rejected = (message: typeof Protocol.ErrorMessage.Type) =>
  FilesError.make(new FilesError.Rejected({ code: message.code, detail: message.message }))

const connect = <R>(target: Target<R>, options: Options) =>
  Effect.gen(function*() {
    const codec = Protocol.partsCodec(options.chunkBytes)
    const duplex = yield* Effect.mapError(
      Client.connect(target.dial, { address: target.address, retries: options.connectRetries }),
      lost(target.address)
    )
    const framePull: Pull.Pull<Arr.NonEmptyReadonlyArray<LengthPrefixedCodec.Parts>, ConnectionError.ConnectionError> = yield* Stream
      .toPull(codec.decode(duplex.input))
    const frames = Protocol.reader(framePull)
    const toLost = lost(target.address)
    // Until a first reply decodes, one that does not is taken as the sign
    // of another kind of server, which is what the user needs to hear
    // (rather than the frame length "HTTP" makes, or the schema the
    // request echoed back fails). Only this session's fiber reads it.
    let answered = false
    const notFiles = FilesError.make(new FilesError.NotFilesServer({ address: target.address }))
    const receive = frames.next.pipe(
      Effect.mapError((error) => !answered && error.reason._tag === "FrameTooLarge" ? notFiles : toLost(error)),
      Effect.flatMap((payload) =>
        payload === undefined
          ? Effect.succeed(undefined)
          : Effect.mapError(
            Protocol.decodeServerFrame(payload),
            (error) => answered ? FilesError.make(new FilesError.UnexpectedReply({ detail: error.message })) : notFiles
          )
      ),
      Effect.tap((frame) =>
        Effect.sync(() => {
          if (frame !== undefined) answered = true
        })
      )
    )
    const receiveControl = Effect.flatMap(receive, (frame) => {
      if (frame === undefined) {
        return fail(new FilesError.ConnectionLost({ detail: `${target.address} closed the connection without a reply` }))
      }
      if (frame._tag === "Data") return unexpected("a data frame where a reply was expected")
      const message = frame.message
      return message.type === "error" ? Effect.fail(rejected(message)) : Effect.succeed(message)
    })
    const send = (message: Protocol.ClientMessage) =>
      Protocol.encodeClient(message).pipe(
        Effect.flatMap((payload) => Stream.runForEachArray(codec.encode(Stream.make([payload] as const)), duplex.write)),
        Effect.mapError(toLost)
      )
    const session: Session = { duplex, frames, send, receive, receiveControl, lost: toLost }
    return session
  })

// Feeds `length` bytes of `handle` from the start into `hash`, reporting progress.
const hashPrefix = Effect.fnUntraced(function*(
  handle: Disk.Handle,
  length: number,
  hash: Crypto.Hash,
  onHashed: (done: number) => Effect.Effect<void>
) {
  const buffer = new Uint8Array(Math.min(hashBufferBytes, Math.max(1, length)))
  let position = 0
  while (position < length) {
    const want = Math.min(buffer.length, length - position)
    const read = yield* Effect.mapError(
      handle.read(want === buffer.length ? buffer : buffer.subarray(0, want), position),
      localFailure(handle.path)
    )
    if (read === 0) {
      return yield* fail(new FilesError.LocalFileFailed({ path: handle.path, detail: "the file shrank while read" }))
    }
    hash.update(buffer.subarray(0, read))
    position += read
    yield* onHashed(position)
  }
})

// Fills `buffer` from `position`; a file that ends early changed under us.
const readFully = Effect.fnUntraced(function*(handle: Disk.Handle, buffer: Uint8Array, position: number) {
  let filled = 0
  while (filled < buffer.length) {
    const read = yield* Effect.mapError(handle.read(buffer.subarray(filled), position + filled), localFailure(handle.path))
    if (read === 0) {
      return yield* fail(new FilesError.LocalFileFailed({ path: handle.path, detail: "the file shrank while sent" }))
    }
    filled += read
  }
})

const isRejected = (code: string) => (error: FilesError.FilesError) =>
  error.reason._tag === "Rejected" && error.reason.code === code

/**
 * Uploads the file at `path` and returns what the server saved.
 *
 * Fails with `Rejected` when the server declines (its code says why),
 * `ConnectionLost` when the connection fails (send again to resume),
 * `LocalFileFailed`, or `InvalidName` when the name would be refused.
 *
 * @since 0.1.0
 * @category operations
 */
export const upload: <R>(
  target: Target<R>,
  path: string,
  options?: UploadOptions
) => Effect.Effect<Uploaded, FilesError.FilesError, Disk.Disk | Exclude<R, Scope.Scope>> = Effect.fn("FilesClient.upload")(
  function*<R>(target: Target<R>, path: string, options: UploadOptions = {}) {
    const disk = yield* Disk.Disk
    const onEvent = options.onEvent ?? noEvents
    const chunkBytes = options.chunkBytes ?? FilesConfig.fileChunkBytes
    const name = options.name ?? Path.basename(path)
    const valid = FileName.validate(name)
    if (Result.isFailure(valid)) {
      return yield* fail(new FilesError.InvalidName({ name, detail: `${valid.failure}; choose another with --as` }))
    }
    const file = yield* Effect.mapError(disk.open(path, "read", { followSymlinks: true }), localFailure(path))
    const stat = yield* Effect.mapError(file.stat, localFailure(path))
    if (stat.type !== "file") {
      return yield* fail(new FilesError.LocalFileFailed({ path, detail: "not a regular file" }))
    }
    const size = stat.size
    const hash = Crypto.createHash("sha256")
    yield* onEvent({ _tag: "Hashing", done: 0, total: size })
    yield* hashPrefix(file, size, hash, (done) => onEvent({ _tag: "Hashing", done, total: size }))
    const sha256 = hash.digest("hex")

    // Where the last attempt started; a checksum mismatch after a resume
    // may come from a damaged staged prefix, which the server has deleted,
    // so one fresh attempt is worth it.
    let lastOffset = 0
    const attempt = Effect.scoped(Effect.gen(function*() {
      const session = yield* connect(target, options)
      yield* session.send({ type: "upload", name, size, sha256 })
      const reply = yield* session.receiveControl
      if (reply.type !== "accept") return yield* unexpected(`"${reply.type}" in answer to "upload"`)
      const offset = reply.offset
      if (offset > size) return yield* unexpected(`accept offset ${offset} is past the end (${size} bytes)`)
      lastOffset = offset
      if (offset > 0) yield* onEvent({ _tag: "Resumed", offset, total: size })
      yield* onEvent({ _tag: "Progress", done: offset, total: size })

      // A batch of frames per disk read and socket write: few calls, and
      // the socket's buffer sees a large write it can drain while the next
      // batch is read.
      const batchFrames = Math.max(1, Math.floor(sendBatchBytes / chunkBytes))
      const sendData = Effect.gen(function*() {
        let position = offset
        while (position < size) {
          // A fresh buffer per batch: the socket may still hold the last
          // one. Not zeroed: the read fills it entirely.
          const length = Math.min(batchFrames * chunkBytes, size - position)
          const buffer = Buffer.allocUnsafe(length)
          yield* readFully(file, buffer, position)
          const first = Math.min(length, chunkBytes)
          const wire: Arr.NonEmptyArray<Uint8Array> = [Protocol.dataFrameHeader(first), buffer.subarray(0, first)]
          for (let at = first; at < length; at += chunkBytes) {
            const end = Math.min(length, at + chunkBytes)
            wire.push(Protocol.dataFrameHeader(end - at), buffer.subarray(at, end))
          }
          yield* session.duplex.write(wire)
          position += length
          yield* onEvent({ _tag: "Progress", done: position, total: size })
        }
      }).pipe(
        // A failed write usually means the server replied and closed (an
        // error we want to read) or the connection died (which the read
        // side reports too): the reply decides, within a bound.
        Effect.catchTag(
          "ConnectionError",
          (error) => Effect.andThen(Effect.sleep(FilesConfig.errorLinger), Effect.fail(session.lost(error)))
        )
      )
      const outcome = yield* Effect.raceFirst(Effect.andThen(sendData, Effect.never), session.receiveControl)
      if (outcome.type !== "saved") return yield* unexpected(`"${outcome.type}" at the end of an upload`)
      if (outcome.sha256 !== sha256 || outcome.size !== size) {
        return yield* unexpected(`the server saved ${outcome.size} bytes with sha256 ${outcome.sha256}`)
      }
      return { name: outcome.name, size, sha256, resumedAt: offset } satisfies Uploaded
    }))

    return yield* attempt.pipe(
      Effect.retry({
        while: isRejected("busy"),
        times: options.busyRetries ?? FilesConfig.fileBusyRetries,
        schedule: Schedule.exponential("100 millis")
      }),
      Effect.retry({
        while: (error) => isRejected("checksum-mismatch")(error) && lastOffset > 0,
        times: 1
      })
    )
  },
  Effect.scoped
)

/**
 * Download options.
 *
 * @since 0.1.0
 * @category models
 */
export interface DownloadOptions extends Options {
  /** Where to save. Default: `name` in the current directory. */
  readonly out?: string | undefined
}

/**
 * The partial file a download of content `sha256` to `out` goes through.
 *
 * @since 0.1.0
 * @category operations
 */
export const partialPath = (out: string, sha256: string): string => `${out}.${sha256.slice(0, 16)}.part`

/**
 * Downloads `name` and returns where it was saved, after verifying it.
 * An existing output file is never replaced (`LocalFileFailed`).
 *
 * @since 0.1.0
 * @category operations
 */
export const download: <R>(
  target: Target<R>,
  name: string,
  options?: DownloadOptions
) => Effect.Effect<Downloaded, FilesError.FilesError, Disk.Disk | Exclude<R, Scope.Scope>> = Effect.fn(
  "FilesClient.download"
)(
  function*<R>(target: Target<R>, name: string, options: DownloadOptions = {}) {
    const disk = yield* Disk.Disk
    const onEvent = options.onEvent ?? noEvents
    const valid = FileName.validate(name, Number.MAX_SAFE_INTEGER)
    if (Result.isFailure(valid)) return yield* fail(new FilesError.InvalidName({ name, detail: valid.failure }))
    const out = options.out ?? name
    const exists = yield* Effect.result(disk.lstat(out))
    if (Result.isSuccess(exists)) {
      return yield* fail(new FilesError.LocalFileFailed({ path: out, detail: "already exists; remove it or choose --out" }))
    }

    const session = yield* connect(target, options)
    yield* session.send({ type: "download", name })
    const info = yield* session.receiveControl
    if (info.type !== "file") return yield* unexpected(`"${info.type}" in answer to "download"`)
    const { sha256, size } = info

    const partial = partialPath(out, sha256)
    const handle = yield* Effect.mapError(disk.open(partial, "write"), localFailure(partial))
    let position = (yield* Effect.mapError(handle.stat, localFailure(partial))).size
    if (position > size) {
      yield* Effect.mapError(handle.truncate(0), localFailure(partial))
      position = 0
    }
    const offset = position
    const hash = Crypto.createHash("sha256")
    yield* hashPrefix(handle, offset, hash, () => Effect.void)
    if (offset > 0) yield* onEvent({ _tag: "Resumed", offset, total: size })
    yield* session.send({ type: "start", offset })
    yield* onEvent({ _tag: "Progress", done: offset, total: size })

    yield* Protocol.receiveData({
      frames: session.frames,
      bytes: size - offset,
      write: (bodies, length) =>
        Effect.gen(function*() {
          if (position + length > size) return yield* unexpected(`more than the announced ${size} bytes`)
          yield* Effect.mapError(handle.write(bodies, position), localFailure(partial))
          for (let i = 0; i < bodies.length; i++) hash.update(bodies[i]!)
          position += length
          yield* onEvent({ _tag: "Progress", done: position, total: size })
        }),
      onControl: (payload) =>
        Protocol.decodeServerFrame(payload).pipe(
          Effect.mapError((error) => FilesError.make(new FilesError.UnexpectedReply({ detail: error.message }))),
          Effect.flatMap((frame) =>
            frame._tag === "Control" && frame.message.type === "error"
              ? Effect.fail(rejected(frame.message))
              : unexpected("a control message in the middle of the file's bytes")
          )
        ),
      onEnd: (received) =>
        fail(
          new FilesError.ConnectionLost({
            detail: `${target.address} closed the connection after ${offset + received} of ${size} bytes; run again to resume`
          })
        )
    }).pipe(Effect.catchTag("ConnectionError", (error) => Effect.fail(session.lost(error))))

    const actual = hash.digest("hex")
    if (actual !== sha256) {
      yield* Effect.ignore(disk.remove(partial))
      return yield* fail(new FilesError.VerifyFailed({ name, expected: sha256, actual }))
    }
    yield* Effect.mapError(handle.sync, localFailure(partial))
    yield* disk.link(partial, out).pipe(
      Effect.catchReason(
        "DiskError",
        "AlreadyExists",
        () => fail(new FilesError.LocalFileFailed({ path: out, detail: `already exists; the verified download is kept in ${partial}` }))
      ),
      Effect.mapError((error) => error instanceof Disk.DiskError ? localFailure(out)(error) : error)
    )
    yield* Effect.ignore(disk.remove(partial))
    return { name, path: out, size, sha256, resumedAt: offset } satisfies Downloaded
  },
  Effect.scoped
)

/**
 * The server's files, streamed as the server lists them.
 *
 * @since 0.1.0
 * @category operations
 */
export const list = <R>(
  target: Target<R>,
  options: Options = {}
): Stream.Stream<RemoteFile, FilesError.FilesError, Exclude<R, Scope.Scope>> =>
  Stream.unwrap(Effect.gen(function*() {
    const session = yield* connect(target, options)
    yield* session.send({ type: "list" })
    let ended = false
    const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<RemoteFile>, FilesError.FilesError> = Effect.suspend(() =>
      ended ? Cause.done() : Effect.flatMap(session.receiveControl, (message): Pull.Pull<
        Arr.NonEmptyReadonlyArray<RemoteFile>,
        FilesError.FilesError
      > => {
        switch (message.type) {
          case "entry":
            return Effect.succeed(Arr.of({
              name: message.name,
              size: message.size,
              sha256: message.sha256,
              modifiedAt: message.modifiedAt
            }))
          case "end":
            ended = true
            return Cause.done()
          default:
            return unexpected(`"${message.type}" in a listing`)
        }
      })
    )
    return Stream.fromPull(Effect.succeed(pull))
  }))
