/**
 * The files server: one request per connection (upload, download or list),
 * spoken over the files protocol and served from the `FileStore`.
 *
 * Stage: app. Bytes are cut into frames by the length-prefixed codec, with
 * core's frame deadline and frame metrics (`Framing.decode`), frames are decoded
 * by `Protocol`, and the
 * conversation runs in one fiber that reads frames as it needs them and
 * offers replies to a small bounded queue: file bytes move from socket to
 * disk (and disk to socket) one batch at a time, each waiting for the
 * other side, so memory stays flat whatever the file size.
 *
 * How a connection ends:
 *
 * - Request served: the server closes after its last reply (`Completed`).
 * - Request declined (invalid name, too large, busy, checksum mismatch,
 *   ...): an `error` reply, then the server reads and discards input for a
 *   moment (`FilesConfig.errorLinger`) so the reply is not lost to a TCP reset,
 *   then closes (`Completed`).
 * - Protocol broken (undecodable frame, unexpected message, too many
 *   bytes): an `error` reply, the same lingering, then the connection fails
 *   with a typed `FrameTooLarge` or `DecodeFailed` exit reason.
 * - Peer gone or too slow (reset, EOF mid-upload, timeouts): the connection
 *   ends with that reason and the partial upload stays staged for a resume.
 * - Upload below the minimum rate (`FilesConfig.minUploadBytesPerSecond`
 *   over a `FilesConfig.uploadRateWindow`): a `too-slow` reply, then as for
 *   a declined request; the partial upload stays staged, and its disk
 *   reservation and upload slot are released at once.
 *
 * @since 0.1.0
 */
import * as Config from "@socket-to-me/core/Config"
import type * as Connection from "@socket-to-me/core/Connection"
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as Framing from "@socket-to-me/core/Framing"
import type * as LengthPrefixedCodec from "@socket-to-me/core/LengthPrefixedCodec"
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Pull from "effect/Pull"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as FilesConfig from "./FilesConfig.ts"
import * as FilesError from "./FilesError.ts"
import * as FileStore from "./FileStore.ts"
import * as Protocol from "./Protocol.ts"

/**
 * Handler options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A started frame must complete within this time. Default `Config.frameDeadline`. */
  readonly frameDeadline?: Duration.Input | undefined
  /** Largest data frame accepted, in file bytes. Default `FilesConfig.fileChunkBytes`. */
  readonly chunkBytes?: number | undefined
  /** How long to read and discard input after an error reply. Default `FilesConfig.errorLinger`. */
  readonly errorLinger?: Duration.Input | undefined
  /** Slowest upload kept, in bytes per second; 0 disables. Default `FilesConfig.minUploadBytesPerSecond`. */
  readonly minUploadBytesPerSecond?: number | undefined
  /** Window the upload rate is averaged over. Default `FilesConfig.uploadRateWindow`. */
  readonly uploadRateWindow?: Duration.Input | undefined
}

/** The minimum upload rate, resolved: bytes per second over windows of `windowMillis`. */
interface RateRule {
  readonly bytesPerSecond: number
  readonly windowMillis: number
}

// Reply frames waiting to be encoded for the connection's write stage: a
// download holds at most two data frames here, one in the disk read in hand,
// and the write stage's byte bound beyond: enough to keep the socket busy
// while the next frame is read, and a peer that does not read stalls the
// disk reads at once.
const replyQueueFrames = 2

/**
 * Connection ends that leave a partial upload resumable: the peer went
 * away or stalled, sent too slowly, or the server stopped. Anything else (a
 * broken protocol, a failed verification) deletes it.
 *
 * @since 0.1.0
 * @category models
 */
export const isResumable = (cause: Cause.Cause<FilesError.FilesError | ConnectionError.ConnectionError>): boolean => {
  if (Cause.hasInterruptsOnly(cause)) return true
  const error = Cause.findError(cause)
  if (Result.isFailure(error)) return false
  if (error.success instanceof FilesError.FilesError) return error.success.reason._tag === "TooSlow"
  switch (error.success.reason._tag) {
    case "PeerClosed":
    case "PeerReset":
    case "ReadFailed":
    case "WriteFailed":
    case "IdleTimeout":
    case "FrameTimeout":
      return true
    default:
      return false
  }
}

const toIso = (millis: number): string => DateTime.formatIso(DateTime.makeUnsafe(millis))

/**
 * The files handler; it needs a `FileStore` in context.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler = (options: Options = {}): Connection.Handler<never, FileStore.FileStore> => {
  const codec = Protocol.serverCodec(options.chunkBytes)
  const deadline = options.frameDeadline ?? Config.frameDeadline
  const lingerFor = Effect.sleep(options.errorLinger ?? FilesConfig.errorLinger)
  const rate: RateRule = {
    bytesPerSecond: options.minUploadBytesPerSecond ?? FilesConfig.minUploadBytesPerSecond,
    windowMillis: Duration.toMillis(Duration.fromInputUnsafe(options.uploadRateWindow ?? FilesConfig.uploadRateWindow))
  }
  return (input, info) =>
    Stream.unwrap(Effect.gen(function*() {
      const store = yield* FileStore.FileStore
      // The raw input is pulled here, so that after the decoder has failed
      // the rest of it can still be read and discarded (see `linger`).
      const rawPull = yield* Stream.toPull(input)
      const framePull = yield* Stream.toPull(
        Framing.decode(codec, Stream.fromPull(Effect.succeed(rawPull)), { frameDeadline: deadline })
      )
      // Replies are queued as wire bytes: control frames encoded whole, file
      // bytes as header/view pairs (no copy), so that the writer sends many
      // frames per socket write.
      return Framing.encode(codec, Stream.callback<Protocol.WireFrame, ConnectionError.ConnectionError>(
        (queue) =>
          converse(store, FileStore.peerOf(info.remoteAddress), framePull, rawPull, queue, lingerFor, rate).pipe(
            Effect.andThen(Queue.end(queue)),
            // The connection's id is on every line already (its fiber's).
            Effect.annotateLogs({ peer: info.remoteAddress })
          ),
        { bufferSize: replyQueueFrames, strategy: "suspend" }
      ))
    }))
}

const converse = (
  store: FileStore.FileStore["Service"],
  peer: string,
  framePull: Pull.Pull<Arr.NonEmptyReadonlyArray<LengthPrefixedCodec.Parts>, ConnectionError.ConnectionError>,
  rawPull: Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, ConnectionError.ConnectionError>,
  queue: Queue.Queue<Protocol.WireFrame, ConnectionError.ConnectionError | Cause.Done>,
  lingerFor: Effect.Effect<void>,
  rate: RateRule
): Effect.Effect<void, ConnectionError.ConnectionError> => {
  const frames = Protocol.reader(framePull)
  const send = (message: Protocol.ServerMessage) =>
    Effect.flatMap(Protocol.encodeServer(message), (payload) => Queue.offer(queue, [Protocol.wire(payload)]))
  const sendError = (reason: FilesError.ServerReason) =>
    send({ type: "error", code: FilesError.code(reason), message: reason.message })

  const receiveRequest = Effect.gen(function*() {
    const payload = yield* frames.next
    // A peer that connects and closes without asking anything.
    if (payload === undefined) return
    const frame = yield* Protocol.decodeClientFrame(payload)
    if (frame._tag === "Data") {
      return yield* Effect.fail(badRequest("expected a request (upload, download or list), got a data frame"))
    }
    const request = frame.message
    switch (request.type) {
      // Each request is a span, a child of the connection's.
      case "upload":
        return yield* Effect.withSpan(upload(request), "files.upload", {
          attributes: { "files.name": request.name, "files.size": request.size }
        })
      case "download":
        return yield* Effect.withSpan(download(request.name), "files.download", {
          attributes: { "files.name": request.name }
        })
      case "list":
        return yield* Effect.withSpan(list, "files.list")
      case "start":
        return yield* Effect.fail(badRequest("\"start\" is only valid after a \"file\" reply"))
    }
  })

  const upload = (offer: typeof Protocol.Upload.Type) =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* store.upload(offer, { peer })
      yield* Effect.logInfo(
        session.offset > 0 ? `upload resumed at ${session.offset} bytes` : "upload started"
      ).pipe(Effect.annotateLogs({ name: offer.name, size: offer.size }))
      // The first window starts before the client hears `accept`.
      const acceptedAt = yield* Clock.currentTimeMillis
      yield* send({ type: "accept", offset: session.offset })
      yield* Effect.onError(
        Effect.raceFirst(receiveData(session, offer.size), minimumRate(session, offer.size, acceptedAt, rate)),
        (cause) => isResumable(cause) ? Effect.void : session.discard
      )
      const saved = yield* session.complete
      yield* Effect.logInfo("upload saved").pipe(
        Effect.annotateLogs({ name: saved.name, size: saved.size, sha256: saved.sha256 })
      )
      yield* send({ type: "saved", name: saved.name, size: saved.size, sha256: saved.sha256 })
    }))

  const receiveData = (session: FileStore.Upload, size: number) =>
    Protocol.receiveData<FilesError.FilesError | ConnectionError.ConnectionError, never>({
      frames,
      bytes: size - session.received(),
      write: (bodies) => session.write(bodies),
      onControl: () => Effect.fail(badRequest("expected data frames until the offered size is reached")),
      onEnd: (received) =>
        Effect.fail(ConnectionError.make(
          new ConnectionError.PeerClosed({
            detail: `upload ended after ${session.offset + received} of ${size} bytes`
          })
        ))
    })

  const download = (name: string) =>
    Effect.scoped(Effect.gen(function*() {
      const file = yield* store.download(name)
      const { info } = file
      yield* Effect.annotateCurrentSpan("files.size", info.size)
      yield* send({ type: "file", name: info.name, size: info.size, sha256: info.sha256, modifiedAt: toIso(info.modifiedAt) })
      const payload = yield* frames.next
      // The client knew the answer it needed (for instance it has the whole file).
      if (payload === undefined) return
      const frame = yield* Protocol.decodeClientFrame(payload)
      if (frame._tag !== "Control" || frame.message.type !== "start") {
        return yield* Effect.fail(badRequest("expected \"start\" after \"file\""))
      }
      const offset = frame.message.offset
      if (offset > info.size) {
        return yield* Effect.fail(badRequest(`start offset ${offset} is past the end of the file (${info.size} bytes)`))
      }
      yield* Effect.logInfo(offset > 0 ? `download resumed at ${offset} bytes` : "download started").pipe(
        Effect.annotateLogs({ name: info.name, size: info.size })
      )
      yield* Stream.runForEachArray(
        file.read(offset),
        (chunks) => Queue.offerAll(queue, chunks.map((chunk) => [Protocol.dataFrameHeader(chunk.length), chunk] as const))
      )
    }))

  const list = Effect.gen(function*() {
    let count = 0
    yield* Stream.runForEach(store.list, (entry) => {
      count++
      return send({
        type: "entry",
        name: entry.name,
        size: entry.size,
        sha256: entry.sha256,
        modifiedAt: toIso(entry.modifiedAt)
      })
    })
    yield* send({ type: "end", count })
  })

  return receiveRequest.pipe(
    Effect.catch((error): Effect.Effect<void, ConnectionError.ConnectionError> => {
      if (error instanceof FilesError.FilesError) {
        const reason = error.reason
        if (!FilesError.isServerReason(reason)) return Effect.die(error)
        const reply = Effect.andThen(sendError(reason), Protocol.linger(framePull, lingerFor))
        return FilesError.isProtocolViolation(reason)
          ? Effect.andThen(reply, Effect.fail(Protocol.protocolViolation(reason.message)))
          : Effect.andThen(logFailure(reason), reply)
      }
      const reason = error.reason
      if (reason._tag === "FrameTooLarge" || reason._tag === "DecodeFailed") {
        // The decoder has stopped; what is left of the input is read raw.
        return sendError(new FilesError.BadFrame({ detail: reason.message })).pipe(
          Effect.andThen(Protocol.linger(rawPull, lingerFor)),
          Effect.andThen(Effect.fail(error))
        )
      }
      return Effect.fail(error)
    })
  )
}

// A declined request is routine (INFO); a failed disk is the operator's
// business (ERROR; WARN for a full disk), with the path it failed on, which
// the client's message leaves out.
const logFailure = (reason: FilesError.ServerReason): Effect.Effect<void> => {
  if (!FilesError.isStorageFailure(reason)) {
    return Effect.logInfo("request declined").pipe(Effect.annotateLogs({ reason: reason.message }))
  }
  const log = reason._tag === "DiskFull" ? Effect.logWarning : Effect.logError
  return log("request failed").pipe(Effect.annotateLogs({ reason: reason.message, path: reason.path }))
}

// Fails with `TooSlow` at the end of the first window (from `since`) in
// which the upload received less than the rule's minimum, or than what it
// had left to receive; never ends otherwise (it is raced with the upload).
// Window ends are computed from `since`, not slept one after the other, so
// they do not drift.
const minimumRate = (
  session: FileStore.Upload,
  size: number,
  since: number,
  rate: RateRule
): Effect.Effect<never, FilesError.FilesError> => {
  if (rate.bytesPerSecond <= 0 || rate.windowMillis <= 0 || !Number.isFinite(rate.windowMillis)) return Effect.never
  const minimum = Math.ceil(rate.bytesPerSecond * rate.windowMillis / 1000)
  return Effect.gen(function*() {
    let windowEnd = since + rate.windowMillis
    let receivedBefore = session.received()
    while (true) {
      const now = yield* Clock.currentTimeMillis
      if (now < windowEnd) yield* Effect.sleep(Duration.millis(windowEnd - now))
      const received = session.received()
      if (received - receivedBefore < Math.min(minimum, size - receivedBefore)) {
        return yield* Effect.fail(FilesError.make(
          new FilesError.TooSlow({
            received: received - receivedBefore,
            windowMillis: rate.windowMillis,
            minBytesPerSecond: rate.bytesPerSecond
          })
        ))
      }
      receivedBefore = received
      windowEnd += rate.windowMillis
    }
  })
}

const badRequest = (detail: string) => FilesError.make(new FilesError.BadRequest({ detail }))
