// The example of `FrameCodec.ts`'s module doc, verbatim (FrameCodec.test.ts
// checks that it is): compiled by the type-check and held to the codec laws.
import { ConnectionError, FrameCodec } from "@socket-to-me/core"
import * as Stream from "effect/Stream"

const colon = 0x3a
const comma = 0x2c

// Netstrings ("5:hello,"): a decimal length, ":", the payload, ",".
export const netstrings = (maxBytes: number) =>
  FrameCodec.make<Uint8Array>({
    name: "netstrings",
    decoder: () => {
      // Digits of the length read so far (0 between frames), the length,
      // and once ":" has come, the payload being filled.
      let digits = 0
      let size = 0
      let payload: Uint8Array | undefined
      let filled = 0
      return {
        step: (chunk, out) => {
          let i = 0
          while (i < chunk.length) {
            if (payload === undefined) {
              const byte = chunk[i++]!
              if (byte === colon && digits > 0) {
                payload = new Uint8Array(size)
                filled = 0
              } else if (byte >= 0x30 && byte <= 0x39) {
                size = size * 10 + byte - 0x30
                digits++
                if (size > maxBytes) return new ConnectionError.FrameTooLarge({ size, limit: maxBytes })
              } else {
                return new ConnectionError.DecodeFailed({ detail: "netstring length expected" })
              }
            } else if (filled < payload.length) {
              const n = Math.min(payload.length - filled, chunk.length - i)
              payload.set(chunk.subarray(i, i + n), filled)
              filled += n
              i += n
            } else {
              if (chunk[i++] !== comma) return new ConnectionError.DecodeFailed({ detail: "\",\" expected" })
              out.push(payload)
              payload = undefined
              digits = 0
              size = 0
            }
          }
          return undefined
        },
        // No `flush`: input that ends inside a frame fails with `PeerClosed`.
        partial: () => digits > 0
      }
    },
    encode: (frames) =>
      Stream.map(frames, (frame) => {
        const head = new TextEncoder().encode(`${frame.length}:`)
        const wire = new Uint8Array(head.length + frame.length + 1)
        wire.set(head)
        wire.set(frame, head.length)
        wire[wire.length - 1] = comma
        return wire
      })
  })
