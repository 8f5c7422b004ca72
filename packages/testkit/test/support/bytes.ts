/**
 * Byte helpers shared by the testkit's tests.
 */
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import * as TransportErrors from "../../src/TransportErrors.ts"

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

export const concat = (chunks: Iterable<Uint8Array>): Uint8Array => {
  const list = Array.from(chunks)
  const out = new Uint8Array(list.reduce((n, chunk) => n + chunk.byteLength, 0))
  let offset = 0
  for (const chunk of list) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

export const bytesOf = (chunks: Arr.NonEmptyReadonlyArray<Uint8Array | string>): Uint8Array =>
  concat(chunks.map((chunk) => typeof chunk === "string" ? encode(chunk) : chunk))

export const pattern = (size: number, seed = 0): Uint8Array => {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff
  return bytes
}

/** How a socket's input ended, in a form tests can compare. */
export const describeError = (error: Socket.SocketError): string => {
  const reason = error.reason
  if (reason._tag === "SocketCloseError") return `close ${reason.code}`
  const code = TransportErrors.causeCode(error)
  return code === undefined ? reason._tag : `${reason._tag} ${code}`
}

/** Pulls until the socket fails; returns the bytes and how it ended. */
export const readToEnd = Effect.fnUntraced(function*(
  pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array | string>, Socket.SocketError>
) {
  const chunks: Array<Uint8Array> = []
  let pulls = 0
  while (true) {
    const result = yield* Effect.result(pull)
    if (result._tag === "Failure") {
      return { bytes: concat(chunks), end: describeError(result.failure), pulls } as const
    }
    pulls++
    chunks.push(bytesOf(result.success))
  }
})

/** Pulls until at least `size` bytes arrived. */
export const readExactly = Effect.fnUntraced(function*(
  pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array | string>, Socket.SocketError>,
  size: number
) {
  const chunks: Array<Uint8Array> = []
  let got = 0
  while (got < size) {
    const bytes = bytesOf(yield* pull)
    chunks.push(bytes)
    got += bytes.byteLength
  }
  return concat(chunks)
})

/** Splits `bytes` into pieces of the given sizes (cycled). */
export const split = (bytes: Uint8Array, sizes: ReadonlyArray<number>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let offset = 0
  let i = 0
  while (offset < bytes.byteLength) {
    const size = Math.max(1, sizes[i++ % sizes.length] ?? 1)
    out.push(bytes.subarray(offset, offset + size))
    offset += size
  }
  return out
}

export const isCloseEvent = Socket.isCloseEvent
