/**
 * Chapter 1's echo server over the memory network: it echoes; a client
 * that says nothing holds up nobody; a reset and a bug end only their own
 * connection, each with its typed exit reason and its scope released; a
 * drain lets connections finish, then interrupts the rest. The last test
 * runs the real program over TCP and stops it with SIGINT, as Ctrl-C does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Client, type Connection, type Duplex } from "@socket-to-me/core"
import { Bytes, TestTransport } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import { echo } from "../server.ts"

// #region serve
// Serves `handler` over a fresh memory network. `nextEnd` waits for the
// next connection to end and gives its exit reason; `released` lists the
// connections whose scope said goodbye in the log.
const serve = Effect.fnUntraced(function*(handler: Connection.Handler) {
  const ended = yield* Queue.unbounded<Connection.ExitReason>()
  const server = yield* TestTransport.serve(TestTransport.memory, handler, {
    onEnd: (_info, reason) => Effect.asVoid(Queue.offer(ended, reason))
  })
  return { ...server, nextEnd: Queue.take(ended) }
})
// #endregion serve

// Records the ids of the `connection N: released` log lines (and prints no log).
const withReleases = <A, E, R>(test: (released: ReadonlyArray<number>) => Effect.Effect<A, E, R>) => {
  const released: Array<number> = []
  const logger = Logger.make(({ message }) => {
    const text = Array.isArray(message) ? message.join(" ") : String(message)
    const match = /^connection (\d+): released$/.exec(text)
    if (match !== null) released.push(Number(match[1]))
  })
  return Effect.provideService(test(released), Logger.CurrentLoggers, new Set([logger]))
}

// A client connection and `say`, which sends text and reads its echo.
const open = Effect.fnUntraced(function*(server: TestTransport.TestServer) {
  const duplex: Duplex.Duplex = yield* Client.connect(server.dial, { address: "memory", retries: 0 })
  const pull = yield* Stream.toPull(duplex.input)
  const say = (text: string) =>
    Effect.gen(function*() {
      const sent = Bytes.encode(text)
      yield* duplex.write([sent])
      const chunks: Array<Uint8Array> = []
      let got = 0
      while (got < sent.byteLength) {
        for (const chunk of yield* pull) {
          chunks.push(chunk)
          got += chunk.byteLength
        }
      }
      return Bytes.decode(Bytes.concat(chunks))
    })
  return { duplex, say }
})

describe("chapter 1: the supervised echo server", () => {
  it.effect("echoes every byte back, in order, and releases the connection's scope", () =>
    withReleases((released) =>
      Effect.gen(function*() {
        const server = yield* serve(echo)
        const payload = Bytes.random(256 * 1024)
        const duplex = yield* Client.connect(server.dial, { address: "memory" })
        const reply = yield* Stream.runCollect(Client.exchange(duplex, Stream.make(payload)))
        assert.isTrue(Bytes.equals(Bytes.concat(reply), payload))
        assert.strictEqual((yield* server.nextEnd)._tag, "PeerClosed")
        assert.deepStrictEqual(released, [1])
        yield* server.assertNoLeaks
      })
    ))

  // #region silent
  it.effect("a client that says nothing holds up nobody: each connection has a fiber of its own", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo)
      // The blocking server would sit in `recv` for this one, serving no one else.
      const silent = yield* open(server)
      const replies = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => `hello from client ${i}`),
        (text) => Effect.scoped(Effect.flatMap(open(server), (client) => client.say(text))),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(replies, Array.from({ length: 50 }, (_, i) => `hello from client ${i}`))
      assert.strictEqual(yield* silent.say("still here"), "still here")
    }))
  // #endregion silent

  // #region reset
  it.effect("a reset ends that connection only, with PeerReset, and releases its scope", () =>
    withReleases((released) =>
      Effect.gen(function*() {
        const server = yield* serve(echo)
        const bystander = yield* open(server)
        const victim = yield* open(server)
        assert.strictEqual(yield* victim.say("mid-conversation"), "mid-conversation")
        yield* victim.duplex.reset // what a crashed client's kernel sends: RST, not FIN
        assert.strictEqual((yield* server.nextEnd)._tag, "PeerReset")
        assert.deepStrictEqual(released, [2])
        assert.strictEqual(yield* bystander.say("carrying on"), "carrying on")
      })
    ))
  // #endregion reset

  // #region defect
  it.effect("a bug in the handler ends that connection only, with HandlerFailed", () =>
    withReleases((released) =>
      Effect.gen(function*() {
        // The echo, with a bug: a chunk that starts with "!" throws.
        const buggy: Connection.Handler = (input, info) =>
          echo(
            Stream.map(input, (chunk) => {
              if (chunk[0] === 0x21) throw new Error("bug: a chunk starting with !")
              return chunk
            }),
            info
          )
        const server = yield* serve(buggy)
        const bystander = yield* open(server)
        const unlucky = yield* open(server)
        yield* unlucky.duplex.write([Bytes.encode("!boom")])
        const reason = yield* server.nextEnd
        assert.strictEqual(reason._tag, "HandlerFailed")
        assert.deepStrictEqual(released, [2])
        assert.strictEqual(yield* bystander.say("unaffected"), "unaffected")
      })
    ))
  // #endregion defect

  // #region drain
  it.effect("a drain (what Ctrl-C starts) lets connections finish for the grace period, then interrupts the rest", () =>
    withReleases((released) =>
      Effect.gen(function*() {
        const server = yield* serve(echo)
        yield* Effect.scoped(Effect.gen(function*() {
          const finishing = yield* open(server)
          const lingering = yield* open(server)
          assert.strictEqual(yield* lingering.say("hi"), "hi")
          const drain = yield* Effect.forkChild(server.server.drain, { startImmediately: true })
          // Draining: a newcomer is refused at once.
          yield* open(server)
          assert.deepInclude(yield* server.nextEnd, { _tag: "Refused", why: "draining" })
          // A client that ends its side finishes: its echo is written, then it closes.
          yield* finishing.duplex.end
          assert.strictEqual((yield* server.nextEnd)._tag, "Drained")
          // The other never does; after the grace period (5 seconds) it is interrupted.
          yield* TestClock.adjust("5 seconds")
          assert.deepStrictEqual(yield* Fiber.join(drain), { drained: 1, interrupted: 1 })
          assert.strictEqual((yield* server.nextEnd)._tag, "Interrupted")
          assert.deepStrictEqual(released, [1, 2])
        }))
        // The clients have closed too: no socket is left open.
        yield* server.assertNoLeaks
      })
    ))
  // #endregion drain

  it.live("Ctrl-C: the program prints its address, echoes over TCP, drains on SIGINT and exits 0", () =>
    Effect.gen(function*() {
      const program = ChildProcess.spawn(process.execPath, [fileURLToPath(new URL("../server.ts", import.meta.url))], {
        env: { ...process.env, PORT: "0" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const killer = setTimeout(() => program.kill("SIGKILL"), 30_000)
      yield* Effect.addFinalizer(() => Effect.sync(() => (clearTimeout(killer), program.kill("SIGKILL"))))
      let stdout = ""
      let stderr = ""
      program.stderr.on("data", (chunk) => (stderr += chunk))
      const exited = new Promise<number | null>((resolve) => program.on("exit", resolve))
      const port = yield* Effect.callback<number, Error>((resume) => {
        program.stdout.on("data", (chunk) => {
          stdout += chunk
          const match = /^echo listening on 127\.0\.0\.1:(\d+)$/m.exec(stdout)
          if (match !== null) resume(Effect.succeed(Number(match[1])))
        })
        void exited.then(() => resume(Effect.fail(new Error(`exited before listening:\n${stdout}\n${stderr}`))))
      })
      const reply = yield* Effect.callback<string, Error>((resume) => {
        let text = ""
        const socket = Net.createConnection({ host: "127.0.0.1", port }, () => socket.end("hello over TCP\n"))
        socket.setEncoding("utf8")
        socket.on("data", (chunk) => (text += chunk))
        socket.on("end", () => resume(Effect.succeed(text)))
        socket.on("error", (error) => resume(Effect.fail(error)))
        return Effect.sync(() => socket.destroy())
      })
      assert.strictEqual(reply, "hello over TCP\n")
      program.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => exited), 0, stderr)
      assert.match(stderr, /connection 1: released/)
      assert.match(stderr, /drained \d+, interrupted 0/)
    }))
})
