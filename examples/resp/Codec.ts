// The RESP2 codec of the server: bytes to commands, replies to bytes. The
// frame stage of the pipeline, written with core's `FrameCodec.make`.
//
// The decoder follows redis-server's own parser (`processMultibulkBuffer`
// and `processInlineBuffer` in networking.c) rule for rule, so that a
// client sees the same replies and the same protocol errors:
// - A command starting with `*` is multibulk: `*N\r\n` then N bulk strings
//   `$len\r\n<len bytes>\r\n`; anything else is an inline line ended by LF
//   (a CR before it is dropped). `*0` and `*-1`, and empty lines, are
//   skipped without a reply.
// - A header line ends at its CR and needs one more byte, whatever it is;
//   the two bytes after a bulk string are skipped unread. Redis checks
//   neither, so neither does this.
// - Redis looks for line ends with `strchr`, which stops at a NUL byte: a
//   NUL before a line's end hides that end, and the line then runs on
//   until it is too long. So it does here.
// - Protocol errors are `DecodeFailed` whose detail is Redis's text
//   (`Protocol error: invalid bulk length`); the session replies it as
//   `-ERR ...` after the replies to the commands before it, and closes.
//
// It holds at most one command: the header line being read (its first 22
// bytes and a count), the bulk string being filled (allocated once its
// length is known and within `maxBulkBytes`), and the arguments so far
// (within `maxArgs` and, with the headers, `maxCommandBytes`), or the
// inline line (within `maxInlineBytes`, so its arguments are bounded too).
// Arguments are copies, so a stored value never pins a whole read buffer.
import { ConnectionError, FrameCodec } from "@socket-to-me/core"
import * as Stream from "effect/Stream"
import * as Config from "./Config.ts"
import * as Inline from "./Inline.ts"
import * as Reply from "./Reply.ts"

/** Limits of one connection's decoder; the defaults are `Config`'s. */
export interface Options {
  readonly maxBulkBytes?: number | undefined
  readonly maxArgs?: number | undefined
  readonly maxCommandBytes?: number | undefined
  readonly maxInlineBytes?: number | undefined
}

const CR = 0x0d
const LF = 0x0a
const NUL = 0x00
const STAR = 0x2a
const DOLLAR = 0x24

// Where the decoder is within a command.
const Start = 0 // between commands
const CountLine = 1 // the `*N` line
const BulkLine = 2 // a `$len` line
const BulkData = 3 // a bulk string's bytes, then the two after it
const InlineLine = 4 // an inline command line

// Header bytes kept: the prefix and 21 more, one past the longest integer
// `string2ll` accepts, so that longer lines still fail as Redis fails them.
const headerKept = 22
const empty = new Uint8Array(0)

/** Redis's protocol error text, as the session replies it (`-ERR ` + detail). */
const protocolError = (detail: string) => new ConnectionError.DecodeFailed({ detail: `Protocol error: ${detail}` })

const tooLarge = (size: number, limit: number) => new ConnectionError.FrameTooLarge({ size, limit })

// Redis's addReplyErrorFormat turns CR and LF in the text into spaces.
const quoted = (byte: number) => byte === CR || byte === LF ? " " : String.fromCharCode(byte)

type Limits = { readonly [K in keyof Options]-?: number }

const decoder = (limits: Limits) => (): FrameCodec.Decoder<Reply.Command> => {
  let state = Start
  // The header line: its first bytes, its length so far, whether its CR
  // has come (one more byte ends it), whether a NUL hid its end.
  const header = new Uint8Array(headerKept)
  let lineLength = 0
  let crSeen = false
  let hidden = false
  // The inline line so far (a copy; it grows up to the cap).
  let inline = new Uint8Array(256)
  // The command so far.
  let args: Array<Uint8Array> = []
  let remaining = 0
  let commandBytes = 0
  let bulk: Uint8Array = empty
  let filled = 0
  let skip = 0

  const startLine = () => {
    lineLength = 0
    crSeen = false
    hidden = false
  }

  const finish = (out: Array<Reply.Command>) => {
    out.push(args)
    args = []
    state = Start
  }

  // Reads a header line from chunk[i...]: the index after it once it is
  // complete, or -1 when the chunk ran out first. `tooBig` is the error
  // for a line that runs past the cap.
  const readHeader = (chunk: Uint8Array, i: number, tooBig: string): number | ConnectionError.DecodeFailed => {
    while (i < chunk.length) {
      const byte = chunk[i++]!
      if (crSeen) return i
      if (!hidden && byte === CR) {
        crSeen = true
        continue
      }
      if (byte === NUL) hidden = true
      if (lineLength < headerKept) header[lineLength] = byte
      lineLength++
      if (lineLength > limits.maxInlineBytes) return protocolError(tooBig)
    }
    return -1
  }

  const appendInline = (chunk: Uint8Array, from: number, to: number) => {
    const needed = lineLength + to - from
    if (needed > inline.length) {
      const grown = new Uint8Array(Math.min(limits.maxInlineBytes + 1, Math.max(needed, inline.length * 2)))
      grown.set(inline.subarray(0, lineLength))
      inline = grown
    }
    inline.set(chunk.subarray(from, to), lineLength)
    lineLength = needed
  }

  const step = (chunk: Uint8Array, out: Array<Reply.Command>): ConnectionError.ConnectionErrorReason | undefined => {
    let i = 0
    while (i < chunk.length) {
      switch (state) {
        case Start: {
          startLine()
          commandBytes = 0
          if (chunk[i] === STAR) {
            header[0] = STAR
            lineLength = 1
            i++
            state = CountLine
          } else {
            state = InlineLine
          }
          break
        }
        case CountLine: {
          const next = readHeader(chunk, i, "too big mbulk count string")
          if (typeof next !== "number") return next
          if (next === -1) return undefined
          i = next
          const count = lineLength <= headerKept ? Reply.parseInteger(header, 1, lineLength) : undefined
          if (count === undefined || count > BigInt(limits.maxArgs)) return protocolError("invalid multibulk length")
          commandBytes = lineLength + 2
          if (count <= 0n) {
            state = Start
            break
          }
          remaining = Number(count)
          args = []
          startLine()
          state = BulkLine
          break
        }
        case BulkLine: {
          const next = readHeader(chunk, i, "too big bulk count string")
          if (typeof next !== "number") return next
          if (next === -1) return undefined
          i = next
          // An empty line's first byte is its CR.
          const first = lineLength === 0 ? CR : header[0]!
          if (first !== DOLLAR) return protocolError(`expected '$', got '${quoted(first)}'`)
          const length = lineLength <= headerKept ? Reply.parseInteger(header, 1, lineLength) : undefined
          if (length === undefined || length < 0n || length > BigInt(limits.maxBulkBytes)) {
            return protocolError("invalid bulk length")
          }
          const size = Number(length)
          commandBytes += lineLength + 2 + size + 2
          if (commandBytes > limits.maxCommandBytes) return tooLarge(commandBytes, limits.maxCommandBytes)
          bulk = size === 0 ? empty : new Uint8Array(size)
          filled = 0
          skip = 2
          state = BulkData
          break
        }
        case BulkData: {
          if (filled < bulk.length) {
            const n = Math.min(bulk.length - filled, chunk.length - i)
            bulk.set(chunk.subarray(i, i + n), filled)
            filled += n
            i += n
            break
          }
          // The two bytes after the string, unread, as Redis does.
          const n = Math.min(skip, chunk.length - i)
          skip -= n
          i += n
          if (skip > 0) return undefined
          args.push(bulk)
          bulk = empty
          if (--remaining === 0) finish(out)
          else {
            startLine()
            state = BulkLine
          }
          break
        }
        case InlineLine: {
          if (!hidden) {
            const lf = chunk.indexOf(LF, i)
            const end = lf === -1 ? chunk.length : lf
            if (chunk.subarray(i, end).indexOf(NUL) === -1) {
              if (lineLength + end - i > limits.maxInlineBytes) return protocolError("too big inline request")
              appendInline(chunk, i, end)
              if (lf === -1) return undefined
              i = lf + 1
              const line = lineLength > 0 && inline[lineLength - 1] === CR ? lineLength - 1 : lineLength
              const parsed = Inline.split(inline.subarray(0, line))
              if (parsed === undefined) return protocolError("unbalanced quotes in request")
              if (inline.length > 4096) inline = new Uint8Array(256)
              state = Start
              if (parsed.length > 0) {
                args = parsed
                finish(out)
              }
              break
            }
            hidden = true
          }
          // A NUL hid the line's end: it only grows, until it is too long.
          lineLength += chunk.length - i
          if (lineLength > limits.maxInlineBytes) return protocolError("too big inline request")
          return undefined
        }
      }
    }
    return undefined
  }

  return { step, partial: () => state !== Start }
}

/** Commands in, replies out: the server's side of RESP2. */
export const make = (options: Options = {}): FrameCodec.FrameCodec<Reply.Command, Reply.Reply> =>
  FrameCodec.make<Reply.Command, Reply.Reply>({
    name: "resp",
    decoder: decoder({
      maxBulkBytes: options.maxBulkBytes ?? Config.maxBulkBytes,
      maxArgs: options.maxArgs ?? Config.maxArgs,
      maxCommandBytes: options.maxCommandBytes ?? Config.maxCommandBytes,
      maxInlineBytes: options.maxInlineBytes ?? Config.maxInlineBytes
    }),
    encode: (replies) => Stream.map(replies, Reply.encode)
  })

/** The codec with `Config`'s limits. */
export const codec = make()

/** A command as a client sends it: a multibulk array of bulk strings. */
export const encodeCommand = (args: Reply.Command): Uint8Array => {
  const encoder = new Reply.Encoder()
  encoder.write(Reply.array(args.map(Reply.bulk)))
  return encoder.take()
}
