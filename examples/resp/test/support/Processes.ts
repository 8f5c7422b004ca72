/**
 * Tools and raw sockets for the tests against redis-server (processes,
 * tool runs and temporary folders come from the testkit's `Spawned` and
 * `RedisServer`): the tools on PATH, and raw TCP exchanges that wait for
 * what they expect (a reply, or the close) rather than for time.
 */
import { Spawned } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import * as Net from "node:net"
import * as Resp from "./Resp.ts"

/** The redis tools the tests use, and the Debian package of each. */
export const tools = { "redis-server": "redis-server", "redis-cli": "redis-tools", "redis-benchmark": "redis-tools" }

/** The tools missing from PATH. */
export const missing: ReadonlyArray<keyof typeof tools> = (Object.keys(tools) as Array<keyof typeof tools>).filter(
  (tool) => !Spawned.isInstalled(tool)
)

/** What one raw exchange received, as text, and whether the server closed. */
export interface Exchanged {
  readonly received: string
  readonly closed: boolean
}

/**
 * Sends `input` on a new connection to `port` and reads until `done` says
 * the reply is complete, or the server closes (an error after a reset
 * counts as the close). Fails after 20 seconds without either.
 */
export const exchange = (port: number, input: string, done: (received: string) => boolean = () => false) =>
  Effect.callback<Exchanged, Error>((resume) => {
    let received = ""
    const socket = Net.createConnection({ host: "127.0.0.1", port }, () => socket.write(Resp.bytes(input)))
    const finish = (closed: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed({ received, closed }))
    }
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new Error(`no complete reply from port ${port} in 20 s; received ${JSON.stringify(received)}`)))
    }, 20_000)
    socket.on("data", (chunk) => {
      received += Resp.text(chunk)
      if (done(received)) finish(false)
    })
    socket.on("end", () => finish(true))
    socket.on("error", () => finish(true))
    return Effect.sync(() => (clearTimeout(timer), socket.destroy()))
  })

/**
 * Writes `chunk` to a new connection to `port` over and over (waiting for
 * the socket to drain) until the server closes it or `maxBytes` were
 * written; how many bytes were written and what came back.
 */
export const flood = (port: number, head: string, chunk: Uint8Array, maxBytes: number) =>
  Effect.callback<{ readonly written: number; readonly closed: boolean; readonly received: string }, Error>((resume) => {
    let written = 0
    let received = ""
    let ended = false
    const socket = Net.createConnection({ host: "127.0.0.1", port })
    const finish = (closed: boolean) => {
      if (ended) return
      ended = true
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed({ written, closed, received }))
    }
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new Error(`flood of port ${port} neither closed nor finished in 60 s`)))
    }, 60_000)
    const pump = () => {
      while (!ended && written < maxBytes) {
        written += chunk.length
        if (!socket.write(chunk)) return socket.once("drain", pump)
      }
      if (written >= maxBytes) finish(false)
    }
    socket.on("connect", () => {
      socket.write(Resp.bytes(head))
      pump()
    })
    socket.on("data", (data) => (received += Resp.text(data)))
    socket.on("end", () => finish(true))
    socket.on("close", () => finish(true))
    socket.on("error", () => finish(true))
    return Effect.sync(() => (clearTimeout(timer), socket.destroy()))
  })
