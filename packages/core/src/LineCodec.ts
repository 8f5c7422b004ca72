/**
 * The line codec: frames are UTF-8 text lines ended by LF, with CRLF accepted,
 * each at most `maxLineBytes` long.
 *
 * Stage: frame decode / frame encode, for text protocols (the kind people
 * drive with `nc`). The decoder cuts bytes on LF before decoding any text, so
 * a multi-byte character split across reads is never seen half-decoded (LF
 * cannot occur inside a UTF-8 sequence). It holds at most one partial line,
 * in one buffer reused across chunks, and fails with `FrameTooLarge` the
 * moment that partial line passes the cap, without pulling more input.
 *
 * @since 0.1.0
 */
import * as Arr from "effect/Array"
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
  /**
   * Largest line in bytes, terminator (LF, or CRLF) excluded. Defaults to
   * `Config.maxLineBytes`.
   */
  readonly maxLineBytes?: number | undefined
}

const LF = 0x0a
const CR = 0x0d

// Non-fatal: invalid UTF-8 becomes U+FFFD instead of failing the connection,
// because a text line protocol should survive a peer's stray byte. ignoreBOM
// keeps a leading U+FEFF as content, so every line decodes verbatim.
// Each call decodes one whole line, so the decoder holds no state between
// calls and one instance serves every connection.
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

// The first partial line gets this much room; the buffer doubles from there,
// up to the cap (plus one byte for a CR whose LF has not arrived yet).
const initialPendingBytes = 256

const tooLarge = (size: number, limit: number): ConnectionError.ConnectionErrorReason =>
  new ConnectionError.FrameTooLarge({ size, limit })

const decoder = (limit: number) => (): FrameCodec.Decoder<string> => {
  // The partial line carried over from earlier chunks: `buffer[0, pending)`.
  // A copy, so the line cannot change if upstream reuses its buffers, and
  // so a short tail does not pin a whole read buffer in memory.
  let buffer = new Uint8Array(0)
  let pending = 0

  const append = (chunk: Uint8Array, from: number, to: number): void => {
    const needed = pending + to - from
    if (needed > buffer.length) {
      // Callers check the cap first, so `needed <= limit + 1` here.
      const grown = new Uint8Array(Math.max(needed, Math.min(limit + 1, Math.max(initialPendingBytes, buffer.length * 2))))
      grown.set(buffer.subarray(0, pending))
      buffer = grown
    }
    buffer.set(chunk.subarray(from, to), pending)
    pending = needed
  }

  return {
    step: (chunk, out) => {
      let start = 0
      let lf = chunk.indexOf(LF)
      while (lf !== -1) {
        if (pending === 0) {
          const end = lf > start && chunk[lf - 1] === CR ? lf - 1 : lf
          if (end - start > limit) return tooLarge(end - start, limit)
          out.push(end === start ? "" : utf8.decode(chunk.subarray(start, end)))
        } else {
          // The CR of a CRLF may be the last pending byte when LF opens this chunk.
          const endsWithCR = lf > start ? chunk[lf - 1] === CR : buffer[pending - 1] === CR
          const size = pending + lf - start - (endsWithCR ? 1 : 0)
          if (size > limit) return tooLarge(size, limit)
          append(chunk, start, lf)
          out.push(utf8.decode(buffer.subarray(0, size)))
          pending = 0
        }
        start = lf + 1
        lf = chunk.indexOf(LF, start)
      }
      if (start < chunk.length) {
        // A partial line may end in the CR of a CRLF whose LF is still on
        // its way, so it may hold `limit + 1` bytes if the last is CR.
        const size = pending + chunk.length - start
        if (size > limit + 1 || (size === limit + 1 && chunk[chunk.length - 1] !== CR)) {
          return tooLarge(size, limit)
        }
        append(chunk, start, chunk.length)
      }
      return undefined
    },
    // At end of input a partial line is emitted as the last line: text
    // protocols are often driven from `nc` or scripts whose last line has
    // no newline, and dropping it would silently lose a command. Its CR,
    // if any, is content (only CRLF is a terminator).
    flush: (out) => {
      if (pending === 0) return undefined
      const size = pending
      pending = 0
      if (size > limit) return tooLarge(size, limit)
      out.push(utf8.decode(buffer.subarray(0, size)))
      return undefined
    },
    partial: () => pending > 0
  }
}

// One buffer per line, not per chunk of lines: a chunk may be a large batch
// (a chat outbox catching up), and the connection's outbound queue counts
// buffers, so one per line keeps its bound a bound in lines. A batch is
// still encoded once, into one buffer that the lines are views of: the
// writer merges adjacent views back (see `Duplex.write`) and sends the
// batch as one buffer. Encoding each line on its own cost a third of a
// chat server's CPU (docs/performance.md).
const encode = <E, R>(frames: Stream.Stream<string, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.mapArray(frames, (lines) => {
    if (lines.length === 1) return Arr.of(utf8Encoder.encode(lines[0] + "\n"))
    const bytes = utf8Encoder.encode(lines.join("\n") + "\n")
    const views: Array<Uint8Array> = []
    for (let start = 0; start < bytes.length;) {
      const end = bytes.indexOf(LF, start) + 1
      views.push(bytes.subarray(start, end))
      start = end
    }
    return views as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
  })

/**
 * One line as the wire bytes `encode` writes for it: UTF-8, then LF. The
 * same rules apply (no LF inside, no CR at the end).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeLine = (line: string): Uint8Array => utf8Encoder.encode(line + "\n")

/**
 * Encodes lines (as `encodeLine` does) for an app that sends each line to
 * many connections, such as a chat room: it encodes a line once and every
 * connection writes the same bytes (see `Framing.handlerEncoded`).
 *
 * @since 0.1.0
 * @category models
 */
export type LineEncoder = (line: string) => Uint8Array

// Lines are written one after another into a slab this big, so lines
// encoded in a row are adjacent views of one buffer: a connection that is
// sent a run of them writes the run as one view (`Duplex.write` merges
// adjacent views) instead of copying each line. A slab is freed once no
// queued line is a view of it, so each line held in a queue keeps at most
// `slabBytes` alive: about what the largest chat line costs alone.
const slabBytes = 4 * 1024
// Longer lines are encoded alone, so a slab always holds a few lines.
const alone = slabBytes / 4

/**
 * Creates a `LineEncoder` that encodes into shared slabs (4 KiB each; a
 * line that could take over a quarter of one is encoded alone), so that
 * lines encoded one after another are adjacent views of one buffer. Keep
 * it to one fiber (a room's actor): it holds the slab being filled.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeEncoder = (): LineEncoder => {
  let slab = new Uint8Array(slabBytes)
  let used = 0
  return (line) => {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit, plus the LF.
    const most = line.length * 3 + 1
    if (most > alone) return encodeLine(line)
    if (used + most > slab.length) {
      slab = new Uint8Array(slabBytes)
      used = 0
    }
    const start = used
    used += utf8Encoder.encodeInto(line, slab.subarray(start)).written
    slab[used++] = LF
    return slab.subarray(start, used)
  }
}

/**
 * Builds a line codec with the given cap.
 *
 * Decoding splits on LF and drops one CR right before it, so LF and CRLF
 * both end a line while a CR anywhere else is content. Lines are decoded as
 * UTF-8 with invalid sequences replaced by U+FFFD (decoding never fails on
 * bad text). A line longer than `maxLineBytes` (terminator excluded) fails
 * with `FrameTooLarge` as soon as the cap is passed, whether or not its end
 * has arrived. A last line without a terminator is emitted when input ends.
 * All complete lines of one read are emitted together as one chunk.
 *
 * Encoding writes each string as UTF-8 followed by LF, one buffer per line.
 * Frames must not contain LF (it would split them into several lines) nor
 * end with CR (it would be read as CRLF); lone UTF-16 surrogates are written
 * as U+FFFD, as `TextEncoder` does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): FrameCodec.FrameCodec<string> => {
  const limit = options?.maxLineBytes ?? Config.maxLineBytes
  return FrameCodec.make({ name: "lines", decoder: decoder(limit), encode })
}

/**
 * The line codec with the default cap, `Config.maxLineBytes`.
 *
 * @since 0.1.0
 * @category codecs
 */
export const lines: FrameCodec.FrameCodec<string> = make()
