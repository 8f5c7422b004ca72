/**
 * `socket-to-me chat serve` and `chat join` as processes: the listening
 * line, the piped client (sends stdin, prints replies, exits after the
 * server closed), one-line errors, and a graceful stop. Real TCP on port 0.
 */
import { assert, describe, it } from "@effect/vitest"
import { createConnection } from "node:net"
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
})
