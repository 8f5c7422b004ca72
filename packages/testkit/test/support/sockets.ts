/**
 * Socket helpers shared by the testkit's tests: an echo handler, reading a
 * socket to its end or to a size, saying how its input ended, and cutting
 * bytes into writes.
 */
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import * as Bytes from "../../src/Bytes.ts"
import * as TransportErrors from "../../src/TransportErrors.ts"

/** Echoes everything back, then closes (a half-close) once the peer's input ended. */
export const echo = (socket: Socket.Socket) =>
  Effect.scoped(Effect.gen(function*() {
    const { pull } = yield* socket.reader
    const writer = yield* socket.writer
    while (true) {
      const result = yield* Effect.result(pull)
      if (result._tag === "Failure") return
      yield* writer.writeAll(result.success)
    }
  }))

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
      return { bytes: Bytes.concat(chunks), end: describeError(result.failure), pulls } as const
    }
    pulls++
    chunks.push(Bytes.concat(result.success))
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
    const bytes = Bytes.concat(yield* pull)
    chunks.push(bytes)
    got += bytes.byteLength
  }
  return Bytes.concat(chunks)
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
