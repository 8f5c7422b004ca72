/**
 * The length-prefixed codec: each frame is a u32 big-endian payload length
 * followed by that many payload bytes, for binary protocols.
 *
 * Stage: frame decode / frame encode. The decoder reads the prefix (which may
 * itself arrive in pieces) and checks it against the cap before it accepts a
 * single payload byte, so a peer cannot make the server hold more than
 * `maxFrameBytes` for it. A frame that lies inside one read is handed on as a
 * view of that read (no copy); a frame spread over several reads is either
 * assembled into a fresh buffer (`make`) or handed on as the views of the
 * reads that carried it (`makeParts`), for receivers of bulk data that
 * would only copy it again (to a file, a hash, a socket).
 *
 * @since 0.1.0
 */
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Config from "./Config.ts"
import * as ConnectionError from "./ConnectionError.ts"
import * as FrameCodec from "./FrameCodec.ts"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Largest payload in bytes (prefix excluded). Defaults to `Config.maxFrameBytes`. */
  readonly maxFrameBytes?: number | undefined
}

/**
 * Size of the length prefix, in bytes.
 *
 * @since 0.1.0
 * @category constants
 */
export const prefixBytes = 4

/**
 * Largest payload a u32 prefix can announce.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxEncodableBytes = 0xffff_ffff

/**
 * A frame as the views of the reads that carried it, in order: the payload
 * is their concatenation. There is always at least one view; a frame that
 * lies inside one read (including a zero-length frame) is one view.
 *
 * @since 0.1.0
 * @category models
 */
export type Parts = Arr.NonEmptyReadonlyArray<Uint8Array>

const readU32 = (bytes: Uint8Array, offset: number): number =>
  bytes[offset]! * 0x100_0000 + ((bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!)

// How a decoder hands on a frame: one that lies inside a read (`whole`, a
// view of it) and one spread over reads (`spread`, the views of those reads,
// non-empty, whose lengths add up to `size`).
interface Cutter<Frame> {
  readonly whole: (view: Uint8Array) => Frame
  readonly spread: (parts: Arr.NonEmptyArray<Uint8Array>, size: number) => Frame
}

// The payload copied once into a fresh buffer of its size.
const join = (parts: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const payload = new Uint8Array(size)
  let offset = 0
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    payload.set(part, offset)
    offset += part.length
  }
  return payload
}

const assembling: Cutter<Uint8Array> = { whole: (view) => view, spread: join }

const inParts: Cutter<Parts> = { whole: (view) => [view], spread: (parts) => parts }

const decoder = <Frame>(limit: number, cutter: Cutter<Frame>) => (): FrameCodec.Decoder<Frame> => {
  // A prefix split across reads is gathered here.
  const prefix = new Uint8Array(prefixBytes)
  let prefixFilled = 0
  // The payload being gathered across reads: its announced size (-1 while
  // reading a prefix) and the views of the reads holding it so far. Views,
  // not copies, so the payload is copied at most once, when complete, and
  // memory grows with bytes received, never with bytes merely announced.
  let expected = -1
  let parts: Arr.NonEmptyArray<Uint8Array> | undefined
  let received = 0

  const complete = (): Frame => {
    const frame = cutter.spread(parts!, expected)
    parts = undefined
    received = 0
    expected = -1
    return frame
  }

  return {
    step: (chunk, out) => {
      const length = chunk.length
      let offset = 0
      while (offset < length) {
        if (expected < 0) {
          let size: number
          if (prefixFilled === 0 && length - offset >= prefixBytes) {
            size = readU32(chunk, offset)
            offset += prefixBytes
          } else {
            const n = Math.min(prefixBytes - prefixFilled, length - offset)
            prefix.set(chunk.subarray(offset, offset + n), prefixFilled)
            prefixFilled += n
            offset += n
            if (prefixFilled < prefixBytes) break
            prefixFilled = 0
            size = readU32(prefix, 0)
          }
          if (size > limit) return new ConnectionError.FrameTooLarge({ size, limit })
          if (length - offset >= size) {
            out.push(cutter.whole(chunk.subarray(offset, offset + size)))
            offset += size
            continue
          }
          expected = size
        }
        const n = Math.min(expected - received, length - offset)
        if (n > 0) {
          const part = chunk.subarray(offset, offset + n)
          if (parts === undefined) parts = [part]
          else parts.push(part)
          received += n
          offset += n
        }
        if (received === expected) out.push(complete())
      }
      return undefined
    },
    flush: () => {
      if (expected >= 0) {
        return new ConnectionError.PeerClosed({
          detail: `input ended after ${received} of ${expected} payload bytes of a frame`
        })
      }
      if (prefixFilled > 0) {
        return new ConnectionError.PeerClosed({
          detail: `input ended after ${prefixFilled} of ${prefixBytes} length prefix bytes`
        })
      }
      return undefined
    },
    partial: () => prefixFilled > 0 || expected >= 0
  }
}

// A frame's payload size, and its bytes copied into `into` at `offset`.
interface Writer<Frame> {
  readonly size: (frame: Frame) => number
  readonly copy: (frame: Frame, into: Uint8Array, offset: number) => void
}

const writeWhole: Writer<Uint8Array> = {
  size: (payload) => payload.length,
  copy: (payload, into, offset) => into.set(payload, offset)
}

const writeParts: Writer<Parts> = {
  size: (parts) => {
    let size = 0
    for (let i = 0; i < parts.length; i++) size += parts[i]!.length
    return size
  },
  copy: (parts, into, offset) => {
    for (let i = 0; i < parts.length; i++) {
      into.set(parts[i]!, offset)
      offset += parts[i]!.length
    }
  }
}

// One buffer per chunk of frames: one write (and usually one syscall) for a
// whole batch. A payload past the u32 range cannot be framed at all; that is
// a bug in the caller, so it is a defect rather than a connection error.
const encodeWith = <Frame>(writer: Writer<Frame>) =>
<E, R>(frames: Stream.Stream<Frame, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.transformPull(frames, (upstream) =>
    Effect.succeed(Effect.flatMap(upstream, (payloads) => {
      let total = 0
      for (let i = 0; i < payloads.length; i++) {
        const size = writer.size(payloads[i]!)
        if (size > maxEncodableBytes) {
          return Effect.die(new RangeError(`frame of ${size} bytes exceeds the u32 length prefix`))
        }
        total += prefixBytes + size
      }
      const wire = new Uint8Array(total)
      let offset = 0
      for (let i = 0; i < payloads.length; i++) {
        const payload = payloads[i]!
        const size = writer.size(payload)
        wire[offset] = size >>> 24
        wire[offset + 1] = (size >>> 16) & 0xff
        wire[offset + 2] = (size >>> 8) & 0xff
        wire[offset + 3] = size & 0xff
        writer.copy(payload, wire, offset + prefixBytes)
        offset += prefixBytes + size
      }
      return Effect.succeed(Arr.of(wire))
    })))

/**
 * Builds a length-prefixed codec with the given cap.
 *
 * Decoding accepts any split of the input, including a prefix split across
 * reads. A prefix announcing more than `maxFrameBytes` fails with
 * `FrameTooLarge { size: announced }` before any payload byte is read; input
 * ending inside a prefix or payload fails with `PeerClosed`. Zero-length
 * frames are valid. Decoded frames may be views into the input chunks, so
 * the input must not be mutated after it is emitted (sockets hand out fresh
 * buffers per read).
 *
 * Encoding writes each payload after its prefix, one buffer per chunk of
 * frames. It does not enforce `maxFrameBytes`: the cap protects the reader.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): FrameCodec.FrameCodec<Uint8Array> => {
  const limit = options?.maxFrameBytes ?? Config.maxFrameBytes
  return FrameCodec.make({ name: "length-prefixed", decoder: decoder(limit, assembling), encode: encodeWith(writeWhole) })
}

/**
 * Builds a length-prefixed codec with the given cap whose frames are
 * {@link Parts}: a frame spread over several reads is handed on as the
 * views of those reads instead of being copied into one buffer. For
 * receivers that pass bulk payloads on (to a file, a hash, a socket) and
 * would otherwise copy every large frame twice. Decoding behaves as
 * {@link make}'s in every other way (cap, errors, any split of the input);
 * the views keep the reads they point into alive, so memory is still
 * bounded by the bytes of the frames held.
 *
 * Encoding writes each frame's prefix and then its parts, one buffer per
 * chunk of frames.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeParts = (options?: Options): FrameCodec.FrameCodec<Parts> => {
  const limit = options?.maxFrameBytes ?? Config.maxFrameBytes
  return FrameCodec.make({ name: "length-prefixed", decoder: decoder(limit, inParts), encode: encodeWith(writeParts) })
}

/**
 * The payload of a frame given as {@link Parts}: the one view itself, or
 * the views copied into one buffer.
 *
 * @since 0.1.0
 * @category utils
 */
export const concatParts = (parts: Parts): Uint8Array => {
  if (parts.length === 1) return parts[0]
  return join(parts, writeParts.size(parts))
}

/**
 * The length-prefixed codec with the default cap, `Config.maxFrameBytes`.
 *
 * @since 0.1.0
 * @category codecs
 */
export const lengthPrefixed: FrameCodec.FrameCodec<Uint8Array> = make()
