/**
 * No flag is silently ignored: every server command, run as a process with
 * every shared flag set away from its default, shows each flag's effect.
 *
 * - `--host ::1` and `--port 0`: the listening line says `[::1]:PORT`, not 7001-7003;
 * - `--metrics-port 0`: a metrics endpoint answers, and its
 *   `socket_to_me_connections_limit` gauge says `--max-connections`;
 * - `--idle-timeout 1s`: a silent connection is closed as `IdleTimeout`;
 * - `--frame-deadline 200ms` (chat and files, whose protocols have frames):
 *   a connection that starts a frame and stops is closed as `FrameTimeout`
 *   first; echo has no frames and refuses the flag rather than ignore it;
 * - `--shutdown-grace 2s`: on SIGTERM the draining line says `up to 2s`.
 *
 * `demo` is left out: it listens on the fixed default ports, which a test
 * must not take; it starts each server with the same functions as the
 * commands tested here.
 */
import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Cli from "./support/Cli.ts"

const get = (port: number, path: string) =>
  new Promise<string>((resolve, reject) => {
    Http.get({ host: "::1", port, path }, (response) => {
      let body = ""
      response.on("data", (chunk) => (body += chunk))
      response.on("end", () => resolve(body))
    }).once("error", reject)
  })

// Connects, optionally writes `bytes`, and resolves with our local port and
// a promise of the server closing the connection.
const connect = async (port: number, bytes?: Uint8Array) => {
  const socket = Net.connect({ host: "::1", port })
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject))
  socket.resume()
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
  if (bytes !== undefined) socket.write(bytes)
  return { localPort: socket.localPort!, closed }
}

interface Case {
  readonly name: string
  readonly args: (dir: string) => ReadonlyArray<string>
  /** The first bytes of a frame, without its end; undefined when the protocol has no frames. */
  readonly partialFrame?: Uint8Array | undefined
}

const cases: ReadonlyArray<Case> = [
  { name: "echo", args: () => [] },
  { name: "chat", args: () => [], partialFrame: new TextEncoder().encode("/nick half-a-li") },
  // Two bytes of a four-byte length prefix.
  { name: "files", args: (dir) => ["--dir", dir], partialFrame: new Uint8Array([0, 0]) }
]

const shared = ["--host", "::1", "--port", "0", "--max-connections", "3", "--idle-timeout", "1s", "--shutdown-grace", "2s", "--metrics-port", "0"]

describe("every server command takes every shared flag", () => {
  for (const { args, name, partialFrame } of cases) {
    it(`${name} serve`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "socket-to-me-flags-"))
      const framed = partialFrame === undefined ? [] : ["--frame-deadline", "200ms"]
      const cli = await Cli.start(
        [name, "serve", ...shared, ...framed, ...args(dir)],
        new RegExp(`^${name} listening on \\[::1\\]:(\\d+)$`, "m"),
        { keepTimer: true }
      )
      try {
        const port = Number(cli.listening[1])
        assert.notStrictEqual(port, 0)
        const [, metricsPort] = await Cli.output(cli, /^metrics listening on \[::1\]:(\d+)$/m)
        const metrics = await get(Number(metricsPort), "/metrics")
        assert.include(metrics, `socket_to_me_connections_limit{server="${name}"} 3`)

        const silent = await connect(port)
        const started = partialFrame === undefined ? undefined : await connect(port, partialFrame)
        // The server's line for each connection's end, once it is logged.
        const ended = async (peer: { localPort: number; closed: Promise<void> }) => {
          await peer.closed
          const pattern = new RegExp(`message="connection closed" .*peer=\\S+:${peer.localPort} reason=(\\w+)`)
          return (await Cli.output(cli, pattern, "stderr"))[1]
        }
        if (started !== undefined) assert.strictEqual(await ended(started), "FrameTimeout")
        assert.strictEqual(await ended(silent), "IdleTimeout")

        cli.child.kill("SIGTERM")
        await Cli.output(cli, /^draining 0 connections \(up to 2s; Ctrl-C again to force\)$/m)
        assert.strictEqual((await cli.exited).code, 0)
      } finally {
        cli.child.kill("SIGKILL")
        rmSync(dir, { recursive: true, force: true })
      }
    }, 30_000)
  }

  it("echo serve refuses --frame-deadline (echo has no frames) instead of ignoring it", async () => {
    const result = await Cli.run(["echo", "serve", "--port", "0", "--frame-deadline", "1s"])
    assert.strictEqual(result.code, 1)
    assert.include(result.stderr, "--frame-deadline")
  })
})
