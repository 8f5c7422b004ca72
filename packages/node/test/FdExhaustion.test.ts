/**
 * Out of file descriptors, a server stays visible and alive: an echo server
 * in a child process whose fd limit is lowered (`ulimit -n`) is sent
 * connections until it has no descriptor left. Each connection it cannot
 * take is closed at once and reported (a rate-limited warning with a count,
 * `socket_to_me_accept_errors_total{reason="DescriptorsExhausted"}`); the
 * connections it serves keep working; once they close, a new one is served.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Http from "node:http"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"

const script = fileURLToPath(new URL("support/echo-server.ts", import.meta.url))

// Low enough to run out within a few dozen connections, high enough for
// Node, its modules and the metrics endpoint to start.
const fdLimit = 64
// Connections tried at most: far more than the limit leaves room for.
const maxAttempts = 300
// Connections refused before the test stops: enough for the warnings to
// show their rate limit (one line per back-off step, each with a count).
const refusalsWanted = 50

interface Child {
  /** Completes once `pattern` matches the stream's output so far; fails after 10 s. */
  readonly awaitOutput: (stream: "stdout" | "stderr", pattern: RegExp) => Effect.Effect<RegExpExecArray, Error>
  /** Completes with what `find` finds in the stream's output so far, once it finds something; fails after 10 s. */
  readonly awaitFind: <A>(
    stream: "stdout" | "stderr",
    what: string,
    find: (output: string) => A | undefined
  ) => Effect.Effect<A, Error>
  /** Completes once `text` occurs `times` times in the stream's output; fails after 10 s. */
  readonly awaitCount: (stream: "stdout" | "stderr", text: string, times: number) => Effect.Effect<void, Error>
}

// The server under `ulimit -n fdLimit`, for the life of the scope (then
// SIGKILLed); it is killed after 60 s in any case.
const startServer = Effect.acquireRelease(
  Effect.sync(() => {
    const child = ChildProcess.spawn(
      "sh",
      ["-c", `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, "--conditions=@socket-to-me/source", script],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    const output = { stdout: "", stderr: "" }
    child.stdout.on("data", (chunk) => (output.stdout += chunk))
    child.stderr.on("data", (chunk) => (output.stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("exit", () => clearTimeout(timer))
    const awaitFind = <A>(stream: "stdout" | "stderr", what: string, find: (output: string) => A | undefined) =>
      Effect.callback<A, Error>((resume) => {
        const check = () => {
          const found = find(output[stream])
          if (found !== undefined) resume(Effect.succeed(found))
        }
        const exited = (code: number | null) =>
          resume(Effect.fail(new Error(`the server exited (${code}) before ${what}:\n${output.stdout}\n${output.stderr}`)))
        child[stream].on("data", check)
        child.on("exit", exited)
        check()
        return Effect.sync(() => {
          child[stream].off("data", check)
          child.off("exit", exited)
        })
      }).pipe(
        Effect.timeoutOrElse({
          duration: "10 seconds",
          orElse: () => Effect.fail(new Error(`no ${what} in ${stream}:\n${output[stream]}`))
        })
      )
    const awaitOutput = (stream: "stdout" | "stderr", pattern: RegExp) =>
      awaitFind(stream, String(pattern), (text) => pattern.exec(text) ?? undefined)
    const awaitCount = (stream: "stdout" | "stderr", text: string, times: number) =>
      awaitFind(stream, `${times} x ${text}`, (output) => output.split(text).length > times ? true : undefined).pipe(
        Effect.asVoid
      )
    return { child, handle: { awaitFind, awaitOutput, awaitCount } }
  }),
  ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
).pipe(Effect.map(({ handle }): Child => handle))

type Attempt =
  | { readonly _tag: "Served"; readonly socket: Net.Socket }
  | { readonly _tag: "Refused" }

// One connection: served if "x" comes back, refused if it is closed (in
// order or by a reset) before; either within 10 s.
const attempt = (port: number) =>
  Effect.callback<Attempt, Error>((resume) => {
    const socket = Net.createConnection({ host: "127.0.0.1", port })
    const refused = () => {
      socket.destroy()
      resume(Effect.succeed({ _tag: "Refused" }))
    }
    socket.on("connect", () => socket.write("x"))
    socket.once("data", (chunk: Buffer) => {
      socket.off("close", refused)
      if (chunk.toString() === "x") resume(Effect.succeed({ _tag: "Served", socket }))
      else resume(Effect.fail(new Error(`echoed ${JSON.stringify(chunk.toString())}`)))
    })
    socket.on("error", () => {})
    socket.once("close", refused)
    return Effect.sync(() => socket.destroy())
  }).pipe(Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.fail(new Error("no echo and no close")) }))

const scrape = (port: number) =>
  Effect.callback<string, Error>((resume) => {
    const request = Http.get({ host: "127.0.0.1", port, path: "/metrics" }, (response) => {
      let body = ""
      response.on("data", (chunk) => (body += chunk))
      response.on("end", () => resume(Effect.succeed(body)))
    })
    request.on("error", (error) => resume(Effect.fail(error)))
    return Effect.sync(() => request.destroy())
  })

const closeAll = (sockets: ReadonlyArray<Net.Socket>) =>
  Effect.sync(() => {
    for (const socket of sockets) socket.end()
  })

describe("out of file descriptors", () => {
  it.live("each connection the server cannot take is closed, logged and counted; it serves again once fds are freed", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const port = Number((yield* server.awaitOutput("stdout", /echo listening on 127\.0\.0\.1:(\d+)/))[1])
      const metricsPort = Number((yield* server.awaitOutput("stdout", /metrics listening on 127\.0\.0\.1:(\d+)/))[1])

      const served: Array<Net.Socket> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => served.forEach((socket) => socket.destroy())))
      let refused = 0
      for (let i = 0; i < maxAttempts && refused < refusalsWanted; i++) {
        const result = yield* attempt(port)
        if (result._tag === "Served") {
          assert.strictEqual(refused, 0, "once out of descriptors, every connection is refused until one is freed")
          served.push(result.socket)
        } else refused++
      }
      assert.strictEqual(refused, refusalsWanted, `out of descriptors within ${maxAttempts} connections`)
      assert.isAbove(served.length, 10)

      // Logged (the first at once, then once per back-off step, each with its count).
      const warning = yield* server.awaitOutput("stderr", /level=WARN .*reason=DescriptorsExhausted.*/)
      assert.include(warning[0], "out of file descriptors (EMFILE)")
      assert.match(warning[0], /occurrences=\d+/)

      // The connections it serves still work.
      const [first] = served
      const echoed = yield* Effect.callback<string>((resume) => {
        first!.once("data", (chunk: Buffer) => resume(Effect.succeed(chunk.toString())))
        first!.write("still here")
      })
      assert.strictEqual(echoed, "still here")

      // Freed: once the server has seen every served connection end, a new one is served.
      yield* closeAll(served)
      yield* server.awaitCount("stderr", `message="connection closed"`, served.length)
      const after = yield* attempt(port)
      assert.strictEqual(after._tag, "Served")
      if (after._tag === "Served") served.push(after.socket)

      // Every refused connection was logged (in far fewer lines than
      // connections) and counted: none was lost below JavaScript.
      const lines = yield* server.awaitFind("stderr", `${refused} occurrences logged`, (output) => {
        const lines = output.split("\n").filter((line) => line.includes("reason=DescriptorsExhausted"))
        const logged = lines.reduce((sum, line) => sum + Number(/occurrences=(\d+)/.exec(line)?.[1] ?? 0), 0)
        return logged === refused ? lines : undefined
      })
      assert.isBelow(lines.length, refused)
      const metrics = yield* scrape(metricsPort)
      const counted = /socket_to_me_accept_errors_total\{[^}]*reason="DescriptorsExhausted"[^}]*\} (\d+)/.exec(metrics)
      assert.isNotNull(counted, metrics)
      assert.strictEqual(Number(counted![1]), refused)
    }).pipe(Effect.scoped))
})
