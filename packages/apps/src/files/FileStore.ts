/**
 * The folder the files server saves into, and the rules that keep it
 * clean: a file appears in it complete and verified, or not at all.
 *
 * Stage: app state (mini-redis's `db`). Layout of the folder:
 *
 * - `<dir>/<name>`: saved files, each a complete upload whose size and
 *   sha256 were checked before it got its name.
 * - `<dir>/.staging/<key>.part`: uploads in progress, one per offered
 *   (name, size, sha256), keyed by a hash of the three so that the same
 *   offer finds its bytes again after a dropped connection (resume).
 *   Deleted when the upload fails for a reason other than the connection
 *   or its rate (checksum mismatch, disk full, protocol violation), when it
 *   ends before its first byte (empty), when untouched for `stagingExpiry`,
 *   and, the least recently written first, when a new upload needs room
 *   beyond `maxStagingEntries`. A sweep at startup and every
 *   `stagingSweepInterval` deletes the expired ones, and empty ones and
 *   anything else in the folder once untouched for `stagingLeftoverExpiry`.
 * - `<dir>/.meta/<name>`: the sha256 of a saved file with the size, mtime
 *   and inode it was computed for (JSON), so listing does not rehash; a file
 *   whose metadata is missing or stale is hashed once and the record
 *   rewritten. The record has the file's own name, so it fits wherever the
 *   file does.
 *
 * Saving is: check size and sha256, `fsync` the staging file, `link` it
 * under the first free name among `name`, `name (1)`, ... (`link` fails
 * rather than replace, so concurrent savers can never take the same name
 * nor overwrite a file), unlink the staging name, `fsync` the folder.
 *
 * Every path the store touches is the folder joined with a name that passed
 * `FileName.validate` (or one of its own fixed names), every open refuses
 * symlinks, and the hidden subfolders are checked to be real directories,
 * so nothing is read or written outside the folder.
 *
 * @since 0.1.0
 */
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Pull from "effect/Pull"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Semaphore from "effect/Semaphore"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import * as Disk from "./Disk.ts"
import * as FileName from "./FileName.ts"
import * as FilesConfig from "./FilesConfig.ts"
import * as FilesError from "./FilesError.ts"

/**
 * Store options; every limit defaults to its `FilesConfig` value.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The folder; created if missing. */
  readonly directory: string
  /** Largest accepted file. Default `FilesConfig.maxFileBytes`. */
  readonly maxFileBytes?: number | undefined
  /** Longest accepted name in UTF-8 bytes. Default `FilesConfig.maxFileNameBytes`. */
  readonly maxNameBytes?: number | undefined
  /** Numbered variants tried for a taken name. Default `FilesConfig.maxFileNameCopies`. */
  readonly maxNameCopies?: number | undefined
  /** Free space an upload must leave. Default `FilesConfig.minFreeDiskBytes`. */
  readonly minFreeBytes?: number | undefined
  /** Uploads received at once. Default `FilesConfig.maxPendingUploads`. */
  readonly maxPendingUploads?: number | undefined
  /** Uploads received at once from one peer. Default `FilesConfig.maxPendingUploadsPerPeer`. */
  readonly maxPendingUploadsPerPeer?: number | undefined
  /** Staging files kept. Default `FilesConfig.maxStagingEntries`. */
  readonly maxStagingEntries?: number | undefined
  /** Staging files untouched this long are deleted. Default `FilesConfig.stagingExpiry`. */
  readonly stagingExpiry?: Duration.Input | undefined
  /** Empty staging files and foreign entries untouched this long are deleted. Default `FilesConfig.stagingLeftoverExpiry`. */
  readonly leftoverExpiry?: Duration.Input | undefined
  /** How often the staging folder is swept. Default `FilesConfig.stagingSweepInterval`. */
  readonly sweepInterval?: Duration.Input | undefined
  /** Bytes per chunk of a download. Default `FilesConfig.fileChunkBytes`. */
  readonly chunkBytes?: number | undefined
}

/**
 * A saved file as listed and announced.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileInfo {
  readonly name: string
  readonly size: number
  readonly sha256: string
  /** Modification time, epoch milliseconds. */
  readonly modifiedAt: number
}

/**
 * What a client offers to upload.
 *
 * @since 0.1.0
 * @category models
 */
export interface Offer {
  readonly name: string
  readonly size: number
  readonly sha256: string
}

/**
 * Who offers an upload.
 *
 * @since 0.1.0
 * @category models
 */
export interface Uploader {
  /**
   * The peer's address without its port (see `peerOf`): uploads from one
   * address are capped at `maxPendingUploadsPerPeer`. Without it, the upload
   * counts only against `maxPendingUploads`.
   */
  readonly peer?: string | undefined
}

/**
 * An accepted upload, alive for the scope it was begun in (which holds its
 * staging file open and its offer locked). Used by one fiber.
 *
 * @since 0.1.0
 * @category models
 */
export interface Upload {
  /** Where the client must start sending: the bytes the store already holds. */
  readonly offset: number
  /** Bytes held so far (`offset` plus what was written since). */
  readonly received: () => number
  /** Appends file bytes. More than the offered size fails with `SizeMismatch`. */
  readonly write: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, FilesError.FilesError>
  /** Verifies, saves under a free name and reports it. Call once all bytes were written. */
  readonly complete: Effect.Effect<FileInfo, FilesError.FilesError>
  /** Deletes the staging file: the upload cannot be resumed. */
  readonly discard: Effect.Effect<void>
}

/**
 * A saved file opened for reading, for the scope it was opened in.
 *
 * @since 0.1.0
 * @category models
 */
export interface Download {
  readonly info: FileInfo
  /** The file's bytes from `offset` to its end. */
  readonly read: (offset: number) => Stream.Stream<Uint8Array, FilesError.FilesError>
}

/**
 * The store.
 *
 * @since 0.1.0
 * @category services
 */
export class FileStore extends Context.Service<FileStore, {
  /** The folder, as an absolute canonical path. */
  readonly directory: string
  /**
   * Checks an offer, takes one of the upload slots, reserves its space and
   * opens (or reopens) its staging file, for the life of the scope.
   */
  readonly upload: (offer: Offer, uploader?: Uploader) => Effect.Effect<Upload, FilesError.FilesError, Scope.Scope>
  /** Opens a saved file. */
  readonly download: (name: string) => Effect.Effect<Download, FilesError.FilesError, Scope.Scope>
  /** Every saved file, by name. */
  readonly list: Stream.Stream<FileInfo, FilesError.FilesError>
  /** Sweeps the staging folder now (expired, empty and foreign entries); returns how many were deleted. */
  readonly sweep: Effect.Effect<number, FilesError.FilesError>
}>()("@socket-to-me/apps/files/FileStore") {}

/**
 * Name of the subfolder holding uploads in progress.
 *
 * @since 0.1.0
 * @category layout
 */
export const stagingFolder = ".staging"

/**
 * Name of the subfolder holding cached checksums.
 *
 * @since 0.1.0
 * @category layout
 */
export const metaFolder = ".meta"

// Reading to hash in large pieces: fewer calls, same memory for any size.
const hashBufferBytes = 1024 * 1024

// A metadata record is about 150 bytes; anything longer is not ours.
const maxMetaBytes = 4096

const stagingSuffix = ".part"

// What the store names a staging file: its key (64 hex digits) and suffix.
const stagingName = /^[0-9a-f]{64}\.part$/

/**
 * The address uploads are counted by: a peer's `host:port` (or
 * `[v6]:port`) without its port, so that one machine's connections count
 * together whatever their source ports.
 *
 * @since 0.1.0
 * @category models
 */
export const peerOf = (remoteAddress: string): string => SocketAddresses.host(remoteAddress) ?? remoteAddress

const MetaRecord = Schema.Struct({
  size: Schema.Number,
  sha256: Schema.String,
  mtimeMs: Schema.Number,
  ino: Schema.Number
})
const decodeMeta = Schema.decodeUnknownEffect(Schema.fromJsonString(MetaRecord))
const encodeMeta = Schema.encodeEffect(Schema.fromJsonString(MetaRecord))

// Uploads in progress: how many, and how many from each peer address.
interface Pending {
  readonly total: number
  readonly byPeer: ReadonlyMap<string, number>
}

const fail = (reason: FilesError.FilesErrorReason) => Effect.fail(FilesError.make(reason))

// Clients see the operation and the reason; the path is kept for the log.
const fromDisk = (error: Disk.DiskError): FilesError.FilesError =>
  FilesError.make(
    error.reason._tag === "NoSpace"
      ? new FilesError.DiskFull({ detail: `${error.operation}: ${error.reason.message}`, path: error.path })
      : new FilesError.StorageFailed({ detail: `${error.operation}: ${error.reason.message}`, path: error.path })
  )

// A failure logged as one line with its reason (and path: the log is the
// operator's); a defect keeps its whole cause, stack included, being a bug.
const logWarning = (message: string) => (cause: Cause.Cause<unknown>) => {
  const error = Cause.findErrorOption(cause)
  if (Option.isNone(error) || Cause.hasDies(cause)) return Effect.logWarning(message, cause)
  const failure = error.value
  const reason = failure instanceof FilesError.FilesError ? failure.reason : undefined
  return Effect.logWarning(message).pipe(Effect.annotateLogs({
    reason: failure instanceof Error ? failure.message : String(failure),
    ...(reason !== undefined && FilesError.isStorageFailure(reason) ? { path: reason.path } : {})
  }))
}

/**
 * The staging key of an offer: a hash of its name, size and sha256, so the
 * same offer always maps to the same staging file and different offers never
 * share one.
 *
 * @since 0.1.0
 * @category layout
 */
export const stagingKey = (offer: Offer): string =>
  Crypto.createHash("sha256").update(JSON.stringify([offer.name, offer.size, offer.sha256])).digest("hex")

const millisOf = (duration: Duration.Input): number => Duration.toMillis(Duration.fromInputUnsafe(duration))

/**
 * Opens the store on `options.directory` (creating it and its hidden
 * subfolders), sweeps its staging folder, and starts the sweeper that
 * sweeps it again every `sweepInterval` for the life of the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<FileStore["Service"], FilesError.FilesError, Disk.Disk | Scope.Scope> =>
  Effect.map(open(options), (opened) => opened.store)

/**
 * Opens the store like `make` and runs `use` with it. If `use` fails, what
 * opening the store created is removed again, if it is still empty: the
 * folder when it did not exist, with its hidden subfolders and the parent
 * folders made for it. A server that opens its store and then cannot
 * listen (its port is taken) so leaves no folder behind.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeThen = <A, E, R>(
  options: Options,
  use: (store: FileStore["Service"]) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | FilesError.FilesError, R | Disk.Disk | Scope.Scope> =>
  Effect.flatMap(open(options), ({ created, store }) =>
    Effect.onError(use(store), () =>
      created === undefined ? Effect.void : Effect.flatMap(Disk.Disk, (disk) => removeCreated(disk, options.directory, created))))

// Removes `directory`'s hidden subfolders, then `directory` and its
// parents up to `created` (the outermost folder `mkdir -p` made), each only
// if empty: `rmdir` refuses anything else.
const removeCreated = (disk: Disk.Disk["Service"], directory: string, created: string) =>
  Effect.gen(function*() {
    const target = Path.resolve(directory)
    const outermost = Path.resolve(created)
    if (target !== outermost && !target.startsWith(outermost + Path.sep)) return
    yield* disk.removeDirectory(Path.join(target, stagingFolder))
    yield* disk.removeDirectory(Path.join(target, metaFolder))
    for (let folder = target; ; folder = Path.dirname(folder)) {
      yield* disk.removeDirectory(folder)
      if (folder === outermost || Path.dirname(folder) === folder) break
    }
  }).pipe(Effect.catchCause(logWarning("cannot remove the folder made for the store")))

const open = Effect.fnUntraced(function*(
  options: Options
): Effect.fn.Return<
  { readonly store: FileStore["Service"]; readonly created: string | undefined },
  FilesError.FilesError,
  Disk.Disk | Scope.Scope
> {
  const disk = yield* Disk.Disk
  const maxFileBytes = options.maxFileBytes ?? FilesConfig.maxFileBytes
  const maxNameBytes = options.maxNameBytes ?? FilesConfig.maxFileNameBytes
  const maxNameCopies = options.maxNameCopies ?? FilesConfig.maxFileNameCopies
  const minFreeBytes = options.minFreeBytes ?? FilesConfig.minFreeDiskBytes
  const maxPending = options.maxPendingUploads ?? FilesConfig.maxPendingUploads
  const maxPendingPerPeer = options.maxPendingUploadsPerPeer ?? FilesConfig.maxPendingUploadsPerPeer
  const maxStaged = options.maxStagingEntries ?? FilesConfig.maxStagingEntries
  const expiryMillis = millisOf(options.stagingExpiry ?? FilesConfig.stagingExpiry)
  const leftoverMillis = millisOf(options.leftoverExpiry ?? FilesConfig.stagingLeftoverExpiry)
  const chunkBytes = options.chunkBytes ?? FilesConfig.fileChunkBytes

  // The folder is the operator's choice, so a link to it is fine; inside
  // it, the store's own subfolders must be real directories.
  const created = yield* Effect.mapError(disk.makeDirectory(options.directory), fromDisk)
  const directory = yield* Effect.mapError(disk.realPath(options.directory), fromDisk)
  const stagingDirectory = Path.join(directory, stagingFolder)
  const metaDirectory = Path.join(directory, metaFolder)

  // The folder may be removed while the server runs. It is not re-created
  // behind the operator's back: it may be a volume that is not mounted, and
  // uploads would then fill the disk beneath it. Every request that finds
  // it missing is told so, and the server serves again as soon as it is back.
  const folderMissing = fail(
    new FilesError.StorageFailed({ detail: "the server's folder is missing", path: directory })
  )
  const folderIsMissing = disk.lstat(directory).pipe(
    Effect.as(false),
    Effect.catchReason("DiskError", "NotFound", () => Effect.succeed(true)),
    Effect.orElseSucceed(() => false)
  )
  // A failure of `effect` becomes "missing" when the folder is.
  const orFolderMissing = <A, R>(effect: Effect.Effect<A, FilesError.FilesError, R>) =>
    Effect.catch(effect, (error) => Effect.flatMap(folderIsMissing, (missing) => missing ? folderMissing : Effect.fail(error)))

  // A subfolder of the store, made again if it was removed (it is ours,
  // and only a plain `mkdir`: it never re-creates the folder above it).
  const ensureSubfolder = (sub: string) =>
    Effect.gen(function*() {
      yield* disk.makeDirectory(sub, { parents: false }).pipe(
        Effect.catchReason("DiskError", "AlreadyExists", () => Effect.void),
        Effect.catchReason("DiskError", "NotFound", () => folderMissing),
        Effect.mapError((error) => error instanceof Disk.DiskError ? fromDisk(error) : error)
      )
      const stat = yield* Effect.mapError(disk.lstat(sub), fromDisk)
      if (stat.type !== "directory") {
        return yield* fail(
          new FilesError.StorageFailed({
            detail: `${Path.basename(sub)} is not a directory (symlinks are not followed)`,
            path: sub
          })
        )
      }
    })
  yield* ensureSubfolder(stagingDirectory)
  yield* ensureSubfolder(metaDirectory)

  // Offers being received, by staging key: one connection per offer.
  const locks = yield* Ref.make<ReadonlySet<string>>(new Set())
  // Bytes promised to uploads in progress and not yet written.
  const reserved = yield* Ref.make(0)
  // Uploads in progress, in all and by peer address.
  const pending = yield* Ref.make<Pending>({ total: 0, byPeer: new Map() })
  // Held while a new staging file is counted for and created, so that
  // concurrent offers cannot together pass `maxStagingEntries`.
  const stagingGate = yield* Semaphore.make(1)

  const tryLock = (key: string) =>
    Ref.modify(locks, (held) => held.has(key) ? [false, held] : [true, new Set(held).add(key)])
  const unlock = (key: string) =>
    Ref.update(locks, (held) => {
      const next = new Set(held)
      next.delete(key)
      return next
    })

  // One of the upload slots, until the scope closes; taken before anything
  // is reserved or created, so a refused offer costs nothing.
  const takeSlot = (peer: string | undefined) =>
    Effect.acquireRelease(
      Effect.flatMap(
        Ref.modify(pending, (held): [FilesError.TooManyUploads | undefined, Pending] => {
          if (held.total >= maxPending) return [new FilesError.TooManyUploads({ limit: "server", max: maxPending }), held]
          if (peer === undefined) return [undefined, { total: held.total + 1, byPeer: held.byPeer }]
          const mine = held.byPeer.get(peer) ?? 0
          if (mine >= maxPendingPerPeer) {
            return [new FilesError.TooManyUploads({ limit: "peer", max: maxPendingPerPeer, peer }), held]
          }
          return [undefined, { total: held.total + 1, byPeer: new Map(held.byPeer).set(peer, mine + 1) }]
        }),
        (refused) => refused === undefined ? Effect.void : fail(refused)
      ),
      () =>
        Ref.update(pending, (held) => {
          if (peer === undefined) return { total: held.total - 1, byPeer: held.byPeer }
          const byPeer = new Map(held.byPeer)
          const mine = (byPeer.get(peer) ?? 1) - 1
          if (mine > 0) byPeer.set(peer, mine)
          else byPeer.delete(peer)
          return { total: held.total - 1, byPeer }
        })
    )

  const stagingPath = (key: string) => Path.join(stagingDirectory, key + stagingSuffix)
  const metaPath = (name: string) => Path.join(metaDirectory, name)

  // Feeds `length` bytes of `handle` from the start into `hash`.
  const hashInto = Effect.fnUntraced(function*(handle: Disk.Handle, length: number, hash: Crypto.Hash) {
    const buffer = new Uint8Array(Math.min(hashBufferBytes, Math.max(1, length)))
    let position = 0
    while (position < length) {
      const want = Math.min(buffer.length, length - position)
      const read = yield* handle.read(want === buffer.length ? buffer : buffer.subarray(0, want), position)
      if (read === 0) {
        return yield* fail(new FilesError.StorageFailed({ detail: `${Path.basename(handle.path)} shrank while read` }))
      }
      hash.update(buffer.subarray(0, read))
      position += read
    }
  }, Effect.catchTag("DiskError", (error) => Effect.fail(fromDisk(error))))

  const readMeta = (name: string) =>
    Effect.scoped(Effect.gen(function*() {
      const handle = yield* disk.open(metaPath(name), "read")
      const buffer = new Uint8Array(maxMetaBytes)
      const length = yield* handle.read(buffer, 0)
      return yield* decodeMeta(new TextDecoder().decode(buffer.subarray(0, length)))
    })).pipe(Effect.option)

  // A cache: failing to write it only costs a rehash later.
  const writeMeta = (name: string, record: typeof MetaRecord.Type) =>
    Effect.gen(function*() {
      const json = yield* encodeMeta(record)
      yield* ensureSubfolder(metaDirectory)
      const temporary = Path.join(metaDirectory, `.tmp-${Crypto.randomUUID()}`)
      yield* Effect.scoped(Effect.flatMap(
        disk.open(temporary, "create"),
        (handle) => handle.write([new TextEncoder().encode(json)], 0)
      ))
      yield* Effect.onError(disk.rename(temporary, metaPath(name)), () => Effect.ignore(disk.remove(temporary)))
    }).pipe(
      Effect.catchCause(logWarning(`cannot write checksum cache of ${JSON.stringify(name)}`))
    )

  const infoOf = Effect.fnUntraced(function*(name: string, handle: Disk.Handle, stat: Disk.Stat) {
    const cached = yield* readMeta(name)
    if (
      Option.isSome(cached) && cached.value.size === stat.size && cached.value.mtimeMs === stat.mtimeMs &&
      cached.value.ino === stat.ino
    ) {
      return { name, size: stat.size, sha256: cached.value.sha256, modifiedAt: stat.mtimeMs }
    }
    const hash = Crypto.createHash("sha256")
    yield* hashInto(handle, stat.size, hash)
    const sha256 = hash.digest("hex")
    yield* writeMeta(name, { size: stat.size, sha256, mtimeMs: stat.mtimeMs, ino: stat.ino })
    return { name, size: stat.size, sha256, modifiedAt: stat.mtimeMs }
  })

  // Takes the first free name among `name`, `name (1)`, ...: `link` makes
  // the staging file visible under it only if nothing has that name.
  const claimName = Effect.fnUntraced(function*(name: string, from: string) {
    for (let n = 0; n <= maxNameCopies; n++) {
      const candidate = FileName.numbered(name, n, maxNameBytes)
      const linked = yield* Effect.result(disk.link(from, Path.join(directory, candidate)))
      if (Result.isSuccess(linked)) return candidate
      if (linked.failure.reason._tag !== "AlreadyExists") return yield* Effect.fail(fromDisk(linked.failure))
    }
    return yield* fail(new FilesError.NoFreeName({ name, tried: maxNameCopies + 1 }))
  })

  // Reserves `needed` bytes of free space for an upload until the scope
  // closes; what the upload writes is released as it is written.
  const reserve = Effect.fnUntraced(function*(needed: number) {
    const available = yield* Effect.mapError(disk.availableBytes(stagingDirectory), fromDisk)
    const granted = yield* Ref.modify(reserved, (promised) =>
      available - promised - needed >= minFreeBytes
        ? [{ ok: true, left: 0 }, promised + needed]
        : [{ ok: false, left: Math.max(0, available - promised - minFreeBytes) }, promised])
    if (!granted.ok) return yield* fail(new FilesError.InsufficientSpace({ needed, available: granted.left }))
    // Used by the one fiber receiving the upload.
    let outstanding = needed
    yield* Effect.addFinalizer(() => Effect.suspend(() => Ref.update(reserved, (promised) => promised - outstanding)))
    return (written: number) =>
      Effect.suspend(() => {
        const released = Math.min(written, outstanding)
        outstanding -= released
        return Ref.update(reserved, (promised) => promised - released)
      })
  })

  // Makes room for one more staging file: at the cap, deletes the least
  // recently written ones that no upload is using. Run under `stagingGate`.
  const makeRoom = Effect.gen(function*() {
    const names = (yield* disk.readDirectory(stagingDirectory)).filter((file) => stagingName.test(file))
    let excess = names.length + 1 - maxStaged
    if (excess <= 0) return
    const entries: Array<{ readonly key: string; readonly mtimeMs: number }> = []
    for (const file of names) {
      const stat = yield* disk.lstat(Path.join(stagingDirectory, file)).pipe(
        Effect.map(Option.some),
        Effect.catchReason("DiskError", "NotFound", () => Effect.succeedNone)
      )
      if (Option.isNone(stat)) excess--
      else entries.push({ key: file.slice(0, -stagingSuffix.length), mtimeMs: stat.value.mtimeMs })
    }
    entries.sort((a, b) => a.mtimeMs - b.mtimeMs)
    for (const entry of entries) {
      if (excess <= 0) break
      if (!(yield* tryLock(entry.key))) continue
      yield* Effect.ensuring(disk.remove(stagingPath(entry.key)), unlock(entry.key))
      yield* Effect.logInfo("deleted the least recently written partial upload to make room").pipe(
        Effect.annotateLogs({ staging: entry.key, maxStagingEntries: maxStaged })
      )
      excess--
    }
    if (excess > 0) return yield* fail(new FilesError.TooManyUploads({ limit: "staging", max: maxStaged }))
  }).pipe(Effect.catchTag("DiskError", (error) => Effect.fail(fromDisk(error))))

  const upload = Effect.fn("FileStore.upload")(function*(offer: Offer, uploader: Uploader = {}) {
    const name = FileName.validate(offer.name, maxNameBytes)
    if (Result.isFailure(name)) return yield* fail(new FilesError.InvalidName({ name: offer.name, detail: name.failure }))
    if (offer.size > maxFileBytes) return yield* fail(new FilesError.TooLarge({ size: offer.size, limit: maxFileBytes }))
    yield* takeSlot(uploader.peer)
    const key = stagingKey(offer)
    yield* Effect.acquireRelease(
      Effect.flatMap(tryLock(key), (locked) =>
        locked
          ? Effect.void
          : fail(new FilesError.Busy({ detail: "this file is being received on another connection; retry shortly" }))),
      () => unlock(key)
    )
    yield* ensureSubfolder(stagingDirectory)
    const path = stagingPath(key)
    // What is already staged (`undefined`: nothing) decides where the
    // client starts; space is checked for the rest before anything is
    // created.
    const existing = yield* disk.lstat(path).pipe(
      Effect.map((stat) => stat.type === "file" && stat.size <= offer.size ? stat.size : -1),
      Effect.catchReason("DiskError", "NotFound", () => Effect.succeed(undefined)),
      Effect.mapError(fromDisk)
    )
    if (existing !== undefined && existing < 0) {
      // Longer than the file it stands for (not a prefix of it), or not a
      // file at all: start over.
      yield* Effect.mapError(disk.remove(path), fromDisk)
    }
    const offset = Math.max(0, existing ?? 0)
    const release = yield* reserve(offer.size - offset)
    const openStaging = Effect.mapError(disk.open(path, "write"), fromDisk)
    const handle = existing !== undefined && existing >= 0
      ? yield* openStaging
      : yield* stagingGate.withPermit(Effect.andThen(makeRoom, openStaging))
    const discard = Effect.ignore(disk.remove(path))
    const failAndDiscard = (error: FilesError.FilesError) => Effect.andThen(discard, Effect.fail(error))
    // The offer is locked, so nothing else changed the file meanwhile.
    let position = offset
    // An upload that ends before its first byte leaves nothing to resume:
    // its empty file goes (run before the offer is unlocked).
    yield* Effect.addFinalizer(() => position === 0 ? Effect.ignore(disk.remove(path)) : Effect.void)
    const hash = Crypto.createHash("sha256")
    if (offset > 0) yield* hashInto(handle, offset, hash)
    let completed = false

    const write = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, FilesError.FilesError> =>
      Effect.suspend(() => {
        let total = 0
        for (let i = 0; i < chunks.length; i++) total += chunks[i]!.length
        if (total === 0) return Effect.void
        if (completed || position + total > offer.size) {
          return failAndDiscard(
            FilesError.make(new FilesError.SizeMismatch({ expected: offer.size, actual: position + total }))
          )
        }
        return handle.write(chunks, position).pipe(
          Effect.catch((error) => failAndDiscard(fromDisk(error))),
          Effect.andThen(Effect.suspend(() => {
            for (let i = 0; i < chunks.length; i++) hash.update(chunks[i]!)
            position += total
            return release(total)
          }))
        )
      })

    const complete = Effect.gen(function*() {
      if (completed || position !== offer.size) {
        return yield* failAndDiscard(
          FilesError.make(new FilesError.SizeMismatch({ expected: offer.size, actual: position }))
        )
      }
      completed = true
      const actual = hash.digest("hex")
      if (actual !== offer.sha256) {
        return yield* failAndDiscard(
          FilesError.make(new FilesError.ChecksumMismatch({ expected: offer.sha256, actual }))
        )
      }
      yield* Effect.catch(handle.sync, (error) => failAndDiscard(fromDisk(error)))
      const saved = yield* Effect.onError(orFolderMissing(claimName(name.success, path)), () => discard)
      // The file is saved from here on: what follows is tidying, whose
      // failures are logged, not reported as a failed upload.
      yield* disk.remove(path).pipe(
        Effect.andThen(disk.syncDirectory(directory)),
        Effect.catchCause(logWarning("saved, but tidying the staging file failed"))
      )
      const stat = yield* Effect.mapError(disk.lstat(Path.join(directory, saved)), fromDisk)
      yield* writeMeta(saved, { size: offer.size, sha256: actual, mtimeMs: stat.mtimeMs, ino: stat.ino })
      return { name: saved, size: offer.size, sha256: actual, modifiedAt: stat.mtimeMs }
    })

    return { offset, received: () => position, write, complete, discard } satisfies Upload
  })

  const notFound = (name: string) => FilesError.make(new FilesError.NotFound({ name }))

  const download = Effect.fn("FileStore.download")(function*(name: string) {
    const valid = FileName.validate(name, maxNameBytes)
    if (Result.isFailure(valid)) return yield* fail(new FilesError.InvalidName({ name, detail: valid.failure }))
    const handle = yield* disk.open(Path.join(directory, name), "read").pipe(
      Effect.catchReasons("DiskError", {
        NotFound: () => orFolderMissing(Effect.fail(notFound(name))),
        IsSymlink: () => Effect.fail(notFound(name))
      }, (_, error) => Effect.fail(fromDisk(error)))
    )
    const stat = yield* Effect.mapError(handle.stat, fromDisk)
    if (stat.type !== "file") return yield* Effect.fail(notFound(name))
    const info = yield* infoOf(name, handle, stat)
    // One disk read per data frame, each into a buffer of its own. Reading
    // larger pieces cut into frames (views) made fewer calls, but a view
    // keeps its whole read alive: a connection whose peer does not read held
    // several such reads, though it counted only the frames queued.
    const readBytes = Math.max(1, Math.min(chunkBytes, info.size))
    const read = (offset: number): Stream.Stream<Uint8Array, FilesError.FilesError> =>
      Stream.fromPull(Effect.sync(() => {
        let position = offset
        return Effect.suspend((): Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, FilesError.FilesError> => {
          if (position >= info.size) return Cause.done()
          // Not zeroed: only the bytes the read filled are handed on.
          const buffer = Buffer.allocUnsafe(Math.min(readBytes, info.size - position))
          return handle.read(buffer, position).pipe(
            Effect.mapError(fromDisk),
            Effect.flatMap((length) => {
              if (length === 0) return fail(new FilesError.StorageFailed({ detail: `${name} shrank while read` }))
              position += length
              const piece: Arr.NonEmptyReadonlyArray<Uint8Array> = [length === buffer.length ? buffer : buffer.subarray(0, length)]
              return Effect.succeed(piece)
            })
          )
        })
      }))
    return { info, read } satisfies Download
  })

  // One entry, or nothing for what is not a regular file. A file that
  // cannot be read (permissions, I/O error) is left out of the listing
  // with a warning rather than failing the whole listing.
  const entry = (name: string) =>
    Effect.scoped(Effect.gen(function*() {
      const handle = yield* disk.open(Path.join(directory, name), "read")
      const stat = yield* Effect.mapError(handle.stat, fromDisk)
      if (stat.type !== "file") return Result.failVoid
      return Result.succeed(yield* infoOf(name, handle, stat))
    })).pipe(
      // Symlinks, and files removed since the directory was read: silently absent.
      Effect.catchReasons("DiskError", {
        NotFound: () => Effect.succeed(Result.failVoid),
        IsSymlink: () => Effect.succeed(Result.failVoid)
      }, (_, error) => Effect.fail(fromDisk(error))),
      Effect.catch((error) =>
        Effect.as(
          Effect.logWarning(`not listed: ${JSON.stringify(name)}`).pipe(Effect.annotateLogs({ reason: error.message })),
          Result.failVoid
        )
      )
    )

  const list: Stream.Stream<FileInfo, FilesError.FilesError> = Stream.unwrap(
    Effect.map(
      orFolderMissing(Effect.mapError(disk.readDirectory(directory), fromDisk)),
      (names) =>
        Stream.fromIterable(names.filter((name) => FileName.isValid(name, maxNameBytes)).sort()).pipe(
          Stream.filterMapEffect(entry)
        )
    )
  )

  // A staging file is only removed while its offer is locked here, so an
  // upload that starts meanwhile cannot lose its file. Removed: staging
  // files untouched for `stagingExpiry`, empty ones untouched for
  // `leftoverExpiry`, and, as old, anything else but a directory (the
  // store puts nothing else there).
  const sweep = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    // No staging folder (removed while serving): nothing to sweep.
    const names = yield* disk.readDirectory(stagingDirectory).pipe(
      Effect.catchReason("DiskError", "NotFound", () => Effect.succeed([])),
      Effect.mapError(fromDisk)
    )
    let removed = 0
    for (const file of names) {
      const path = Path.join(stagingDirectory, file)
      const ours = stagingName.test(file)
      const key = file.slice(0, -stagingSuffix.length)
      if (ours && !(yield* tryLock(key))) continue
      yield* Effect.gen(function*() {
        const stat = yield* disk.lstat(path)
        const age = now - stat.mtimeMs
        const stale = ours
          ? age >= expiryMillis || (stat.size === 0 && age >= leftoverMillis)
          : stat.type !== "directory" && age >= leftoverMillis
        if (stale) {
          yield* disk.remove(path)
          removed++
        }
      }).pipe(
        Effect.catchReason("DiskError", "NotFound", () => Effect.void),
        Effect.mapError(fromDisk),
        Effect.ensuring(ours ? unlock(key) : Effect.void)
      )
    }
    return removed
  })

  const sweepAndLog = sweep.pipe(
    Effect.tap((removed) => removed > 0 ? Effect.logInfo(`removed ${removed} stale staging files`) : Effect.void),
    Effect.catchCause(logWarning("sweeping staging files failed"))
  )
  // Once now, so that what an earlier run left is gone before serving.
  yield* sweepAndLog
  yield* sweepAndLog.pipe(
    Effect.delay(options.sweepInterval ?? FilesConfig.stagingSweepInterval),
    Effect.forever,
    Effect.forkScoped
  )

  return { store: FileStore.of({ directory, upload, download, list, sweep }), created }
})

/**
 * The store as a layer (needs `Disk`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<FileStore, FilesError.FilesError, Disk.Disk> =>
  Layer.effect(FileStore, make(options))
