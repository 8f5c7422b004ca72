/**
 * Bytes as tests handle them: text to and from UTF-8, socket chunks
 * (`Uint8Array | string`) as bytes, chunks joined into one buffer, buffers
 * compared, and payloads to send (random, or a deterministic pattern).
 *
 * Stage: none; test code at either end of the pipeline uses it to build what
 * it writes and to check what it read. Plain functions over `Uint8Array`
 * and the web globals (`TextEncoder`, `crypto`), so it runs wherever the
 * memory network does.
 *
 * @since 0.1.0
 */
import type * as Equivalence from "effect/Equivalence"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Text as UTF-8 bytes.
 *
 * @since 0.1.0
 * @category conversions
 */
export const encode = (text: string): Uint8Array => encoder.encode(text)

/**
 * UTF-8 bytes as text (invalid sequences become U+FFFD, never an error).
 *
 * @since 0.1.0
 * @category conversions
 */
export const decode = (bytes: Uint8Array): string => decoder.decode(bytes)

/**
 * A chunk as sockets carry it, as bytes: text is encoded as UTF-8, bytes are
 * returned as they are (not copied).
 *
 * @since 0.1.0
 * @category conversions
 */
export const from = (chunk: Uint8Array | string): Uint8Array => typeof chunk === "string" ? encode(chunk) : chunk

/**
 * Joins chunks (text as UTF-8) into one fresh buffer. Always a copy, so the
 * result never shares memory with a chunk.
 *
 * @since 0.1.0
 * @category combinators
 */
export const concat = (chunks: Iterable<Uint8Array | string>): Uint8Array => {
  const list = Array.from(chunks, from)
  let total = 0
  for (const chunk of list) total += chunk.byteLength
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of list) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/**
 * Byte-for-byte equality. A plain loop rather than `Array.prototype.every`:
 * tests compare payloads of several MiB.
 *
 * @since 0.1.0
 * @category equivalences
 */
export const equals: Equivalence.Equivalence<Uint8Array> = (self, that) => {
  if (self.byteLength !== that.byteLength) return false
  for (let i = 0; i < self.byteLength; i++) {
    if (self[i] !== that[i]) return false
  }
  return true
}

// `crypto.getRandomValues` fills at most 64 KiB per call.
const randomFillLimit = 65536

/**
 * `size` random bytes, for payloads that must not compress or repeat.
 *
 * @since 0.1.0
 * @category constructors
 */
export const random = (size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  for (let offset = 0; offset < size; offset += randomFillLimit) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + randomFillLimit)))
  }
  return bytes
}

/**
 * `size` deterministic bytes (`(i * 31 + seed) & 0xff`): different seeds give
 * payloads a test can tell apart, and a failure reproduces exactly.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pattern = (size: number, seed = 0): Uint8Array => {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff
  return bytes
}
