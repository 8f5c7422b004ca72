/**
 * Stopping a server the ways a user does, through the `socket-to-me` command
 * itself (bin/socket-to-me.mjs, what npm links). Ctrl-C in a terminal signals
 * the whole foreground process group: that must drain, once (the server says
 * it is draining, a held connection is still served and ends as `Drained`),
 * also when a wrapper in the group passes its own copy of the signal on, as
 * npm does. SIGTERM to the outermost process of `npx socket-to-me ... serve`
 * must drain as well and leave no process of it behind.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Net from "node:net"
import * as Cli from "./support/Cli.ts"

/** An echo connection held open by the test, proven live by a round trip. */
interface Held {
  readonly roundTrip: (line: string) => Promise<string>
  /** Ends our side and resolves once the server has closed its side. */
  readonly close: () => Promise<void>
}

const hold = async (port: number): Promise<Held> => {
  const socket = Net.connect(port, "127.0.0.1")
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject))
  let received = ""
  socket.on("data", (chunk) => (received += chunk))
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()))
  const held: Held = {
    roundTrip: (line) =>
      new Promise((resolve, reject) => {
        received = ""
        const onData = () => {
          if (!received.endsWith("\n")) return
          socket.off("data", onData)
          socket.off("close", onClose)
          resolve(received.trimEnd())
        }
        const onClose = () => reject(new Error(`the connection closed before "${line}" came back`))
        socket.on("data", onData)
        socket.once("close", onClose)
        socket.write(`${line}\n`)
      }),
    close: () => {
      socket.end()
      return ended
    }
  }
  assert.strictEqual(await held.roundTrip("before"), "before")
  return held
}

const listening = /echo listening on 127\.0\.0\.1:(\d+)/
const drainingLine = /^draining 1 connection \(up to 5s; Ctrl-C again to force\)$/m

// Starts `echo serve` through `entry` as a process group leader, holds one
// connection, stops the server with `stop`, and checks the drain: the line,
// the connection still served until the client leaves, `Drained`, exit 0.
const drainsOnce = async (entry: Cli.Entry, stop: (cli: Cli.Process) => void, options: Cli.Options = {}) => {
  const cli = await Cli.start(["echo", "serve", "--port", "0"], listening, { ...options, entry, detached: true })
  try {
    const held = await hold(Number(cli.listening[1]))
    stop(cli)
    await Cli.output(cli, drainingLine)
    // Not forced: the held connection is still served during the drain.
    assert.strictEqual(await held.roundTrip("during the drain"), "during the drain")
    await held.close()
    await cli.closed
    assert.lengthOf(cli.stdout().match(/^draining /gm) ?? [], 1, "one draining line")
    assert.match(cli.stderr(), /message="connection closed" .*reason=Drained/)
    assert.match(cli.stderr(), /drained 1, interrupted 0/)
    assert.notMatch(cli.stderr(), /level=(ERROR|FATAL)|unhandled/i)
    return cli
  } finally {
    Cli.killGroupOf(cli)
  }
}

describe("stopping the socket-to-me command", () => {
  it("SIGINT to its whole process group (a terminal's Ctrl-C) drains, once", async () => {
    const cli = await drainsOnce(Cli.launcher, (cli) => Cli.signalGroup(cli, "SIGINT"))
    assert.deepStrictEqual(await cli.exited.then(({ code, signal }) => ({ code, signal })), { code: 0, signal: null })
  }, 30_000)

  it("drains once when a wrapper in the group passes its copy of the Ctrl-C on (as npm does)", async () => {
    const cli = await drainsOnce(Cli.forwarded, (cli) => Cli.signalGroup(cli, "SIGINT"))
    assert.deepStrictEqual(await cli.exited.then(({ code, signal }) => ({ code, signal })), { code: 0, signal: null })
  }, 30_000)

  it("SIGTERM to the outermost process of `npx socket-to-me echo serve` drains and leaves nothing behind", async () => {
    // `closed` settling (in drainsOnce) means that no process of the tree
    // (npm, its shell, the CLI) holds our pipes any more.
    await drainsOnce(Cli.npx, (cli) => cli.child.kill("SIGTERM"), { cwd: Cli.repoRoot })
  }, 30_000)
})
