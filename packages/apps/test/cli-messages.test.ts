/**
 * Messages a user can act on, as the CLI prints them: a refused connection,
 * a files client pointed at another kind of server, a bad environment
 * variable, a bad flag value, the help of `--host` and `--port`, the debug
 * log of a connection's opening, and the documented way to run the command
 * from any directory.
 */
import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Cli from "./support/Cli.ts"

const listen = (server: Net.Server) =>
  new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as Net.AddressInfo).port)))
const close = (server: Net.Server) => new Promise<void>((resolve) => server.close(() => resolve()))

// A port nothing listens on (bound, then closed).
const closedPort = async () => {
  const server = Net.createServer()
  const port = await listen(server)
  await close(server)
  return port
}

const oneLine = (result: Cli.Result) => {
  const lines = result.stderr.trim().split("\n")
  assert.lengthOf(lines, 1, result.stderr)
  return lines[0]!
}

describe("messages a user can act on", () => {
  it("a refused connection says that no server is there", async () => {
    const port = await closedPort()
    for (const args of [["echo", "send", "hi"], ["files", "list"]]) {
      const result = await Cli.run([...args, "--port", String(port)])
      assert.strictEqual(result.code, 1)
      assert.strictEqual(oneLine(result), `socket-to-me: no server at 127.0.0.1:${port} (is it running?)`)
    }
  })

  it("a files client pointed at an echo server or an HTTP server says it is not a files server", async () => {
    const dir = mkdtempSync(join(tmpdir(), "socket-to-me-messages-"))
    const file = join(dir, "report.txt")
    writeFileSync(file, "hello\n")
    const echo = await Cli.start(["echo", "serve", "--port", "0"], /echo listening on 127\.0\.0\.1:(\d+)/)
    // Answers anything with an HTTP error, as a web server does: "HTTP"
    // read as a files frame's length would be 1213486160 bytes.
    const http = Net.createServer((socket) =>
      socket.once("data", () => socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
    )
    const httpPort = await listen(http)
    try {
      for (const port of [echo.listening[1]!, String(httpPort)]) {
        for (const args of [["files", "list"], ["files", "send", file], ["files", "get", "report.txt", "--out", join(dir, "got")]]) {
          const result = await Cli.run([...args, "--port", port])
          assert.strictEqual(result.code, 1, args.join(" "))
          assert.strictEqual(
            oneLine(result),
            `socket-to-me: 127.0.0.1:${port} is not a files server: its reply is not in the files protocol`,
            args.join(" ")
          )
        }
      }
    } finally {
      await Cli.stop(echo)
      await close(http)
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("a bad environment variable is named, with the form expected", async () => {
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      ["SOCKET_TO_ME_PORT", "abc", "a port, 0-65535"],
      ["SOCKET_TO_ME_MAX_CONNECTIONS", "0", "a whole number, at least 1"],
      ["SOCKET_TO_ME_IDLE_TIMEOUT", "soon", "a duration such as 500ms, 30s or 5m"],
      ["SOCKET_TO_ME_METRICS_PORT", "99999", "a port, 0-65535"]
    ]
    for (const [name, value, expected] of cases) {
      // A port from the command line wins over the variable; a free one, when the variable tested is another.
      const port = name === "SOCKET_TO_ME_PORT" ? [] : ["--port", "0"]
      const result = await Cli.run(["echo", "serve", ...port], { env: { [name]: value } })
      assert.strictEqual(result.code, 1, name)
      assert.strictEqual(
        oneLine(result),
        `socket-to-me echo serve: Invalid value for environment variable ${name}: "${value}". Expected ${expected} (see --help)`
      )
    }
    // The apps' own variables, read the same way.
    const apps: ReadonlyArray<readonly [string, string, string, string]> = [
      ["chat", "SOCKET_TO_ME_CHAT_RATE_LIMIT", "fast", "a whole number, 0 or more"],
      ["chat", "SOCKET_TO_ME_CHAT_RATE_BURST", "0", "a whole number, at least 1"],
      ["files", "SOCKET_TO_ME_RESERVE_BYTES", "lots", "a size such as 64MiB, 1GB or 1048576"],
      ["files", "SOCKET_TO_ME_MAX_PENDING_UPLOADS", "0", "a whole number, at least 1"],
      ["files", "SOCKET_TO_ME_MIN_UPLOAD_RATE", "slow", "a size per second such as 64KiB, or 0"]
    ]
    for (const [app, name, value, expected] of apps) {
      const result = await Cli.run([app, "serve", "--port", "0"], { env: { [name]: value } })
      assert.strictEqual(result.code, 1, name)
      assert.strictEqual(
        oneLine(result),
        `socket-to-me ${app} serve: Invalid value for environment variable ${name}: "${value}". Expected ${expected} (see --help)`
      )
    }
    const files = await Cli.run(["files", "list"], { env: { SOCKET_TO_ME_PORT: "0" } })
    assert.include(oneLine(files), `environment variable SOCKET_TO_ME_PORT: "0". Expected a port, 1-65535`)
  })

  it("a bad flag value says what is expected, once", async () => {
    const result = await Cli.run(["echo", "serve", "--idle-timeout", "soon"])
    assert.strictEqual(result.code, 1)
    assert.strictEqual(
      oneLine(result),
      `socket-to-me echo serve: Invalid value for flag --idle-timeout: "soon". Expected a duration such as 500ms, 30s or 5m (see --help)`
    )
    assert.notMatch(result.stderr, /expected:?\s+expected/i)
  })

  it("help shows --host's default, and only servers say that port 0 picks a free one", async () => {
    const flagLine = (help: string, flag: string) => help.split("\n").find((line) => line.trimStart().startsWith(`${flag} `)) ?? ""
    const servers = [["echo", "serve"], ["files", "serve"], ["chat", "serve"]]
    const clients = [["echo", "send"], ["files", "send"], ["files", "get"], ["files", "list"], ["chat", "join"]]
    for (const command of [...servers, ...clients]) {
      const help = (await Cli.run([...command, "--help"])).stdout
      assert.include(flagLine(help, "--host"), "default 127.0.0.1", command.join(" "))
    }
    for (const command of servers) {
      assert.include(flagLine((await Cli.run([...command, "--help"])).stdout, "--port"), "0 picks a free one", command.join(" "))
    }
    for (const command of clients) {
      const port = flagLine((await Cli.run([...command, "--help"])).stdout, "--port")
      assert.include(port, "TCP port", command.join(" "))
      assert.notMatch(port, /free one|listen/, command.join(" "))
    }
  }, 60_000)

  it("--log-level debug logs each connection's opening with its peer", async () => {
    const server = await Cli.start(["echo", "serve", "--port", "0", "--log-level", "debug"], /listening on 127\.0\.0\.1:(\d+)/, {
      keepTimer: true
    })
    try {
      const socket = Net.connect(Number(server.listening[1]), "127.0.0.1")
      await new Promise<void>((resolve) => socket.once("connect", resolve))
      const opened = await Cli.output(
        server,
        new RegExp(`level=DEBUG .*message="connection opened" .*peer=127\\.0\\.0\\.1:${socket.localPort}`),
        "stderr"
      )
      assert.isDefined(opened)
      socket.destroy()
    } finally {
      await Cli.stop(server)
    }
  })

  it("runs from any directory as the README says (npm --prefix REPO exec socket-to-me)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "socket-to-me-anywhere-"))
    try {
      const result = await Cli.run(["--version"], {
        cwd: dir,
        entry: ["npm", "--prefix", Cli.repoRoot, "exec", "socket-to-me", "--"]
      })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout.trim(), "socket-to-me v0.1.0")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
