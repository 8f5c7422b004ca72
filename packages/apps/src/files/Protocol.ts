/**
 * The files protocol's wire form (docs/protocols/files.md is its
 * reference): length-prefixed frames (`LengthPrefixedCodec`) whose first
 * payload byte says what the rest is.
 *
 * - `0x01` control: a UTF-8 JSON object, one of the messages below, decoded
 *   with `effect/Schema`.
 * - `0x02` data: raw file bytes, at most `FilesConfig.fileChunkBytes` per frame,
 *   no encoding at all.
 *
 * Stage: protocol decode and encode, between the frame codec and the app.
 * One schema per message gives the decoder, the encoder, the docs' field
 * tables and the test arbitraries.
 *
 * @since 0.1.0
 */
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as FrameCodec from "@socket-to-me/core/FrameCodec"
import * as LengthPrefixedCodec from "@socket-to-me/core/LengthPrefixedCodec"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as FilesConfig from "./FilesConfig.ts"
import * as FilesError from "./FilesError.ts"

/**
 * Default TCP port of the files server.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultPort = 7003

/**
 * First payload byte of a control frame.
 *
 * @since 0.1.0
 * @category wire
 */
export const controlFrame = 0x01

/**
 * First payload byte of a data frame.
 *
 * @since 0.1.0
 * @category wire
 */
export const dataFrame = 0x02

/**
 * The frame cap both sides use: a full data frame (type byte plus
 * `chunkBytes`). Control frames are far smaller.
 *
 * @since 0.1.0
 * @category wire
 */
export const maxFrameBytes = (chunkBytes: number = FilesConfig.fileChunkBytes): number => chunkBytes + 1

/**
 * The frame codec of the protocol, capped at {@link maxFrameBytes}.
 *
 * @since 0.1.0
 * @category wire
 */
export const codec = (chunkBytes?: number) => LengthPrefixedCodec.make({ maxFrameBytes: maxFrameBytes(chunkBytes) })

/**
 * The same framing with frames as views of the reads that carried them
 * (`LengthPrefixedCodec.Parts`): what the server and the client read with.
 * A full data frame (65,541 bytes with its prefix) nearly always spans two
 * socket reads; as parts, its bytes go to the file and the hash without
 * first being copied into a frame buffer of their own.
 *
 * @since 0.1.0
 * @category wire
 */
export const partsCodec = (chunkBytes?: number) =>
  LengthPrefixedCodec.makeParts({ maxFrameBytes: maxFrameBytes(chunkBytes) })

/**
 * A frame as the server writes it: views whose concatenation is the
 * frame's wire bytes. A control reply is one buffer ({@link wire}); a data
 * frame is its header ({@link dataFrameHeader}) and a view of the file
 * bytes, which so go to the socket without being copied into a frame.
 *
 * @since 0.1.0
 * @category wire
 */
export type WireFrame = Arr.NonEmptyReadonlyArray<Uint8Array>

/**
 * The server's codec: reads frames as parts ({@link partsCodec}) and
 * writes {@link WireFrame}s, passing their views on as they are.
 *
 * @since 0.1.0
 * @category wire
 */
export const serverCodec = (chunkBytes?: number): FrameCodec.FrameCodec<LengthPrefixedCodec.Parts, WireFrame> => ({
  ...partsCodec(chunkBytes),
  encode: (frames) => Stream.mapArray(frames, Arr.flatten)
})

// -----------------------------------------------------------------------------
// Fields
// -----------------------------------------------------------------------------

/**
 * A SHA-256 digest as 64 lowercase hexadecimal digits.
 *
 * @since 0.1.0
 * @category fields
 */
export const Sha256 = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/))

/**
 * A byte count or offset: a non-negative safe integer.
 *
 * @since 0.1.0
 * @category fields
 */
export const ByteCount = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * Every error code an `error` message can carry (defined with the error
 * family, `FilesError.ErrorCode`, whose reasons map onto them).
 *
 * @since 0.1.0
 * @category fields
 */
export const ErrorCode = FilesError.ErrorCode

/**
 * An error code.
 *
 * @since 0.1.0
 * @category fields
 */
export type ErrorCode = FilesError.ErrorCode

// -----------------------------------------------------------------------------
// Client to server
// -----------------------------------------------------------------------------

/**
 * Offers a file: its name, size and SHA-256. Answered by `accept` or `error`.
 *
 * @since 0.1.0
 * @category client messages
 */
export const Upload = Schema.Struct({
  type: Schema.Literal("upload"),
  name: Schema.String,
  size: ByteCount,
  sha256: Sha256
})

/**
 * Asks for a saved file. Answered by `file` or `error`.
 *
 * @since 0.1.0
 * @category client messages
 */
export const Download = Schema.Struct({
  type: Schema.Literal("download"),
  name: Schema.String
})

/**
 * After `file`: send the file's bytes from `offset` (the size of what the
 * client already has).
 *
 * @since 0.1.0
 * @category client messages
 */
export const Start = Schema.Struct({
  type: Schema.Literal("start"),
  offset: ByteCount
})

/**
 * Asks for the folder's files. Answered by `entry` messages and `end`.
 *
 * @since 0.1.0
 * @category client messages
 */
export const List = Schema.Struct({
  type: Schema.Literal("list")
})

/**
 * Every message a client sends.
 *
 * @since 0.1.0
 * @category client messages
 */
export const ClientMessage = Schema.Union([Upload, Download, Start, List])

/**
 * A message a client sends.
 *
 * @since 0.1.0
 * @category client messages
 */
export type ClientMessage = typeof ClientMessage.Type

// -----------------------------------------------------------------------------
// Server to client
// -----------------------------------------------------------------------------

/**
 * The upload is accepted: send data frames from `offset` to the end. A
 * non-zero offset means the server already holds that prefix (a resume).
 *
 * @since 0.1.0
 * @category server messages
 */
export const Accept = Schema.Struct({
  type: Schema.Literal("accept"),
  offset: ByteCount
})

/**
 * The upload is verified and visible in the folder under `name`, which may
 * differ from the offered name when that one was taken.
 *
 * @since 0.1.0
 * @category server messages
 */
export const Saved = Schema.Struct({
  type: Schema.Literal("saved"),
  name: Schema.String,
  size: ByteCount,
  sha256: Sha256
})

/**
 * Describes a file: in answer to `download` (then the client sends
 * `start`) and, as `entry`, once per file in answer to `list`.
 * `modifiedAt` is an ISO 8601 UTC timestamp.
 *
 * @since 0.1.0
 * @category server messages
 */
export const FileInfo = Schema.Struct({
  type: Schema.Literal("file"),
  name: Schema.String,
  size: ByteCount,
  sha256: Sha256,
  modifiedAt: Schema.String
})

/**
 * One file of a listing (same fields as `file`).
 *
 * @since 0.1.0
 * @category server messages
 */
export const Entry = Schema.Struct({
  type: Schema.Literal("entry"),
  name: Schema.String,
  size: ByteCount,
  sha256: Sha256,
  modifiedAt: Schema.String
})

/**
 * The end of a listing, with the number of entries sent.
 *
 * @since 0.1.0
 * @category server messages
 */
export const End = Schema.Struct({
  type: Schema.Literal("end"),
  count: ByteCount
})

/**
 * The request failed; `code` says why and `message` says it for humans. The
 * server closes the connection after sending it.
 *
 * @since 0.1.0
 * @category server messages
 */
export const ErrorMessage = Schema.Struct({
  type: Schema.Literal("error"),
  code: ErrorCode,
  message: Schema.String
})

/**
 * Every message a server sends.
 *
 * @since 0.1.0
 * @category server messages
 */
export const ServerMessage = Schema.Union([Accept, Saved, FileInfo, Entry, End, ErrorMessage])

/**
 * A message a server sends.
 *
 * @since 0.1.0
 * @category server messages
 */
export type ServerMessage = typeof ServerMessage.Type

// -----------------------------------------------------------------------------
// Encoding
// -----------------------------------------------------------------------------

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

const encodeClientJson = Schema.encodeEffect(Schema.fromJsonString(ClientMessage))
const encodeServerJson = Schema.encodeEffect(Schema.fromJsonString(ServerMessage))

const controlPayload = (json: string): Uint8Array => {
  const body = encoder.encode(json)
  const payload = new Uint8Array(1 + body.length)
  payload[0] = controlFrame
  payload.set(body, 1)
  return payload
}

/**
 * The frame payload (type byte and JSON) of a client message. A message that
 * does not satisfy its schema is a bug of the caller: a defect.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeClient = (message: ClientMessage): Effect.Effect<Uint8Array> =>
  Effect.map(Effect.orDie(encodeClientJson(message)), controlPayload)

/**
 * The frame payload (type byte and JSON) of a server message.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeServer = (message: ServerMessage): Effect.Effect<Uint8Array> =>
  Effect.map(Effect.orDie(encodeServerJson(message)), controlPayload)

/**
 * The frame payload of a data frame: the type byte, then `bytes` (copied).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeData = (bytes: Uint8Array): Uint8Array => {
  const payload = new Uint8Array(1 + bytes.length)
  payload[0] = dataFrame
  payload.set(bytes, 1)
  return payload
}

/**
 * A frame payload as wire bytes: the u32 big-endian length prefix, then the
 * payload (what `codec().encode` makes of it).
 *
 * @since 0.1.0
 * @category encoding
 */
export const wire = (payload: Uint8Array): Uint8Array => {
  const bytes = new Uint8Array(LengthPrefixedCodec.prefixBytes + payload.length)
  writePrefix(bytes, payload.length)
  bytes.set(payload, LengthPrefixedCodec.prefixBytes)
  return bytes
}

const writePrefix = (bytes: Uint8Array, size: number) => {
  bytes[0] = size >>> 24
  bytes[1] = (size >>> 16) & 0xff
  bytes[2] = (size >>> 8) & 0xff
  bytes[3] = size & 0xff
}

/**
 * Bytes before the file data in a data frame on the wire: the u32 length
 * prefix and the type byte.
 *
 * @since 0.1.0
 * @category encoding
 */
export const dataHeaderBytes = LengthPrefixedCodec.prefixBytes + 1

/**
 * The wire header of a data frame carrying `dataBytes` file bytes: the u32
 * length prefix and the type byte. Written before a view of the file
 * bytes, it gives the bytes the codec would encode without copying the
 * data: a sender reads a large piece of its file once and sends it as
 * header/view pairs, many in one socket write.
 *
 * @since 0.1.0
 * @category encoding
 */
export const dataFrameHeader = (dataBytes: number): Uint8Array => {
  const header = new Uint8Array(dataHeaderBytes)
  writePrefix(header, dataBytes + 1)
  header[4] = dataFrame
  return header
}

// -----------------------------------------------------------------------------
// Decoding
// -----------------------------------------------------------------------------

/**
 * A decoded frame: a control message or file bytes.
 *
 * @since 0.1.0
 * @category decoding
 */
export type Frame<M> =
  | { readonly _tag: "Control"; readonly message: M }
  | { readonly _tag: "Data"; readonly bytes: Uint8Array }

/**
 * Whether a frame payload is a data frame.
 *
 * @since 0.1.0
 * @category decoding
 */
export const isData = (payload: Uint8Array): boolean => payload.length > 0 && payload[0] === dataFrame

const decodeJson = Schema.decodeUnknownEffect(Schema.fromJsonString(Schema.Unknown))

const badFrame = (detail: string) => FilesError.make(new FilesError.BadFrame({ detail }))

const decodeWith = <S extends Schema.Codec<unknown, unknown>>(schema: S) => {
  const decodeMessage = Schema.decodeUnknownEffect(schema)
  return (payload: Uint8Array): Effect.Effect<Frame<S["Type"]>, FilesError.FilesError> => {
    if (payload.length === 0) return Effect.fail(badFrame("empty frame (no type byte)"))
    const type = payload[0]!
    if (type === dataFrame) return Effect.succeed({ _tag: "Data", bytes: payload.subarray(1) })
    if (type !== controlFrame) {
      return Effect.fail(badFrame(`unknown frame type 0x${type.toString(16).padStart(2, "0")}`))
    }
    return Effect.try({
      try: () => decoder.decode(payload.subarray(1)),
      catch: () => badFrame("control frame is not valid UTF-8")
    }).pipe(
      Effect.flatMap((text) => Effect.mapError(decodeJson(text), () => badFrame("control frame is not valid JSON"))),
      Effect.flatMap((json) =>
        Effect.mapError(
          decodeMessage(json),
          (issue) => FilesError.make(new FilesError.BadRequest({ detail: oneLine(issue.message) }))
        )
      ),
      Effect.map((message) => ({ _tag: "Control", message }) as const)
    )
  }
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, "; ")

/**
 * Decodes a frame payload a server received. Fails with `BadFrame` (not a
 * frame of this protocol) or `BadRequest` (JSON that is not a client message).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeClientFrame: (payload: Uint8Array) => Effect.Effect<Frame<ClientMessage>, FilesError.FilesError> =
  decodeWith(ClientMessage)

/**
 * Decodes a frame payload a client received.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeServerFrame: (payload: Uint8Array) => Effect.Effect<Frame<ServerMessage>, FilesError.FilesError> =
  decodeWith(ServerMessage)

// -----------------------------------------------------------------------------
// Reading frames
// -----------------------------------------------------------------------------

/**
 * Reads frames one at a time or a batch at a time from a pull of frame
 * batches (frames as parts, see {@link partsCodec}), keeping what a batch
 * held beyond the frame asked for. Used by one fiber (its `let`s are that
 * fiber's loop state).
 *
 * @since 0.1.0
 * @category decoding
 */
export interface FrameReader {
  /** The next frame payload (its parts joined), or `undefined` at the end of input. */
  readonly next: Effect.Effect<Uint8Array | undefined, ConnectionError.ConnectionError>
  /** The frames already received (at least one), or `undefined` at the end of input. */
  readonly batch: Effect.Effect<ReadonlyArray<LengthPrefixedCodec.Parts> | undefined, ConnectionError.ConnectionError>
}

/**
 * A `FrameReader` over `pull`.
 *
 * @since 0.1.0
 * @category decoding
 */
export const reader = (
  pull: Pull.Pull<Arr.NonEmptyReadonlyArray<LengthPrefixedCodec.Parts>, ConnectionError.ConnectionError>
): FrameReader => {
  let pending: ReadonlyArray<LengthPrefixedCodec.Parts> = []
  let index = 0
  const fill: Effect.Effect<boolean, ConnectionError.ConnectionError> = Effect.suspend(() =>
    index < pending.length ? Effect.succeed(true) : Pull.matchEffect(pull, {
      onSuccess: (frames) => {
        pending = frames
        index = 0
        return Effect.succeed(true)
      },
      onFailure: Effect.failCause,
      onDone: () => Effect.succeed(false)
    })
  )
  return {
    next: Effect.map(fill, (more) => more ? LengthPrefixedCodec.concatParts(pending[index++]!) : undefined),
    batch: Effect.map(fill, (more) => {
      if (!more) return undefined
      const frames = index === 0 ? pending : pending.slice(index)
      index = pending.length
      return frames
    })
  }
}

// Batches of received frames waiting for the disk: the reader goes on
// while a write is in flight, and the next write takes everything that
// arrived meanwhile in one call. A batch is what one socket read held (at
// most about 128 KiB), so 16 bound the bytes in flight to about 2 MiB.
const receiveQueueBatches = 16

/**
 * Receives the data frames of a transfer of `bytes` file bytes and hands
 * their contents to `write`, reading the next frames while a write is in
 * flight, so that the network and the disk work at the same time and each
 * write takes everything that arrived meanwhile. Memory stays bounded (see
 * `receiveQueueBatches`). A frame that is not a data frame goes to
 * `onControl`; input that ends before `bytes` to `onEnd`. More than `bytes`
 * is passed on to `write`, which decides.
 *
 * @since 0.1.0
 * @category decoding
 */
export const receiveData = <E, R>(options: {
  readonly frames: FrameReader
  readonly bytes: number
  readonly write: (bodies: ReadonlyArray<Uint8Array>, length: number) => Effect.Effect<void, E, R>
  readonly onControl: (payload: Uint8Array) => Effect.Effect<never, E>
  readonly onEnd: (received: number) => Effect.Effect<never, E>
}): Effect.Effect<void, E | ConnectionError.ConnectionError, R> =>
  options.bytes <= 0 ? Effect.void : Effect.scoped(Effect.gen(function*() {
    const queue = yield* Queue.bounded<
      { readonly bodies: ReadonlyArray<Uint8Array>; readonly length: number },
      E | ConnectionError.ConnectionError | Cause.Done
    >(receiveQueueBatches)
    const read = Effect.gen(function*() {
      let received = 0
      while (received < options.bytes) {
        const batch = yield* options.frames.batch
        if (batch === undefined) return yield* options.onEnd(received)
        const bodies: Array<Uint8Array> = []
        let length = 0
        for (let i = 0; i < batch.length; i++) {
          const parts = batch[i]!
          // The type byte is in the first part; the file bytes are the rest
          // of it and the other parts, passed on as they are (views).
          const first = parts[0]
          if (!isData(first)) return yield* options.onControl(LengthPrefixedCodec.concatParts(parts))
          if (first.length > 1) bodies.push(first.subarray(1))
          length += first.length - 1
          for (let j = 1; j < parts.length; j++) {
            bodies.push(parts[j]!)
            length += parts[j]!.length
          }
        }
        received += length
        yield* Queue.offer(queue, { bodies, length })
      }
    })
    yield* Effect.forkScoped(Queue.into(queue)(read))
    let written = 0
    while (written < options.bytes) {
      const batches = yield* Queue.takeAll(queue).pipe(Pull.catchDone(() => options.onEnd(written)))
      const bodies = batches.length === 1 ? batches[0]!.bodies : batches.flatMap((batch) => batch.bodies)
      let length = 0
      for (let i = 0; i < batches.length; i++) length += batches[i]!.length
      yield* options.write(bodies, length)
      written += length
    }
  }))

/**
 * Reads and discards the rest of an input until it ends or fails, for at
 * most `FilesConfig.errorLinger` (see there for why).
 *
 * @since 0.1.0
 * @category decoding
 */
export const linger = <A, E>(
  pull: Pull.Pull<A, E>,
  duration: Effect.Effect<void> = Effect.sleep(FilesConfig.errorLinger)
): Effect.Effect<void> =>
  Effect.raceFirst(
    pull.pipe(Effect.forever, Effect.ignore),
    duration
  )

/**
 * The failure a connection ends with when its peer broke the protocol.
 *
 * @since 0.1.0
 * @category decoding
 */
export const protocolViolation = (detail: string): ConnectionError.ConnectionError =>
  ConnectionError.make(new ConnectionError.DecodeFailed({ detail }))
