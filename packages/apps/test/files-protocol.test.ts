/**
 * The files protocol's wire form: every message survives encoding and
 * decoding, over the length-prefixed codec and any split of the bytes, and
 * the sender's zero-copy framing writes exactly what the codec would.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as FrameCodec from "@socket-to-me/core/FrameCodec"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as CodecProperties from "@socket-to-me/testkit/CodecProperties"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Protocol from "../src/files/Protocol.ts"

type ServerFrame = Protocol.Frame<Protocol.ServerMessage>

const encodeJson = Schema.encodeSync(Schema.fromJsonString(Protocol.ServerMessage))
const controlPayload = (message: Protocol.ServerMessage) =>
  Uint8Array.from([Protocol.controlFrame, ...Bytes.encode(encodeJson(message))])

// The protocol as a codec of server frames: the length-prefixed codec below,
// `Protocol` above it.
const serverCodec: FrameCodec.FrameCodec<ServerFrame> = {
  name: "files (server frames)",
  decode: (bytes) =>
    Protocol.codec().decode(bytes).pipe(
      Stream.mapEffect((payload) =>
        Effect.mapError(
          Protocol.decodeServerFrame(payload),
          (error) => ConnectionError.make(new ConnectionError.DecodeFailed({ detail: error.message }))
        )
      )
    ),
  encode: (frames) =>
    Protocol.codec().encode(
      Stream.map(frames, (frame) => frame._tag === "Data" ? Protocol.encodeData(frame.bytes) : controlPayload(frame.message))
    )
}

const sameFrame = (a: ServerFrame, b: ServerFrame): boolean =>
  a._tag === "Data" && b._tag === "Data"
    ? CodecProperties.bytesEquivalence(a.bytes, b.bytes)
    : a._tag === "Control" && b._tag === "Control" && JSON.stringify(a.message) === JSON.stringify(b.message)

const serverFrame: Arbitrary.Arbitrary<ServerFrame> = Arbitrary.all([
  Arbitrary.schema(Protocol.ServerMessage),
  Arbitrary.schema(Schema.Uint8Array),
  Arbitrary.schema(Schema.Boolean)
]).pipe(Arbitrary.map(([message, bytes, data]): ServerFrame =>
  data ? { _tag: "Data", bytes } : { _tag: "Control", message }
))

describe("files protocol", () => {
  it.effect.prop(
    "client messages round-trip through their frame payload",
    [Arbitrary.schema(Protocol.ClientMessage)],
    ([message]) =>
      Effect.gen(function*() {
        const frame = yield* Protocol.decodeClientFrame(yield* Protocol.encodeClient(message))
        return frame._tag === "Control" && JSON.stringify(frame.message) === JSON.stringify(message)
      }),
    CodecProperties.propOptions
  )

  it.effect.prop(
    "server frames round-trip over the length-prefixed codec",
    [CodecProperties.frames(serverFrame)],
    ([frames]) => CodecProperties.roundTrip(serverCodec, sameFrame, frames),
    CodecProperties.propOptions
  )

  it.effect.prop(
    "server frames decode the same under any split of the bytes",
    [CodecProperties.frames(serverFrame), CodecProperties.split],
    ([frames, split]) => CodecProperties.splitInvariance(serverCodec, sameFrame, frames, split),
    CodecProperties.propOptions
  )

  it.effect.prop(
    "wire() and dataFrameHeader() write exactly what the codec encodes",
    [Arbitrary.schema(Schema.Uint8Array)],
    ([bytes]) =>
      Effect.gen(function*() {
        const viaCodec = Bytes.concat(yield* Stream.runCollect(Protocol.codec().encode(Stream.make(Protocol.encodeData(bytes)))))
        const viaWire = Protocol.wire(Protocol.encodeData(bytes))
        const viaHeader = Bytes.concat([Protocol.dataFrameHeader(bytes.length), bytes])
        return Bytes.equals(viaCodec, viaWire) && Bytes.equals(viaCodec, viaHeader)
      }),
    CodecProperties.propOptions
  )

  it.effect("undecodable frames are bad-frame, invalid messages bad-request", () =>
    Effect.gen(function*() {
      const reasonOf = (payload: Uint8Array) =>
        Effect.map(Effect.flip(Protocol.decodeClientFrame(payload)), (error) => error.reason._tag)
      const control = (text: string) => Uint8Array.from([Protocol.controlFrame, ...Bytes.encode(text)])
      assert.strictEqual(yield* reasonOf(new Uint8Array(0)), "BadFrame")
      assert.strictEqual(yield* reasonOf(Uint8Array.of(0x03, 1)), "BadFrame")
      assert.strictEqual(yield* reasonOf(Uint8Array.of(Protocol.controlFrame, 0xff, 0xfe)), "BadFrame")
      assert.strictEqual(yield* reasonOf(control("{\"type\":")), "BadFrame")
      assert.strictEqual(yield* reasonOf(control("{\"type\":\"delete\",\"name\":\"a\"}")), "BadRequest")
      assert.strictEqual(yield* reasonOf(control("{\"type\":\"upload\",\"name\":\"a\",\"size\":1.5,\"sha256\":\"00\"}")), "BadRequest")
      assert.strictEqual(yield* reasonOf(control("{\"type\":\"start\",\"offset\":-1}")), "BadRequest")
      // Unknown fields are ignored: room for later versions.
      const frame = yield* Protocol.decodeClientFrame(control("{\"type\":\"list\",\"since\":1}"))
      assert.deepStrictEqual(frame, { _tag: "Control", message: { type: "list" } })
    }))
})
