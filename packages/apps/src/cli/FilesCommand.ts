/**
 * `socket-to-me files serve | send | get | list`.
 *
 * `send` and `get` show progress on stderr (a bar on a terminal, an
 * occasional line otherwise) and print their result on stdout; they exit 0
 * only when the transfer was confirmed (the server saved and verified the
 * upload; the download was verified locally). Failures are one line on
 * stderr, as everywhere in the CLI.
 *
 * @since 0.1.0
 */
import type * as Server from "@socket-to-me/core/Server"
import type * as ServerError from "@socket-to-me/core/ServerError"
import * as Runner from "@socket-to-me/node/Runner"
import * as ByteSize from "effect/ByteSize"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Path from "node:path"
import * as Disk from "../files/Disk.ts"
import * as FilesClient from "../files/FilesClient.ts"
import * as FilesConfig from "../files/FilesConfig.ts"
import type * as FilesError from "../files/FilesError.ts"
import * as FilesServer from "../files/FilesServer.ts"
import * as FileStore from "../files/FileStore.ts"
import * as Protocol from "../files/Protocol.ts"
import * as Flags from "./Flags.ts"
import * as Tracing from "./Tracing.ts"
import * as Progress from "./Progress.ts"

/**
 * The folder `files serve` (and `demo`) saves into by default.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultDirectory = "./received"

/**
 * Parses a byte size: a plain number of bytes (`1048576`) or a number with
 * a unit, binary (`KiB`, `MiB`, `GiB`, `TiB`) or decimal (`kB`, `MB`, `GB`, `TB`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSize = (text: string): Option.Option<number> => {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return Option.some(Number(trimmed)).pipe(Option.filter(Number.isSafeInteger))
  return ByteSize.fromString(trimmed).pipe(Option.flatMap(ByteSize.toNumber), Option.filter(Number.isSafeInteger))
}

const directory = Flags.fromText({
  name: "dir",
  env: "SOCKET_TO_ME_FILES_DIR",
  metavar: "DIR",
  description: `Folder to save into; created if missing (default ${defaultDirectory}, env SOCKET_TO_ME_FILES_DIR)`,
  parse: (text) => Option.some(text).pipe(Option.filter((dir) => dir.trim() !== "")),
  expected: "a folder"
}).pipe(Flag.map(Option.getOrElse(() => defaultDirectory)))

const maxSize = Flags.fromText({
  name: "max-size",
  env: "SOCKET_TO_ME_MAX_FILE_SIZE",
  metavar: "SIZE",
  description: `Largest file accepted, e.g. 500MiB, 2GB or a number of bytes (default ${
    Progress.formatBytes(FilesConfig.maxFileBytes)
  }, env SOCKET_TO_ME_MAX_FILE_SIZE)`,
  parse: parseSize,
  expected: "a size such as 500MiB, 2GB or 1048576"
}).pipe(Flag.map(Option.getOrElse(() => FilesConfig.maxFileBytes)))

const stagingExpiry = Flags.duration(
  "staging-expiry",
  "SOCKET_TO_ME_STAGING_EXPIRY",
  FilesConfig.stagingExpiry,
  "Delete partial uploads untouched this long"
)

const reserveBytes = Flags.fromText({
  name: "reserve-bytes",
  env: "SOCKET_TO_ME_RESERVE_BYTES",
  metavar: "SIZE",
  description: `Free disk space every upload must leave, e.g. 1GiB (default ${
    Progress.formatBytes(FilesConfig.minFreeDiskBytes)
  }, env SOCKET_TO_ME_RESERVE_BYTES)`,
  parse: parseSize,
  expected: "a size such as 64MiB, 1GB or 1048576"
}).pipe(Flag.map(Option.getOrElse(() => FilesConfig.minFreeDiskBytes)))

const count = (name: string, env: string, fallback: number, description: string) =>
  Flags.fromText({
    name,
    env,
    metavar: "N",
    description: `${description} (default ${fallback}, env ${env})`,
    parse: (text) => Option.filter(Flags.parseWhole(text), (n) => n >= 1),
    expected: "a whole number, at least 1"
  }).pipe(Flag.map(Option.getOrElse(() => fallback)))

const maxPendingUploads = count(
  "max-pending-uploads",
  "SOCKET_TO_ME_MAX_PENDING_UPLOADS",
  FilesConfig.maxPendingUploads,
  "Uploads received at once; more are refused"
)

const maxPendingUploadsPerPeer = count(
  "max-pending-uploads-per-peer",
  "SOCKET_TO_ME_MAX_PENDING_UPLOADS_PER_PEER",
  FilesConfig.maxPendingUploadsPerPeer,
  "Uploads received at once from one IP address; more are refused"
)

const minUploadRate = Flags.fromText({
  name: "min-upload-rate",
  env: "SOCKET_TO_ME_MIN_UPLOAD_RATE",
  metavar: "SIZE",
  description: `Stop uploads slower than this per second over ${
    Duration.format(Duration.fromInputUnsafe(FilesConfig.uploadRateWindow))
  } (they can resume), e.g. 16KiB; 0 disables (default ${
    Progress.formatBytes(FilesConfig.minUploadBytesPerSecond)
  }, env SOCKET_TO_ME_MIN_UPLOAD_RATE)`,
  parse: parseSize,
  expected: "a size per second such as 64KiB, or 0"
}).pipe(Flag.map(Option.getOrElse(() => FilesConfig.minUploadBytesPerSecond)))

/**
 * Opens the store on `options.directory` and starts the files server on
 * `endpoint` for the life of the scope, printing `files listening on
 * HOST:PORT`. If the server cannot start (its port is taken), the folder
 * is removed again when this made it.
 *
 * @since 0.1.0
 * @category running
 */
export const start = Effect.fnUntraced(function*(
  listen: Flags.Listen,
  settings: Flags.ServerSettings,
  options: FileStore.Options,
  handlerOptions: FilesServer.Options = {}
): Effect.fn.Return<Server.Server, ServerError.ServerError | FilesError.FilesError, Scope.Scope> {
  const handler = FilesServer.handler({ ...handlerOptions, frameDeadline: Flags.zeroIsOff(settings.frameDeadline) })
  const { server, store } = yield* FileStore.makeThen(options, (store) =>
    Effect.provideService(
      Effect.map(
        Runner.start(
          handler,
          Flags.serveOptions("files", listen, {
            ...settings,
            maxConnectionsPerAddress: settings.maxConnectionsPerAddress ??
              Option.some(FilesConfig.maxConnectionsPerAddress)
          })
        ),
        (server) => ({ server, store })
      ),
      FileStore.FileStore,
      store
    )).pipe(Effect.provideService(Disk.Disk, Disk.makeNode()))
  yield* Effect.logInfo(`files are saved into ${store.directory}`)
  return server
})

const serve = Command.make(
  "serve",
  {
    host: Flags.host,
    port: Flags.listenPort(Protocol.defaultPort),
    listener: Flags.listener,
    maxConnectionsPerAddress: Flags.maxConnectionsPerAddress(Option.some(FilesConfig.maxConnectionsPerAddress)),
    dir: directory,
    maxSize,
    stagingExpiry,
    reserveBytes,
    maxPendingUploads,
    maxPendingUploadsPerPeer,
    minUploadRate,
    otlpEndpoint: Tracing.otlpEndpoint,
    ...Flags.server
  },
  ({
    dir,
    host,
    listener,
    otlpEndpoint,
    maxPendingUploads,
    maxPendingUploadsPerPeer,
    maxSize,
    minUploadRate,
    port,
    reserveBytes,
    stagingExpiry,
    ...settings
  }) =>
    Effect.scoped(Effect.andThen(
      Effect.flatMap(Flags.listenOn(host, port, Protocol.defaultPort, listener), (listen) =>
        start(
          listen,
          settings,
        {
          directory: dir,
          maxFileBytes: maxSize,
          stagingExpiry,
          minFreeBytes: reserveBytes,
          maxPendingUploads,
          maxPendingUploadsPerPeer
        },
          { minUploadBytesPerSecond: minUploadRate }
        )),
      Effect.never
    )).pipe(Tracing.exportTo("files", otlpEndpoint))
).pipe(
  Command.withDescription(
    "Run the files server: verified, resumable uploads saved atomically into a folder, with download and list."
  ),
  Command.withExamples([
    { command: "socket-to-me files serve --dir ./received", description: "Listen on 127.0.0.1:7003" },
    { command: "socket-to-me files serve --max-size 100MiB --port 0", description: "Smaller uploads, any free port" }
  ])
)

const target = (host: string, port: Option.Option<number>, dialer: Flags.DialerSettings) =>
  Flags.dialTo(host, port, Protocol.defaultPort, dialer)

// Runs one transfer with a progress display on stderr (results go to
// stdout): the display is closed if the transfer fails, and an interrupted
// transfer says how to resume it.
const withProgress = Effect.fnUntraced(function*<A, E, R>(
  label: string,
  onInterrupt: string,
  transfer: (onEvent: Progress.Progress["onEvent"]) => Effect.Effect<A, E, R>
) {
  const stdio = yield* Stdio.Stdio
  const terminal = yield* stdio.stderrIsTerminal
  const progress = Progress.make({
    label,
    terminal,
    write: (text) => Stream.make(text).pipe(Stream.run(stdio.stderr()), Effect.ignore),
    note: (line) => Console.log(line)
  })
  return yield* transfer(progress.onEvent).pipe(
    Effect.onError(() => progress.close),
    Effect.onInterrupt(() => Console.error(onInterrupt)),
    Effect.provideService(Disk.Disk, Disk.makeNode())
  )
})

const send = Command.make(
  "send",
  {
    host: Flags.host,
    port: Flags.connectPort(Protocol.defaultPort),
    dialer: Flags.dialer,
    as: Flag.String("as").pipe(
      Flag.withDescription("Name to save the file under (default: the file's own name)"),
      Flag.optional
    ),
    path: Argument.String("path").pipe(Argument.withDescription("The file to send"))
  },
  Effect.fnUntraced(function*({ as, dialer, host, path, port }) {
    const name = Option.getOrUndefined(as)
    const server = yield* target(host, port, dialer)
    const uploaded = yield* withProgress(
      name ?? Path.basename(path),
      "interrupted: the upload was not confirmed; send again to resume it",
      (onEvent) => FilesClient.upload(server, path, { name, onEvent })
    )
    yield* Console.log(`saved as ${uploaded.name} (${uploaded.size} bytes, sha256 ${uploaded.sha256})`)
  })
).pipe(
  Command.withDescription("Send a file to a files server; a transfer that was cut resumes where it stopped."),
  Command.withExamples([
    { command: "socket-to-me files send report.pdf", description: "Upload report.pdf" },
    { command: "socket-to-me files send ./build/out.tar --as release.tar", description: "Upload under another name" }
  ])
)

const get = Command.make(
  "get",
  {
    host: Flags.host,
    port: Flags.connectPort(Protocol.defaultPort),
    dialer: Flags.dialer,
    out: Flag.String("out").pipe(
      Flag.withDescription("Where to save (default: NAME in the current directory); never overwritten"),
      Flag.optional
    ),
    name: Argument.String("name").pipe(Argument.withDescription("Name of the file on the server"))
  },
  Effect.fnUntraced(function*({ dialer, host, name, out, port }) {
    const server = yield* target(host, port, dialer)
    const downloaded = yield* withProgress(
      name,
      "interrupted: run the same command again to resume the download",
      (onEvent) => FilesClient.download(server, name, { out: Option.getOrUndefined(out), onEvent })
    )
    yield* Console.log(
      `saved ${downloaded.name} to ${downloaded.path} (${downloaded.size} bytes, sha256 ${downloaded.sha256} verified)`
    )
  })
).pipe(
  Command.withDescription("Download a file from a files server, verified by sha256; an interrupted download resumes."),
  Command.withExamples([{ command: "socket-to-me files get report.pdf --out /tmp/report.pdf", description: "Download" }])
)

const list = Command.make(
  "list",
  { host: Flags.host, port: Flags.connectPort(Protocol.defaultPort), dialer: Flags.dialer },
  ({ dialer, host, port }) =>
    Effect.flatMap(target(host, port, dialer), (server) =>
      FilesClient.list(server).pipe(
        Stream.runForEach((file) =>
          Console.log(`${file.modifiedAt}  ${String(file.size).padStart(12)}  ${file.sha256}  ${file.name}`)
        )
      ))
).pipe(
  Command.withDescription("List the server's files: modification time (UTC), size in bytes, sha256, name."),
  Command.withExamples([{ command: "socket-to-me files list", description: "One line per file" }])
)

/**
 * The `files` command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("files").pipe(
  Command.withDescription("File transfer: verified, resumable uploads saved atomically; download and list."),
  Command.withSubcommands([serve, send, get, list])
)
