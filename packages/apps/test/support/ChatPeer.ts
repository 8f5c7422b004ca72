/**
 * A scripted chat client for tests: raw lines out, every line in recorded,
 * and waits that are bounded (a missing line fails the test with what was
 * seen instead of hanging until the suite's timeout).
 */
import * as Client from "@socket-to-me/core/Client"
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import type * as Duplex from "@socket-to-me/core/Duplex"
import * as LineCodec from "@socket-to-me/core/LineCodec"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Stream from "effect/Stream"

export interface Peer {
  readonly duplex: Duplex.Duplex
  /** Every line received so far, in order. */
  readonly seen: ReadonlyArray<string>
  readonly send: (...lines: ReadonlyArray<string>) => Effect.Effect<void, ConnectionError.ConnectionError>
  readonly sendBytes: (bytes: Uint8Array) => Effect.Effect<void, ConnectionError.ConnectionError>
  /** Reads until a line equal to `line` (or accepted by it) arrives; returns the lines read meanwhile, that one included. */
  readonly expect: (line: string | ((line: string) => boolean)) => Effect.Effect<ReadonlyArray<string>, Error>
  /** Reads the next batch of lines (waiting for it); empty once the server closed. */
  readonly readBatch: Effect.Effect<ReadonlyArray<string>>
  /** Reads until the server closes; returns the lines read meanwhile and how the input ended. */
  readonly readToEnd: Effect.Effect<{ readonly lines: ReadonlyArray<string>; readonly failed: boolean }, Error>
}

/** How long a test waits for one expected line before failing. */
export const expectTimeout = "20 seconds"

/** Anything a peer can dial: a test server, or a real one (`{ dial: NodeTransport.dial(...) }`). */
export type Dialable = Pick<TestTransport.Listener, "dial">

export const connect = Effect.fnUntraced(function*(server: Dialable) {
  const duplex = yield* Client.connect(server.dial, { address: "test" })
  // A larger cap than the server's, so the tests see whatever the server sends.
  const pull = yield* Stream.toPull(LineCodec.make({ maxLineBytes: 1 << 20 }).decode(duplex.input))
  const seen: Array<string> = []
  let read = 0
  let ended: "ok" | "failed" | undefined
  // Pulls one more batch into `seen`; false once input has ended.
  const more = Effect.suspend((): Effect.Effect<boolean> => {
    if (ended !== undefined) return Effect.succeed(false)
    return Pull.matchEffect(pull, {
      onSuccess: (lines) => Effect.sync(() => (seen.push(...lines), true)),
      onFailure: () => Effect.sync(() => (ended = "failed", false)),
      onDone: () => Effect.sync(() => (ended = "ok", false))
    })
  })
  const expect = (wanted: string | ((line: string) => boolean)) => {
    const matches = typeof wanted === "string" ? (line: string) => line === wanted : wanted
    return Effect.gen(function*() {
      const from = read
      while (true) {
        while (read < seen.length) {
          if (matches(seen[read++]!)) return seen.slice(from, read)
        }
        if (!(yield* more)) {
          return yield* Effect.fail(new Error(`input ended before ${String(wanted)}; seen: ${JSON.stringify(seen.slice(from))}`))
        }
      }
    }).pipe(
      Effect.timeoutOrElse({
        duration: expectTimeout,
        orElse: () => Effect.fail(new Error(`no line ${String(wanted)}; seen: ${JSON.stringify(seen.slice(read - 20))}`))
      })
    )
  }
  const readToEnd = Effect.gen(function*() {
    while (yield* more) {
      // keep reading
    }
    const lines = seen.slice(read)
    read = seen.length
    return { lines, failed: ended === "failed" }
  }).pipe(
    Effect.timeoutOrElse({ duration: expectTimeout, orElse: () => Effect.fail(new Error("the server did not close")) })
  )
  const readBatch = Effect.gen(function*() {
    if (read === seen.length) yield* more
    const lines = seen.slice(read)
    read = seen.length
    return lines
  })
  const peer: Peer = {
    duplex,
    readBatch,
    seen,
    send: (...lines) => duplex.write([Bytes.encode(lines.map((line) => `${line}\n`).join(""))]),
    sendBytes: (bytes) => duplex.write([bytes]),
    expect,
    readToEnd
  }
  return peer
})

/** Connects and logs in as `nick` (in the lobby). */
export const login = Effect.fnUntraced(function*(server: Dialable, nick: string) {
  const peer = yield* connect(server)
  yield* peer.send(`/nick ${nick}`)
  yield* peer.expect("* you joined lobby")
  return peer
})
