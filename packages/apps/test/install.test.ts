/**
 * The packages as a user gets them: `npm run pack`'s tarballs installed with
 * npm into a new project outside the workspace (the tarballs plus their
 * registry dependencies, nothing linked), where the README's own-server
 * example (examples/upper) runs over TCP with plain `node server.ts`, its
 * memory-network test passes under `node --test`, and the installed
 * `socket-to-me` CLI runs. Every child runs without the repo's source
 * condition, so only the built dist/ files can be used.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const example = join(root, "examples", "upper")

// A user's environment: no source condition, the project's Node first on PATH.
const { NODE_OPTIONS: _conditions, ...userEnv } = process.env

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

// Runs a command to its end under a hard timer, so a hang fails the test.
const run = (command: string, args: ReadonlyArray<string>, cwd: string, killAfter = 240_000) =>
  Effect.callback<Ran>((resume) => {
    const child = ChildProcess.spawn(command, args, { cwd, env: userEnv, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), killAfter)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const must = (ran: Ran, what: string) =>
  assert.strictEqual(ran.code, 0, `${what} failed:\n${ran.stdout}\n${ran.stderr}`)

// Sends `text` to the server, half-closes, and reads everything back.
const exchange = (port: number, text: string) =>
  Effect.callback<string, Error>((resume) => {
    let reply = ""
    const socket = Net.createConnection({ host: "127.0.0.1", port }, () => socket.end(text))
    socket.setEncoding("utf8")
    socket.on("data", (chunk) => (reply += chunk))
    socket.on("end", () => resume(Effect.succeed(reply)))
    socket.on("error", (error) => resume(Effect.fail(error)))
    return Effect.sync(() => socket.destroy())
  })

describe("installed from the tarballs", () => {
  it.live("the README's own server runs over TCP, its memory test passes, and the CLI runs", () =>
    Effect.gen(function*() {
      const project = mkdtempSync(join(tmpdir(), "socket-to-me-install-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(project, { recursive: true, force: true })))
      const tarballs = join(project, "tarballs")
      must(yield* run(process.execPath, [join(root, "scripts", "pack.mjs"), tarballs], root), "npm run pack")
      const files = readdirSync(tarballs).filter((file) => file.endsWith(".tgz")).map((file) => join(tarballs, file))
      assert.deepStrictEqual(files.length, 4)
      writeFileSync(join(project, "package.json"), JSON.stringify({ name: "my-server", private: true, type: "module" }))
      must(
        yield* run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...files, "effect@4.1.0"], project),
        "npm install"
      )
      copyFileSync(join(example, "server.ts"), join(project, "server.ts"))
      copyFileSync(join(example, "server.test.ts"), join(project, "server.test.ts"))

      // Over TCP, as `node server.ts`, then stopped by SIGINT (a drain: exit 0).
      const server = ChildProcess.spawn(process.execPath, ["server.ts"], {
        cwd: project,
        env: { ...userEnv, PORT: "0" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const killer = setTimeout(() => server.kill("SIGKILL"), 60_000)
      yield* Effect.addFinalizer(() => Effect.sync(() => (clearTimeout(killer), server.kill("SIGKILL"))))
      let stderr = ""
      server.stderr.on("data", (chunk) => (stderr += chunk))
      const exited = new Promise<number | null>((resolve) => server.on("exit", (code) => resolve(code)))
      const port = yield* Effect.callback<number, Error>((resume) => {
        let out = ""
        server.stdout.on("data", (chunk) => {
          out += chunk
          const match = /upper listening on 127\.0\.0\.1:(\d+)/.exec(out)
          if (match) resume(Effect.succeed(Number(match[1])))
        })
        void exited.then(() => resume(Effect.fail(new Error(`server.ts exited before listening:\n${out}\n${stderr}`))))
      })
      assert.strictEqual(yield* exchange(port, "hello\nfrom a user\n"), "HELLO\nFROM A USER\n")
      server.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => exited), 0, stderr)

      // The memory-network test, with Node's own test runner.
      must(yield* run(process.execPath, ["--test", "server.test.ts"], project), "node --test server.test.ts")

      // The CLI from its package, on this Node alone (no repo, no tools/).
      const help = yield* run(process.execPath, [join(project, "node_modules", ".bin", "socket-to-me"), "echo", "--help"], project)
      must(help, "socket-to-me echo --help")
      assert.include(help.stdout, "Echo server and client")
    }).pipe(Effect.scoped), 300_000)
})
