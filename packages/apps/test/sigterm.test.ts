/**
 * SIGTERM with live connections, at the process level: the real CLI
 * (`socket-to-me echo serve --port 0 --shutdown-grace ...`) runs under the
 * project's Node, clients hold connections open, and the test signals it.
 * The first signal drains (the echo handler ignores the drain, so its
 * connections are interrupted when the grace period ends) and the process
 * exits 0 with one summary line on stderr; a second signal forces the stop
 * at once.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeTransport from "@socket-to-me/node/NodeTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"
import * as Effect from "effect/Effect"
import * as Cli from "./support/Cli.ts"

/**
 * Starts the echo server CLI on a free port and waits for its listening
 * line. The process is killed (SIGKILL) with the scope if it is still alive.
 */
const startCli = (grace: string) =>
  Effect.acquireRelease(
    Effect.tryPromise(() =>
      Cli.start(
        ["echo", "serve", "--port", "0", "--shutdown-grace", grace],
        /echo listening on 127\.0\.0\.1:(\d+)/
      )
    ),
    (cli) =>
      Effect.sync(() => {
        if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL")
      })
  ).pipe(Effect.map((cli) => ({ ...cli, port: Number(cli.listening[1]) })))

// A live echo connection to the CLI, proven live by one round trip.
const livePeer = (port: number, i: number) =>
  Effect.gen(function*() {
    const peer = yield* TestPeer.connectWith(NodeTransport.dial({ host: "127.0.0.1", port }), {
      address: `127.0.0.1:${port}`
    })
    assert.strictEqual(yield* peer.roundTrip(`live ${i}`), `live ${i}`)
    return peer
  })

describe("SIGTERM with live connections (the CLI as a process)", () => {
  it.live("drains for the 1 s grace period, interrupts the live connections, logs the summary and exits 0", () =>
    Effect.gen(function*() {
      const cli = yield* startCli("1s")
      const peers = yield* Effect.forEach([0, 1, 2], (i) => livePeer(cli.port, i))
      const signalled = performance.now()
      cli.child.kill("SIGTERM")
      const exited = yield* Effect.timeout(Effect.promise(() => cli.exited), "10 seconds")
      const elapsed = exited.at - signalled

      assert.deepStrictEqual({ code: exited.code, signal: exited.signal }, { code: 0, signal: null })
      // It waited the grace period for the connections, and not much more.
      assert.isAtLeast(elapsed, 900)
      assert.isBelow(elapsed, 1000 + 2500)
      assert.match(cli.stderr(), /drained 0, interrupted 3/)
      assert.lengthOf(cli.stderr().match(/drained \d+, interrupted \d+/g) ?? [], 1, "one summary line")
      assert.notMatch(cli.stderr(), /level=(ERROR|FATAL)|unhandled/i)
      // Every client saw its connection end (closed at once, no reset).
      for (const peer of peers) assert.strictEqual((yield* peer.readToEnd).end, "eof")
    }), 20_000)

  it.live("a second signal during the drain forces an immediate stop (30 s grace, exit in well under that)", () =>
    Effect.gen(function*() {
      const cli = yield* startCli("30s")
      const peers = yield* Effect.forEach([0, 1], (i) => livePeer(cli.port, i))
      const signalled = performance.now()
      // Two different signals: two of the same sent back to back may be
      // merged into one by the kernel before Node sees the first.
      cli.child.kill("SIGTERM")
      cli.child.kill("SIGINT")
      const exited = yield* Effect.timeout(Effect.promise(() => cli.exited), "10 seconds")
      const elapsed = exited.at - signalled

      assert.deepStrictEqual({ code: exited.code, signal: exited.signal }, { code: 0, signal: null })
      assert.isBelow(elapsed, 2500)
      assert.match(cli.stderr(), /drained 0, interrupted 2/)
      assert.notMatch(cli.stderr(), /level=(ERROR|FATAL)|unhandled/i)
      for (const peer of peers) assert.strictEqual((yield* peer.readToEnd).end, "eof")
    }), 20_000)
})
