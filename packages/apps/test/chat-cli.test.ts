/**
 * `socket-to-me chat serve` and `chat join` as processes: the listening
 * line, the piped client (sends stdin, prints replies, exits after the
 * server closed), one-line errors, and a graceful stop. Real TCP on port 0.
 */
import { assert, describe, it } from "@effect/vitest"
import { createConnection, createServer } from "node:net"
import * as Cli from "./support/Cli.ts"

// A raw client (what nc does) that logs in, sends lines, and waits for
// lines to arrive.
const watch = (port: string, nick: string) => {
  const socket = createConnection({ host: "127.0.0.1", port: Number(port) })
  let received = ""
  const waiters: Array<() => void> = []
  socket.on("data", (chunk) => {
    received += chunk
    for (const waiter of waiters.splice(0)) waiter()
  })
  socket.write(`/nick ${nick}\n`)
  const until = (line: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line ${line}; got ${received}`)), 20_000)
      const check = () => {
        if (received.split("\n").includes(line)) {
          clearTimeout(timer)
          resolve(received)
        } else waiters.push(check)
      }
      check()
    })
  return { until, send: (line: string) => socket.write(`${line}\n`), close: () => socket.destroy() }
}

// Resolves once `cli` has printed `line` on stdout.
const printed = (cli: Cli.Process, line: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const check = () => {
      if (cli.stdout().split("\n").includes(line)) {
        cli.child.stdout!.off("data", check)
        resolve()
      }
    }
    cli.child.stdout!.on("data", check)
    void cli.exited.then((result) => reject(new Error(`exited (${result.code}) before printing ${line}:\n${result.stdout}\n${result.stderr}`)))
    check()
  })

describe("socket-to-me chat CLI", () => {
  it("rejects a bad --nick with one line", async () => {
    const nick = await Cli.run(["chat", "join", "--nick", "no spaces"], { input: "" })
    assert.strictEqual(nick.code, 1)
    assert.strictEqual(nick.stderr.trim().split("\n").length, 1)
    assert.include(nick.stderr, "--nick")
  })

  it("serve prints its address; join with piped stdin sends each line, prints the replies, and exits", async () => {
    const server = await Cli.start(["chat", "serve", "--port", "0"], /^chat listening on 127\.0\.0\.1:(\d+)$/m)
    const port = server.listening[1]!
    try {
      const watcher = watch(port, "watcher")
      await watcher.until("* you joined lobby")
      watcher.send("/join dev")
      await watcher.until("* you joined dev")
      const result = await Cli.run(
        ["chat", "join", "--nick", "ada", "--room", "dev", "--port", port],
        { input: "hello from a pipe\n/who\n/me waves\n" }
      )
      assert.strictEqual(result.code, 0, result.stderr)
      assert.deepStrictEqual(result.stdout.trim().split("\n"), [
        "* welcome to socket-to-me chat",
        "* choose a nickname with /nick NAME (type /help for commands)",
        "* you are now ada",
        "* you joined lobby",
        "* you joined dev",
        "* in dev: ada, watcher",
        "* bye"
      ])
      const seen = await watcher.until("* ada quit")
      assert.include(seen, "* ada joined dev\n<ada> hello from a pipe\n** ada waves\n")

      const taken = await Cli.run(["chat", "join", "--nick", "WATCHER", "--port", port], { input: "hi\n" })
      assert.strictEqual(taken.code, 1)
      assert.strictEqual(taken.stderr.trim(), "socket-to-me: nickname WATCHER is taken")
      watcher.close()
    } finally {
      assert.strictEqual(await Cli.stop(server), 0)
    }
  })

  it("join against something that is not a chat server fails within 5 s, saying so", async () => {
    // The echo server waits to be spoken to: the real greeting deadline
    // (ChatConfig.greetingTimeout, 5 s) ends the wait, once.
    const echo = await Cli.start(["echo", "serve", "--port", "0"], / listening on \S+:(\d+)$/m)
    try {
      const silent = await Cli.run(["chat", "join", "--nick", "ada", "--port", echo.listening[1]!], { input: "" })
      assert.strictEqual(silent.code, 1)
      assert.strictEqual(
        silent.stderr.trim(),
        `socket-to-me: 127.0.0.1:${echo.listening[1]} is not a chat server: it sent no greeting within 5s`
      )
    } finally {
      assert.strictEqual(await Cli.stop(echo), 0)
    }

    // A peer that greets with something else is told apart at once.
    const other = createServer((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"))
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve))
    const port = (other.address() as { port: number }).port
    try {
      const garbage = await Cli.run(["chat", "join", "--nick", "ada", "--port", String(port)], { input: "" })
      assert.strictEqual(garbage.code, 1)
      assert.strictEqual(
        garbage.stderr.trim(),
        `socket-to-me: 127.0.0.1:${port} is not a chat server: it greeted with "HTTP/1.1 400 Bad Request"`
      )
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()))
    }
  })

  it("join prints why the server ended the session (shutdown, idle timeout) and exits non-zero", async () => {
    const listening = /^chat listening on 127\.0\.0\.1:(\d+)$/m
    // Idle: a real, short timeout; the client sends nothing after its login
    // (its stdin stays open), so the outcome does not depend on time.
    const idleServer = await Cli.start(["chat", "serve", "--port", "0", "--idle-timeout", "1s"], listening)
    try {
      const idle = await Cli.spawn(["chat", "join", "--nick", "ada", "--port", idleServer.listening[1]!], {
        openStdin: true
      }).exited
      assert.strictEqual(idle.code, 1)
      assert.strictEqual(idle.stdout.trim().split("\n").at(-1), "* error: idle for 1s; closing")
      assert.strictEqual(idle.stderr.trim(), "socket-to-me: the server closed the connection: idle for 1s")
    } finally {
      assert.strictEqual(await Cli.stop(idleServer), 0)
    }

    const server = await Cli.start(["chat", "serve", "--port", "0"], listening)
    const stopped = Cli.spawn(["chat", "join", "--nick", "bob", "--port", server.listening[1]!], { openStdin: true })
    try {
      await printed(stopped, "* you joined lobby")
    } finally {
      assert.strictEqual(await Cli.stop(server), 0)
    }
    const result = await stopped.exited
    assert.strictEqual(result.code, 1)
    assert.strictEqual(result.stdout.trim().split("\n").at(-1), "* server shutting down")
    assert.strictEqual(result.stderr.trim(), "socket-to-me: the server is shutting down")
  })
})
