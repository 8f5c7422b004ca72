/**
 * The client's side of RESP2 for the tests: where a reply ends (to wait for
 * a number of replies rather than a number of bytes), bytes as Latin-1
 * text, and a scripted client over any `TestTransport`.
 */
import { Client } from "@socket-to-me/core"
import type { TestTransport } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Stream from "effect/Stream"

/** Text as bytes, one per character (the tests write RESP as JS strings). */
export const bytes = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0))

/** Bytes as text, one character per byte. */
export const text = (data: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < data.length; i += 8192) {
    out += String.fromCharCode.apply(null, data.subarray(i, i + 8192) as unknown as Array<number>)
  }
  return out
}

/** Where the reply starting at `at` ends, or `undefined` if it is not complete yet. */
export const replyEnd = (data: Uint8Array, at: number): number | undefined => {
  if (at >= data.length) return undefined
  const cr = data.indexOf(0x0d, at)
  if (cr === -1 || cr + 1 >= data.length) return undefined
  const type = data[at]
  const value = Number(text(data.subarray(at + 1, cr)))
  const next = cr + 2
  switch (type) {
    case 0x24: // $
      return value < 0 ? next : next + value + 2 <= data.length ? next + value + 2 : undefined
    case 0x2a: { // *
      let end: number | undefined = next
      for (let i = 0; i < value && end !== undefined; i++) end = replyEnd(data, end)
      return end
    }
    default: // + - :
      return next
  }
}

/** How many complete replies `data` holds, from its start. */
export const countReplies = (data: Uint8Array): number => {
  let count = 0
  let at: number | undefined = 0
  while ((at = replyEnd(data, at)) !== undefined) count++
  return count
}

/** A scripted client: bytes out, replies in. */
export interface Peer {
  readonly send: (text: string | Uint8Array) => Effect.Effect<void, Error>
  /** Reads until `n` more replies have come; their bytes, as text. */
  readonly replies: (n: number) => Effect.Effect<string, Error>
  /** Reads until the server closes; what came meanwhile, as text. */
  readonly toEnd: Effect.Effect<string, Error>
}

/** Connects to `server` (memory or TCP) for the life of the scope. */
export const connect = Effect.fnUntraced(function*(server: TestTransport.TestServer) {
  const duplex = yield* Client.connect(server.dial, { address: "test" })
  const pull = yield* Stream.toPull(duplex.input)
  let received = new Uint8Array(0)
  let read = 0
  let ended = false
  const more = Effect.suspend((): Effect.Effect<boolean> =>
    ended ? Effect.succeed(false) : Pull.matchEffect(pull, {
      onSuccess: (chunks) =>
        Effect.sync(() => {
          const size = chunks.reduce((n, chunk) => n + chunk.length, received.length)
          const grown = new Uint8Array(size)
          grown.set(received)
          let at = received.length
          for (const chunk of chunks) {
            grown.set(chunk, at)
            at += chunk.length
          }
          received = grown
          return true
        }),
      onFailure: () => Effect.sync(() => (ended = true, false)),
      onDone: () => Effect.sync(() => (ended = true, false))
    })
  )
  const replies = (n: number) =>
    Effect.gen(function*() {
      let end = read
      for (let i = 0; i < n; i++) {
        let next = replyEnd(received, end)
        while (next === undefined) {
          if (!(yield* more)) return yield* Effect.fail(new Error(`closed after ${text(received.subarray(read))}`))
          next = replyEnd(received, end)
        }
        end = next
      }
      const out = text(received.subarray(read, end))
      read = end
      return out
    })
  const toEnd = Effect.gen(function*() {
    while (yield* more) {
      // until the server closes
    }
    const out = text(received.subarray(read))
    read = received.length
    return out
  })
  const peer: Peer = {
    send: (data) => Effect.mapError(duplex.write([typeof data === "string" ? bytes(data) : data]), (e) => new Error(e.message)),
    replies,
    toEnd
  }
  return peer
})
