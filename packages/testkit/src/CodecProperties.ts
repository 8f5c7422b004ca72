/**
 * Reusable properties that every `FrameCodec` must satisfy, so a new codec is
 * held to the same contract as the built-in ones with a few lines of test.
 *
 * Stage: frame decode / frame encode (tests only). Two properties:
 *
 * - `roundTrip`: decoding what the codec encoded gives the frames back.
 * - `splitInvariance`: the encoded bytes re-cut at generated boundaries, cut
 *   into single bytes, or coalesced into one chunk (and those pieces grouped
 *   into stream chunks in different ways) decode to exactly what the
 *   encoder's own chunks decode to. `bytesSplitInvariance` states the same
 *   for arbitrary (possibly invalid) input, failures included.
 *
 * Using them for a new codec, with `@effect/vitest`:
 *
 * ```ts
 * const frame = Arbitrary.schema(MyFrameSchema)
 * it.effect.prop(
 *   "round trip",
 *   [CodecProperties.frames(frame)],
 *   ([frames]) => CodecProperties.roundTrip(codec, equivalence, frames),
 *   CodecProperties.propOptions
 * )
 * it.effect.prop(
 *   "split invariance",
 *   [CodecProperties.frames(frame), CodecProperties.split],
 *   ([frames, split]) => CodecProperties.splitInvariance(codec, equivalence, frames, split),
 *   CodecProperties.propOptions
 * )
 * // or both at once, as one test:
 * it.effect("codec laws", () => CodecProperties.checkAll({ codec, frame, equivalence }))
 * ```
 *
 * The frame arbitrary must only generate frames the codec can represent
 * (for example lines without LF); everything else is codec-independent.
 * Every check runs {@link defaultRuns} generated cases unless told otherwise.
 *
 * @since 0.1.0
 */
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as FrameCodec from "@socket-to-me/core/FrameCodec"
import * as Arbitrary from "effect/Arbitrary"
import type * as Arr from "effect/Array"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Equivalence from "effect/Equivalence"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Bytes from "./Bytes.ts"

/**
 * Generated cases each property check runs by default.
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultRuns = 1000

/**
 * Options for `it.effect.prop` (its fourth argument) that run
 * {@link defaultRuns} cases.
 *
 * @since 0.1.0
 * @category defaults
 */
export const propOptions: { readonly arbitrary: Arbitrary.CheckOptions } = { arbitrary: { runs: defaultRuns } }

/**
 * How encoded bytes are re-cut: piece sizes, used in a cycle until the bytes
 * run out, and how many pieces travel together in one stream chunk.
 *
 * @since 0.1.0
 * @category models
 */
export interface Split {
  readonly sizes: Arr.NonEmptyReadonlyArray<number>
  readonly group: number
}

/**
 * Generated re-cuttings: pieces of 1 to 64 bytes, grouped 1 to 4 per chunk.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const split: Arbitrary.Arbitrary<Split> = Arbitrary.schema(
  Schema.Struct({
    sizes: Schema.NonEmptyArray(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 }))),
    group: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 }))
  })
)

/**
 * Sequences of 0 to `maxLength` (default 16) frames.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const frames = <Frame>(
  frame: Arbitrary.Arbitrary<Frame>,
  options?: { readonly maxLength?: number | undefined }
): Arbitrary.Arbitrary<Array<Frame>> => Arbitrary.array(frame, { maxLength: options?.maxLength ?? 16 })

/**
 * Arbitrary byte strings, for `bytesSplitInvariance`.
 *
 * @since 0.1.0
 * @category arbitraries
 */
export const bytes: Arbitrary.Arbitrary<Uint8Array> = Arbitrary.schema(Schema.Uint8Array)

/**
 * Byte-for-byte equality of two buffers (`Bytes.equals`), for codecs whose
 * frames are bytes.
 *
 * @since 0.1.0
 * @category equivalences
 */
export const bytesEquivalence: Equivalence.Equivalence<Uint8Array> = Bytes.equals

/**
 * Cuts `bytes` into pieces of the given sizes (cycled) and groups them into
 * stream chunks, `group` pieces per chunk. Pieces are copies, so a decoder
 * cannot rely on them sharing one buffer.
 *
 * @since 0.1.0
 * @category utils
 */
export const cut = (bytes: Uint8Array, split: Split): Array<Array<Uint8Array>> => {
  const out: Array<Array<Uint8Array>> = []
  let current: Array<Uint8Array> = []
  let offset = 0
  let index = 0
  while (offset < bytes.length) {
    const size = split.sizes[index % split.sizes.length]!
    current.push(bytes.slice(offset, offset + size))
    offset += size
    index++
    if (current.length === split.group) {
      out.push(current)
      current = []
    }
  }
  if (current.length > 0) out.push(current)
  return out
}

/**
 * The fixed re-cuttings every split property also tries: one chunk holding
 * everything, one byte per chunk, and one byte per piece all in one chunk.
 *
 * @since 0.1.0
 * @category utils
 */
export const fixedSplits: ReadonlyArray<Split> = [
  { sizes: [Number.MAX_SAFE_INTEGER], group: 1 },
  { sizes: [1], group: 1 },
  { sizes: [1], group: Number.MAX_SAFE_INTEGER }
]

/**
 * What a decode produced: every frame emitted, then the reason tag of the
 * error that ended it, if any.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome<Frame> {
  readonly frames: ReadonlyArray<Frame>
  readonly failure: ConnectionError.ConnectionErrorReason["_tag"] | undefined
}

/**
 * Decodes a stream of bytes and records what came out, including the frames
 * emitted before a failure.
 *
 * @since 0.1.0
 * @category utils
 */
export const outcome = <Frame, R>(
  codec: FrameCodec.FrameCodec<Frame>,
  input: Stream.Stream<Uint8Array, never, R>
): Effect.Effect<Outcome<Frame>, never, R> =>
  Effect.map(Stream.runCollect(Stream.result(codec.decode(input))), (results) => {
    const frames: Array<Frame> = []
    let failure: ConnectionError.ConnectionErrorReason["_tag"] | undefined
    for (const result of results) {
      if (Result.isSuccess(result)) frames.push(result.success)
      else failure = result.failure.reason._tag
    }
    return { frames, failure }
  })

/**
 * Decodes bytes laid out as the given stream chunks.
 *
 * @since 0.1.0
 * @category utils
 */
export const decodeChunks = <Frame>(
  codec: FrameCodec.FrameCodec<Frame>,
  chunks: ReadonlyArray<ReadonlyArray<Uint8Array>>
): Effect.Effect<Outcome<Frame>> => outcome(codec, Stream.fromArrays(...chunks))

/**
 * Whether two outcomes emitted equivalent frames and ended the same way.
 *
 * @since 0.1.0
 * @category utils
 */
export const sameOutcome = <Frame>(
  equivalence: Equivalence.Equivalence<Frame>,
  self: Outcome<Frame>,
  that: Outcome<Frame>
): boolean => self.failure === that.failure && sameFrames(equivalence, self.frames, that.frames)

const sameFrames = <Frame>(
  equivalence: Equivalence.Equivalence<Frame>,
  self: ReadonlyArray<Frame>,
  that: ReadonlyArray<Frame>
): boolean => {
  if (self.length !== that.length) return false
  for (let i = 0; i < self.length; i++) {
    if (!equivalence(self[i]!, that[i]!)) return false
  }
  return true
}

/**
 * Encoding `frames` and decoding the result gives `frames` back, and decoding
 * ends without error.
 *
 * @since 0.1.0
 * @category properties
 */
export const roundTrip = <Frame>(
  codec: FrameCodec.FrameCodec<Frame>,
  equivalence: Equivalence.Equivalence<Frame>,
  frames: ReadonlyArray<Frame>
): Effect.Effect<boolean> =>
  Effect.map(
    outcome(codec, codec.encode(Stream.fromIterable(frames))),
    (decoded) => decoded.failure === undefined && sameFrames(equivalence, decoded.frames, frames)
  )

/**
 * The encoding of `frames`, re-cut by `split` and by every one of
 * {@link fixedSplits}, decodes to the same outcome as the encoder's own
 * chunks.
 *
 * @since 0.1.0
 * @category properties
 */
export const splitInvariance = <Frame>(
  codec: FrameCodec.FrameCodec<Frame>,
  equivalence: Equivalence.Equivalence<Frame>,
  frames: ReadonlyArray<Frame>,
  split: Split
): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const encoded = yield* Stream.runCollect(codec.encode(Stream.fromIterable(frames)))
    const unsplit = yield* decodeChunks(codec, encoded.map((chunk) => [chunk]))
    return yield* splitsAgree(codec, equivalence, Bytes.concat(encoded), unsplit, split)
  })

/**
 * Arbitrary input bytes (valid or not), re-cut by `split` and by every one of
 * {@link fixedSplits}, decode to the same frames and end with the same error
 * (by reason) as the bytes in one piece.
 *
 * @since 0.1.0
 * @category properties
 */
export const bytesSplitInvariance = <Frame>(
  codec: FrameCodec.FrameCodec<Frame>,
  equivalence: Equivalence.Equivalence<Frame>,
  input: Uint8Array,
  split: Split
): Effect.Effect<boolean> =>
  Effect.flatMap(
    decodeChunks(codec, [[input]]),
    (whole) => splitsAgree(codec, equivalence, input, whole, split)
  )

const splitsAgree = <Frame>(
  codec: FrameCodec.FrameCodec<Frame>,
  equivalence: Equivalence.Equivalence<Frame>,
  bytes: Uint8Array,
  expected: Outcome<Frame>,
  split: Split
): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    for (const layout of [split, ...fixedSplits]) {
      const decoded = yield* decodeChunks(codec, cut(bytes, layout))
      if (!sameOutcome(equivalence, decoded, expected)) return false
    }
    return true
  })

/**
 * A property check that did not pass; `report` says which input falsified
 * it, after shrinking, and how to replay it.
 *
 * @since 0.1.0
 * @category errors
 */
export class PropertyFalsified extends Data.TaggedError("PropertyFalsified")<{
  readonly property: string
  readonly report: string
}> {
  override get message(): string {
    return `${this.property}: ${this.report}`
  }
}

/**
 * What {@link checkRoundTrip}, {@link checkSplitInvariance} and
 * {@link checkAll} need: the codec, frames it can represent, and when two
 * frames count as equal.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckOptions<Frame> {
  readonly codec: FrameCodec.FrameCodec<Frame>
  readonly frame: Arbitrary.Arbitrary<Frame>
  readonly equivalence: Equivalence.Equivalence<Frame>
  /** Longest generated frame sequence; 16 by default. */
  readonly maxFrames?: number | undefined
  /** Passed to `Arbitrary.checkEffect`; `runs` defaults to {@link defaultRuns}. */
  readonly check?: Arbitrary.CheckOptions | undefined
}

const run = <A>(
  property: string,
  arbitrary: Arbitrary.Arbitrary<A>,
  predicate: (value: A) => Effect.Effect<boolean>,
  options: Arbitrary.CheckOptions | undefined
): Effect.Effect<void, PropertyFalsified> =>
  Effect.flatMap(
    Arbitrary.checkEffect(arbitrary, predicate, { runs: defaultRuns, ...options }),
    (result) => {
      const report = Arbitrary.formatCheckFailure(result)
      return report === undefined ? Effect.void : Effect.fail(new PropertyFalsified({ property, report }))
    }
  )

/**
 * Checks {@link roundTrip} over generated frame sequences.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkRoundTrip = <Frame>(options: CheckOptions<Frame>): Effect.Effect<void, PropertyFalsified> =>
  run(
    `${options.codec.name}: round trip`,
    frames(options.frame, { maxLength: options.maxFrames }),
    (values) => roundTrip(options.codec, options.equivalence, values),
    options.check
  )

/**
 * Checks {@link splitInvariance} over generated frame sequences and splits.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkSplitInvariance = <Frame>(
  options: CheckOptions<Frame>
): Effect.Effect<void, PropertyFalsified> =>
  run(
    `${options.codec.name}: split invariance`,
    Arbitrary.all([frames(options.frame, { maxLength: options.maxFrames }), split]),
    ([values, layout]) => splitInvariance(options.codec, options.equivalence, values, layout),
    options.check
  )

/**
 * Checks {@link bytesSplitInvariance} over generated byte strings and splits.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkBytesSplitInvariance = <Frame>(
  options: Omit<CheckOptions<Frame>, "frame" | "maxFrames"> & {
    /** Input to decode; arbitrary bytes by default. */
    readonly input?: Arbitrary.Arbitrary<Uint8Array> | undefined
  }
): Effect.Effect<void, PropertyFalsified> =>
  run(
    `${options.codec.name}: split invariance on arbitrary bytes`,
    Arbitrary.all([options.input ?? bytes, split]),
    ([input, layout]) => bytesSplitInvariance(options.codec, options.equivalence, input, layout),
    options.check
  )

/**
 * Checks the round-trip and split-invariance properties, one after the other.
 *
 * @since 0.1.0
 * @category checks
 */
export const checkAll = <Frame>(options: CheckOptions<Frame>): Effect.Effect<void, PropertyFalsified> =>
  Effect.andThen(checkRoundTrip(options), checkSplitInvariance(options))
