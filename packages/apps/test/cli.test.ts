/**
 * The CLI as a user meets it: help at every level, one-line errors with a
 * non-zero exit for bad input, a clear message when the port is taken, and
 * an echo round trip between `echo serve` and `echo send`.
 */
import { assert, describe, it } from "@effect/vitest"
import { createServer, type Socket } from "node:net"
import * as Cli from "./support/Cli.ts"

describe("socket-to-me CLI", () => {
  it("prints help at every level", async () => {
    for (const args of [["--help"], ["echo", "--help"], ["echo", "serve", "--help"], ["echo", "send", "--help"]]) {
      const result = await Cli.run(args)
      assert.strictEqual(result.code, 0, args.join(" "))
      assert.include(result.stdout, "USAGE")
    }
  })

  it("rejects a bad port with one line naming the problem", async () => {
    const result = await Cli.run(["echo", "serve", "--port", "99999"])
    assert.strictEqual(result.code, 1)
    assert.strictEqual(result.stdout, "")
    const lines = result.stderr.trim().split("\n")
    assert.strictEqual(lines.length, 1)
    assert.include(lines[0], "--port")
    assert.include(lines[0], "99999")
    assert.notInclude(result.stderr, "    at ")
  })

  it("rejects a bad duration", async () => {
    const result = await Cli.run(["echo", "serve", "--idle-timeout", "soon"])
    assert.strictEqual(result.code, 1)
    assert.include(result.stderr, "--idle-timeout")
  })

  it("says the address is in use", async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    const port = (blocker.address() as { port: number }).port
    const result = await Cli.run(["echo", "serve", "--port", String(port)])
    await new Promise<void>((resolve) => blocker.close(() => resolve()))
    assert.strictEqual(result.code, 1)
    assert.strictEqual(result.stderr.trim(), `socket-to-me: address 127.0.0.1:${port} is already in use`)
  })

  it("echo send gets its words back from echo serve", async () => {
    const server = await Cli.start(["echo", "serve", "--port", "0"], / listening on (\S+)/)
    const port = server.listening[1]!.split(":")[1]!
    const result = await Cli.run(["echo", "send", "--port", port, "hello", "wide", "world"])
    assert.strictEqual(result.code, 0)
    assert.strictEqual(result.stdout, "hello wide world\n")
    assert.strictEqual(await Cli.stop(server), 0)
  })

  it("echo send to a closed port fails with one line", async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    const port = (blocker.address() as { port: number }).port
    await new Promise<void>((resolve) => blocker.close(() => resolve()))
    const result = await Cli.run(["echo", "send", "--port", String(port), "hi"])
    assert.strictEqual(result.code, 1)
    assert.strictEqual(result.stderr.trim(), `socket-to-me: no server at 127.0.0.1:${port} (is it running?)`)
  })

  it("echo send fails with one line when the server closes before echoing it all", async () => {
    // A server that reads and closes without answering, as a TLS server
    // does with a plain client's bytes.
    const closing = createServer((socket) => socket.once("data", () => socket.end()))
    await new Promise<void>((resolve) => closing.listen(0, "127.0.0.1", resolve))
    const port = (closing.address() as { port: number }).port
    const result = await Cli.run(["echo", "send", "--port", String(port), "hi"])
    await new Promise<void>((resolve) => closing.close(() => resolve()))
    assert.strictEqual(result.code, 1)
    assert.strictEqual(result.stdout, "")
    assert.strictEqual(
      result.stderr.trim(),
      `socket-to-me: 127.0.0.1:${port} closed the connection after echoing 0 of 3 bytes (if it serves TLS, add --tls)`
    )
  })

  it("a client command stopped by a signal exits 130, not 0 (it did not finish)", async () => {
    // A server that takes the message and never answers: the client is
    // waiting for its reply when the signal comes.
    const held: Array<Socket> = []
    const silent = createServer({ allowHalfOpen: true }, (socket) => {
      held.push(socket)
      socket.once("data", () => client.child.kill("SIGINT"))
    })
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
    const port = (silent.address() as { port: number }).port
    const client = Cli.spawn(["echo", "send", "--port", String(port), "hi"])
    const { code } = await client.exited
    held.forEach((socket) => socket.destroy())
    await new Promise<void>((resolve) => silent.close(() => resolve()))
    assert.strictEqual(code, 130)
  })
})
