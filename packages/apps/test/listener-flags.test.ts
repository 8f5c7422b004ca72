/**
 * The listener flags on every server command and the dialer flags on every
 * client command, run as a user runs them:
 *
 * - TLS: `--tls-cert`/`--tls-key` on echo, chat and files serve; their
 *   clients with `--tls --tls-ca` (echo send, chat join, files send and
 *   list) talk to them;
 * - Unix sockets: `--unix PATH --unix-mode 600` on each server, its file
 *   with those permissions, its clients with `--unix PATH`, and the file
 *   gone after the drain;
 * - `--proxy-protocol` with `--max-connections-per-address`: the chat
 *   server counts by the address a PROXY header gives and refuses the
 *   second from it with its server-full style line;
 * - a combination that makes no sense, or a TLS file that cannot be used,
 *   is one line on stderr and exit 1, before anything listens.
 *
 * TLS needs `openssl` for the test certificates; without it those cases
 * are skipped.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ProxyProtocol from "@socket-to-me/core/ProxyProtocol"
import * as TlsCertificates from "@socket-to-me/testkit/TlsCertificates"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Cli from "./support/Cli.ts"

const listening = (name: string) => new RegExp(`^${name} listening on 127\\.0\\.0\\.1:(\\d+)$`, "m")

// Each server with its own arguments (files needs a folder).
const servers = (dir: string) => [
  { name: "echo", args: [] as ReadonlyArray<string> },
  { name: "chat", args: [] },
  { name: "files", args: ["--dir", join(dir, "received")] }
]

// Each app's client against a server reached with `reach` (the dialer flags and port).
const clientsWork = async (name: string, reach: ReadonlyArray<string>, dir: string) => {
  if (name === "echo") {
    const sent = await Cli.run(["echo", "send", ...reach, "hello", "there"])
    assert.strictEqual(sent.stdout, "hello there\n", sent.stderr)
  } else if (name === "chat") {
    const joined = await Cli.run(["chat", "join", ...reach, "--nick", "ada"], { input: "hi all\n" })
    assert.strictEqual(joined.code, 0, joined.stderr)
    assert.include(joined.stdout, "* you are now ada")
  } else {
    const bytes = Crypto.randomBytes(300_000)
    const path = join(dir, "upload.bin")
    writeFileSync(path, bytes)
    const digest = Crypto.createHash("sha256").update(bytes).digest("hex")
    const sent = await Cli.run(["files", "send", ...reach, path])
    assert.strictEqual(sent.stdout, `saved as upload.bin (${bytes.length} bytes, sha256 ${digest})\n`, sent.stderr)
    const listed = await Cli.run(["files", "list", ...reach])
    assert.include(listed.stdout, `${digest}  upload.bin`, listed.stderr)
  }
}

const withDir = async (body: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), "socket-to-me-listener-"))
  try {
    await body(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const tlsIt = (name: string, body: () => Promise<void>, timeout?: number) =>
  TlsCertificates.available
    ? it(name, body, timeout)
    : it(name, (ctx) => ctx.skip("needs openssl, to make the test certificates"))

// A client command of each app that connects at once, without its reach.
const firstContact: Record<string, (reach: ReadonlyArray<string>) => ReadonlyArray<string>> = {
  echo: (reach) => ["echo", "send", ...reach, "x"],
  chat: (reach) => ["chat", "join", ...reach, "--nick", "bob"],
  files: (reach) => ["files", "list", ...reach]
}

describe("TLS flags", () => {
  for (const server of servers("")) {
    tlsIt(`${server.name} serve --tls-cert --tls-key, and its clients with --tls --tls-ca`, () =>
      withDir(async (dir) => {
        const certificates = Effect.runSync(TlsCertificates.get)
        const args = server.name === "files" ? ["--dir", join(dir, "received")] : []
        const cli = await Cli.start(
          [server.name, "serve", "--port", "0", "--tls-cert", certificates.server.cert, "--tls-key", certificates.server.key, ...args],
          listening(server.name),
          { keepTimer: true }
        )
        try {
          const port = cli.listening[1]!
          await clientsWork(server.name, ["--port", port, "--tls", "--tls-ca", certificates.ca], dir)
          // A client that does not trust the server's CA is told why, on one line.
          const untrusting = await Cli.run(firstContact[server.name]!(["--port", port, "--tls"]))
          assert.strictEqual(untrusting.code, 1)
          assert.match(untrusting.stderr, /^socket-to-me: cannot connect to 127\.0\.0\.1:\d+: TLS handshake failed: unable to verify the first certificate/)
          assert.strictEqual(await Cli.stop(cli), 0)
        } finally {
          cli.child.kill("SIGKILL")
        }
      }), 60_000)
  }

  tlsIt("a TLS file that cannot be used is one line at start, and nothing listens", async () => {
    const certificates = Effect.runSync(TlsCertificates.get)
    const missing = join(certificates.dir, "missing.pem")
    const result = await Cli.run(["chat", "serve", "--port", "0", "--tls-cert", missing, "--tls-key", certificates.server.key])
    assert.strictEqual(result.code, 1)
    assert.strictEqual(result.stderr, `socket-to-me: cannot use the TLS certificate ${missing}: no such file\n`)
    assert.notInclude(result.stdout, "listening")
    const mismatch = await Cli.run(["echo", "serve", "--port", "0", "--tls-cert", certificates.server.cert, "--tls-key", certificates.client.key])
    assert.strictEqual(
      mismatch.stderr,
      `socket-to-me: cannot use the TLS key ${certificates.client.key}: it does not match the certificate ${certificates.server.cert}\n`
    )
  })
})

describe("Unix socket flags", () => {
  for (const server of servers("")) {
    it(`${server.name} serve --unix --unix-mode, and its clients with --unix; the file goes with the server`, () =>
      withDir(async (dir) => {
        const path = join(dir, `${server.name}.sock`)
        const args = server.name === "files" ? ["--dir", join(dir, "received")] : []
        const cli = await Cli.start(
          [server.name, "serve", "--unix", path, "--unix-mode", "600", ...args],
          new RegExp(`^${server.name} listening on ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"),
          { keepTimer: true }
        )
        try {
          assert.strictEqual(statSync(path).mode & 0o777, 0o600)
          await clientsWork(server.name, ["--unix", path], dir)
          assert.strictEqual(await Cli.stop(cli), 0)
          assert.isFalse(existsSync(path), "the socket file is removed on drain")
        } finally {
          cli.child.kill("SIGKILL")
        }
      }), 60_000)
  }
})

// The raw clients opened, closed at the end of the test.
const opened: Array<Net.Socket> = []

// A raw client that sends a PROXY v1 header for `source` and resolves with
// the server's first line.
const firstLineAs = (port: number, source: string) =>
  new Promise<string>((resolve, reject) => {
    const conn = Net.connect({ host: "127.0.0.1", port }, () =>
      conn.write(ProxyProtocol.encodeV1({
        _tag: "Proxied",
        version: 1,
        family: "TCP4",
        source: { host: source, port: 40000 },
        destination: { host: "192.0.2.1", port: 7002 }
      })))
    let received = ""
    conn.on("data", (chunk) => {
      received += chunk
      const end = received.indexOf("\n")
      if (end >= 0) {
        resolve(received.slice(0, end))
        if (!received.startsWith("* welcome")) conn.destroy()
      }
    })
    conn.on("error", reject)
    opened.push(conn)
  })

describe("--proxy-protocol and --max-connections-per-address", () => {
  it("chat counts connections by the address from the PROXY header, and refuses the second from it", async () => {
    const cli = await Cli.start(
      ["chat", "serve", "--port", "0", "--proxy-protocol", "--max-connections-per-address", "1"],
      listening("chat"),
      { keepTimer: true }
    )
    try {
      const port = Number(cli.listening[1])
      assert.strictEqual(await firstLineAs(port, "203.0.113.5"), "* welcome to socket-to-me chat")
      assert.strictEqual(
        await firstLineAs(port, "203.0.113.5"),
        "* error: too many connections from 203.0.113.5 (at most 1)"
      )
      assert.strictEqual(await firstLineAs(port, "198.51.100.7"), "* welcome to socket-to-me chat")
      await Cli.output(cli, /connection refused: limit of 1 connections from 203\.0\.113\.5 reached/, "stderr")
    } finally {
      for (const conn of opened) conn.destroy()
      cli.child.kill("SIGKILL")
    }
  }, 30_000)
})

describe("flags that make no sense together are one line, exit 1", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
    [["echo", "serve", "--unix", "/tmp/x.sock", "--port", "7001"], "--port and --unix cannot be used together"],
    [["echo", "serve", "--unix-mode", "600"], "--unix-mode needs --unix"],
    [["chat", "serve", "--tls-key", "key.pem"], "--tls-cert and --tls-key go together"],
    [["files", "serve", "--tls-ca", "ca.pem"], "--tls-ca needs --tls-cert and --tls-key"],
    [["echo", "serve", "--tls-cert", "c", "--tls-key", "k", "--tls-require-client-cert"], "--tls-require-client-cert needs --tls-ca, the CA that signs the client certificates"],
    [["echo", "send", "--tls-ca", "ca.pem", "hi"], "--tls-ca needs --tls"],
    [["chat", "join", "--tls-servername", "x", "--nick", "ada"], "--tls-servername needs --tls"],
    [["files", "list", "--unix", "/tmp/x.sock", "--port", "7003"], "--port and --unix cannot be used together"]
  ]
  for (const [args, message] of cases) {
    it(args.join(" "), async () => {
      const result = await Cli.run(args)
      assert.strictEqual(result.code, 1)
      assert.strictEqual(result.stderr, `socket-to-me: ${message}\n`)
    })
  }
})
