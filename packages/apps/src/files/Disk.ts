/**
 * The file-system operations the files app needs, as a service: the store
 * and the client do all their disk work through it, so a test can replace
 * it (a disk that fills up, a failing `fsync`) without touching a real disk
 * in a special way.
 *
 * Stage: below the app, beside the transport. `layerNode` implements it
 * with `node:fs`: positional `pwritev`/`pread` on descriptors, `O_NOFOLLOW`
 * on every open unless asked otherwise (a symlink where a file is expected
 * fails with `IsSymlink` instead of being followed), `link` for
 * no-clobber renames, `statfs` for free space. effect's `FileSystem` has no
 * `O_NOFOLLOW` and no `statfs`, hence a service of our own.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as NFS from "node:fs"
import * as Util from "node:util"

/**
 * No such file or directory.
 *
 * @since 0.1.0
 * @category reasons
 */
export class NotFound extends Data.TaggedError("NotFound")<{}> {
  override get message(): string {
    return "no such file or directory"
  }
}

/**
 * The target already exists (`link`, exclusive create).
 *
 * @since 0.1.0
 * @category reasons
 */
export class AlreadyExists extends Data.TaggedError("AlreadyExists")<{}> {
  override get message(): string {
    return "already exists"
  }
}

/**
 * The file system is full (or the quota is exhausted).
 *
 * @since 0.1.0
 * @category reasons
 */
export class NoSpace extends Data.TaggedError("NoSpace")<{}> {
  override get message(): string {
    return "no space left on device"
  }
}

/**
 * The path is a symbolic link and links are not followed.
 *
 * @since 0.1.0
 * @category reasons
 */
export class IsSymlink extends Data.TaggedError("IsSymlink")<{}> {
  override get message(): string {
    return "is a symbolic link (not followed)"
  }
}

/**
 * Any other failure, with the system's error code and its description
 * (`"permission denied"`), which names no path: the path is the
 * `DiskError`'s, so that what a server tells its clients (a reason's
 * message) never shows where its files are.
 *
 * @since 0.1.0
 * @category reasons
 */
export class Failed extends Data.TaggedError("Failed")<{
  readonly code: string
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * Every reason a disk operation can fail.
 *
 * @since 0.1.0
 * @category models
 */
export type DiskErrorReason = NotFound | AlreadyExists | NoSpace | IsSymlink | Failed

/**
 * The error of a disk operation: what was done, on which path, and why it failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class DiskError extends Data.TaggedError("DiskError")<{
  readonly reason: DiskErrorReason
  readonly operation: string
  readonly path: string
}> {
  override get message(): string {
    return `${this.operation} ${this.path}: ${this.reason.message}`
  }
}

/**
 * What `lstat` and `Handle.stat` report.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stat {
  readonly type: "file" | "directory" | "symlink" | "other"
  readonly size: number
  readonly mtimeMs: number
  readonly ino: number
}

/**
 * How a file is opened. Every mode refuses to follow a symlink at the last
 * path component unless `followSymlinks` is set.
 *
 * - `read`: read only.
 * - `write`: read and write, creating the file if missing, keeping its content.
 * - `create`: write, failing with `AlreadyExists` if the file exists.
 * - `replace`: write, creating or truncating.
 *
 * @since 0.1.0
 * @category models
 */
export type OpenMode = "read" | "write" | "create" | "replace"

/**
 * An open file. Reads and writes are positional, so a handle carries no
 * offset and its users say where.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handle {
  readonly path: string
  readonly stat: Effect.Effect<Stat, DiskError>
  /** Reads up to `buffer.length` bytes at `position` into `buffer`; 0 at end of file. */
  readonly read: (buffer: Uint8Array, position: number) => Effect.Effect<number, DiskError>
  /** Writes all of `buffers`, in order, starting at `position`. */
  readonly write: (buffers: ReadonlyArray<Uint8Array>, position: number) => Effect.Effect<void, DiskError>
  /** Flushes data and metadata to the device (`fsync`). */
  readonly sync: Effect.Effect<void, DiskError>
  readonly truncate: (length: number) => Effect.Effect<void, DiskError>
}

/**
 * The disk.
 *
 * @since 0.1.0
 * @category services
 */
export class Disk extends Context.Service<Disk, {
  /**
   * `mkdir -p`; an existing directory (or a link to one) is fine. With
   * `parents: false`, plain `mkdir`: fails with `NotFound` when the parent
   * is missing and `AlreadyExists` when the path exists. Returns the first
   * (outermost) directory it created, `undefined` when it created none.
   */
  readonly makeDirectory: (
    path: string,
    options?: { readonly parents?: boolean | undefined }
  ) => Effect.Effect<string | undefined, DiskError>
  /** Removes an empty directory (`rmdir`); a missing one is not an error. */
  readonly removeDirectory: (path: string) => Effect.Effect<void, DiskError>
  /** The canonical absolute path (links resolved). */
  readonly realPath: (path: string) => Effect.Effect<string, DiskError>
  /** Entry names of a directory, unsorted. */
  readonly readDirectory: (path: string) => Effect.Effect<ReadonlyArray<string>, DiskError>
  /** Metadata of the path itself (a link is reported as `symlink`). */
  readonly lstat: (path: string) => Effect.Effect<Stat, DiskError>
  /** Bytes an unprivileged user can still write on the file system holding `path`. */
  readonly availableBytes: (path: string) => Effect.Effect<number, DiskError>
  /** Opens a file for the life of the scope. */
  readonly open: (
    path: string,
    mode: OpenMode,
    options?: { readonly followSymlinks?: boolean | undefined }
  ) => Effect.Effect<Handle, DiskError, Scope.Scope>
  /** A second name for a file; fails with `AlreadyExists` rather than replace anything. */
  readonly link: (existingPath: string, newPath: string) => Effect.Effect<void, DiskError>
  /** Atomically renames, replacing `newPath` if it exists. */
  readonly rename: (oldPath: string, newPath: string) => Effect.Effect<void, DiskError>
  /** Removes a file; a missing file is not an error. */
  readonly remove: (path: string) => Effect.Effect<void, DiskError>
  /** Makes a directory's entries (new names, removals) durable (`fsync` on the directory). */
  readonly syncDirectory: (path: string) => Effect.Effect<void, DiskError>
}>()("@socket-to-me/apps/files/Disk") {}

// -----------------------------------------------------------------------------
// Node implementation
// -----------------------------------------------------------------------------

const reasonOf = (error: NodeJS.ErrnoException): DiskErrorReason => {
  switch (error.code) {
    case "ENOENT":
      return new NotFound()
    case "EEXIST":
      return new AlreadyExists()
    case "ENOSPC":
    case "EDQUOT":
      return new NoSpace()
    // What open(2) with O_NOFOLLOW reports for a symlink (EMLINK on FreeBSD).
    case "ELOOP":
    case "EMLINK":
      return new IsSymlink()
    default:
      return new Failed({
        code: error.code ?? "UNKNOWN",
        detail: error.errno === undefined ? error.code ?? "unknown error" : Util.getSystemErrorMessage(error.errno)
      })
  }
}

type Callback<A> = (error: NodeJS.ErrnoException | null, value: A) => void

const call = <A>(operation: string, path: string, run: (callback: Callback<A>) => void): Effect.Effect<A, DiskError> =>
  Effect.callback<A, DiskError>((resume) => {
    run((error, value) =>
      resume(
        error === null ? Effect.succeed(value) : Effect.fail(new DiskError({ reason: reasonOf(error), operation, path }))
      )
    )
  })

const typeOf = (stats: NFS.Stats): Stat["type"] =>
  stats.isFile() ? "file" : stats.isDirectory() ? "directory" : stats.isSymbolicLink() ? "symlink" : "other"

const toStat = (stats: NFS.Stats): Stat => ({
  type: typeOf(stats),
  size: stats.size,
  mtimeMs: stats.mtimeMs,
  ino: stats.ino
})

const { O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } = NFS.constants
// Not defined on Windows, where there is nothing to refuse.
const O_NOFOLLOW = NFS.constants.O_NOFOLLOW ?? 0
const O_DIRECTORY = NFS.constants.O_DIRECTORY ?? 0

const flagsOf: Record<OpenMode, number> = {
  read: O_RDONLY,
  write: O_RDWR | O_CREAT,
  create: O_WRONLY | O_CREAT | O_EXCL,
  replace: O_WRONLY | O_CREAT | O_TRUNC
}

// Linux's IOV_MAX: the most buffers one writev may take.
const maxBuffersPerWrite = 1024

const makeHandle = (fd: number, path: string): Handle => {
  const writeOnce = (buffers: ReadonlyArray<Uint8Array>, position: number) =>
    call<number>("write", path, (cb) => NFS.writev(fd, buffers, position, cb))
  // writev may write less than asked (a signal, a nearly full disk): write
  // the rest from where it stopped.
  const write = (buffers: ReadonlyArray<Uint8Array>, position: number): Effect.Effect<void, DiskError> =>
    Effect.suspend(() => {
      if (buffers.length === 0) return Effect.void
      const batch = buffers.length > maxBuffersPerWrite ? buffers.slice(0, maxBuffersPerWrite) : buffers
      let total = 0
      for (let i = 0; i < batch.length; i++) total += batch[i]!.length
      return Effect.flatMap(writeOnce(batch, position), (written) => {
        if (written === total) {
          return batch === buffers ? Effect.void : write(buffers.slice(batch.length), position + written)
        }
        if (written === 0) {
          return Effect.fail(
            new DiskError({
              reason: new Failed({ code: "EIO", detail: "write made no progress" }),
              operation: "write",
              path
            })
          )
        }
        return write(skip(buffers, written), position + written)
      })
    })
  return {
    path,
    stat: Effect.map(call<NFS.Stats>("stat", path, (cb) => NFS.fstat(fd, cb)), toStat),
    read: (buffer, position) =>
      call<number>("read", path, (cb) => NFS.read(fd, buffer, 0, buffer.length, position, cb)),
    write,
    sync: call<void>("fsync", path, (cb) => NFS.fsync(fd, (error) => cb(error, undefined))),
    truncate: (length) => call<void>("truncate", path, (cb) => NFS.ftruncate(fd, length, (error) => cb(error, undefined)))
  }
}

// The buffers left after the first `bytes` bytes.
const skip = (buffers: ReadonlyArray<Uint8Array>, bytes: number): ReadonlyArray<Uint8Array> => {
  let rest = bytes
  let i = 0
  while (rest >= buffers[i]!.length) {
    rest -= buffers[i]!.length
    i++
  }
  return [buffers[i]!.subarray(rest), ...buffers.slice(i + 1)]
}

const close = (fd: number, path: string) =>
  Effect.ignore(call<void>("close", path, (cb) => NFS.close(fd, (error) => cb(error, undefined))))

/**
 * The disk, through `node:fs`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeNode = (): Disk["Service"] =>
  Disk.of({
    makeDirectory: (path, options) =>
      options?.parents === false
        ? call<string | undefined>("mkdir", path, (cb) => NFS.mkdir(path, (error) => cb(error, path)))
        : call<string | undefined>("mkdir", path, (cb) => NFS.mkdir(path, { recursive: true }, cb)),
    removeDirectory: (path) =>
      call<void>("rmdir", path, (cb) => NFS.rmdir(path, (error) => cb(error, undefined))).pipe(
        Effect.catchReason("DiskError", "NotFound", () => Effect.void)
      ),
    realPath: (path) => call<string>("realpath", path, (cb) => NFS.realpath(path, cb)),
    readDirectory: (path) => call<Array<string>>("readdir", path, (cb) => NFS.readdir(path, cb)),
    lstat: (path) => Effect.map(call<NFS.Stats>("lstat", path, (cb) => NFS.lstat(path, cb)), toStat),
    availableBytes: (path) =>
      Effect.map(call<NFS.StatsFs>("statfs", path, (cb) => NFS.statfs(path, cb)), (fs) => fs.bavail * fs.bsize),
    open: (path, mode, options) =>
      Effect.acquireRelease(
        call<number>(
          "open",
          path,
          (cb) => NFS.open(path, flagsOf[mode] | (options?.followSymlinks === true ? 0 : O_NOFOLLOW), 0o644, cb)
        ),
        (fd) => close(fd, path)
      ).pipe(Effect.map((fd) => makeHandle(fd, path))),
    link: (existingPath, newPath) =>
      call<void>("link", newPath, (cb) => NFS.link(existingPath, newPath, (error) => cb(error, undefined))),
    rename: (oldPath, newPath) =>
      call<void>("rename", newPath, (cb) => NFS.rename(oldPath, newPath, (error) => cb(error, undefined))),
    remove: (path) =>
      call<void>("unlink", path, (cb) => NFS.unlink(path, (error) => cb(error, undefined))).pipe(
        Effect.catchReason("DiskError", "NotFound", () => Effect.void)
      ),
    syncDirectory: (path) =>
      Effect.scoped(
        Effect.acquireRelease(
          call<number>("open", path, (cb) => NFS.open(path, O_RDONLY | O_DIRECTORY, cb)),
          (fd) => close(fd, path)
        ).pipe(
          Effect.flatMap((fd) => call<void>("fsync", path, (cb) => NFS.fsync(fd, (error) => cb(error, undefined))))
        )
      )
  })

/**
 * The Node disk as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNode: Layer.Layer<Disk> = Layer.sync(Disk, makeNode)
