/**
 * `--log-level debug`: each connection's opening is logged with its peer,
 * and so are the state changes worth knowing (a frame deadline hit, a
 * drain started for it); every line logged inside a connection, the apps'
 * included, carries the connection's id.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Cli from "./support/Cli.ts"

// One logfmt line: its message and its other fields.
interface Line {
  readonly message: string
  readonly fields: Readonly<Record<string, string>>
}

const parse = (text: string): Array<Line> =>
  text.split("\n").filter((line) => line.includes("message=")).map((line) => {
    const fields: Record<string, string> = {}
    for (const match of line.matchAll(/([\w.]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      const value = match[2]!
      fields[match[1]!] = value.startsWith("\"") ? JSON.parse(value) as string : value
    }
    return { message: fields["message"] ?? "", fields }
  })

// A client connection that collects what it reads.
const connect = (port: number) =>
  new Promise<{ socket: Net.Socket; localPort: number; until: (text: string) => Promise<void> }>((resolve) => {
    let text = ""
    const waiters = new Set<() => void>()
    const socket = Net.connect(port, "127.0.0.1", () =>
      resolve({
        socket,
        localPort: socket.localPort!,
        until: (wanted) =>
          new Promise<void>((done, fail) => {
            const check = () => {
              if (text.includes(wanted)) return (waiters.delete(check), done())
              if (socket.destroyed) return (waiters.delete(check), fail(new Error(`closed before ${wanted}: ${text}`)))
            }
            waiters.add(check)
            check()
          })
      }))
    const wake = () => {
      for (const check of waiters) check()
    }
    socket.on("data", (chunk) => (text += chunk.toString("utf8"), wake()))
    socket.on("close", wake)
    socket.on("error", () => {})
  })

const perConnection = [
  "connection opened",
  "frame deadline hit",
  "drain started",
  "connection closed",
  "upload started",
  "upload saved"
]

describe("--log-level debug", () => {
  it("chat: opening, frame deadline hit and drain started are logged, each with its connection's id", async () => {
    const server = await Cli.start(
      ["chat", "serve", "--port", "0", "--log-level", "debug", "--frame-deadline", "300ms"],
      /listening on 127\.0\.0\.1:(\d+)/,
      { keepTimer: true, killAfter: 30_000 }
    )
    const port = Number(server.listening[1])
    let stopped = false
    try {
      // The first connection leaves a line unfinished past the deadline.
      const alice = await connect(port)
      alice.socket.write("/nick alice\nunfinished")
      await alice.until("* you joined lobby")
      await Cli.output(server, /message="connection closed" .*reason=FrameTimeout/, "stderr")
      // The second one is there when the server drains.
      const bob = await connect(port)
      bob.socket.write("/nick bob\n")
      await bob.until("* you joined lobby")
      const code = await Cli.stop(server)
      stopped = true
      assert.strictEqual(code, 0)
      const lines = parse(server.stderr())
      const of = (id: string) => lines.filter((line) => line.fields["connection"] === id).map((line) => line.message)
      for (const line of lines) {
        if (perConnection.some((message) => line.message.startsWith(message))) {
          assert.match(line.fields["connection"] ?? "", /^\d+$/, `${line.message} carries the connection's id`)
        }
      }
      const opened = lines.filter((line) => line.message === "connection opened")
      assert.deepStrictEqual(opened.map((line) => line.fields["peer"]), [
        `127.0.0.1:${alice.localPort}`,
        `127.0.0.1:${bob.localPort}`
      ])
      assert.includeMembers(of("1"), ["connection opened", "frame deadline hit: a frame not completed within 300ms", "connection closed"])
      assert.includeMembers(of("2"), ["connection opened", "drain started: the connection is told to finish", "connection closed"])
      assert.strictEqual(lines.find((line) => line.fields["connection"] === "2" && line.message === "connection closed")?.fields["reason"], "Drained")
    } finally {
      if (!stopped) await Cli.stop(server)
    }
  }, 60_000)

  it("files: the app's own lines (upload started, upload saved) carry the connection's id", async () => {
    const cwd = Fs.mkdtempSync(Path.join(Os.tmpdir(), "socket-to-me-debug-logs-"))
    const server = await Cli.start(
      ["files", "serve", "--port", "0", "--log-level", "debug"],
      /listening on 127\.0\.0\.1:(\d+)/,
      { cwd, keepTimer: true, killAfter: 30_000 }
    )
    try {
      Fs.writeFileSync(Path.join(cwd, "notes.txt"), "some notes\n")
      const sent = await Cli.run(["files", "send", "notes.txt", "--port", server.listening[1]!], { cwd })
      assert.strictEqual(sent.code, 0, sent.stderr)
      await Cli.output(server, /message="connection closed"/, "stderr")
      const lines = parse(server.stderr()).filter((line) => line.fields["connection"] === "1")
      assert.includeMembers(lines.map((line) => line.message), ["connection opened", "upload started", "upload saved", "connection closed"])
    } finally {
      await Cli.stop(server)
      Fs.rmSync(cwd, { recursive: true, force: true })
    }
  }, 60_000)
})
