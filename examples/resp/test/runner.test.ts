/**
 * The example as a user starts it: `npm run example -- resp --host
 * 127.0.0.1 --port 0` prints `resp listening on 127.0.0.1:PORT`, serves
 * there, and Ctrl-C (SIGINT to the whole process group, as a terminal
 * sends it) drains it. Its flags are checked and explained.
 */
import { assert, describe, it } from "@effect/vitest"
import { Spawned } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import { fileURLToPath } from "node:url"
import * as Processes from "./support/Processes.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))

describe("npm run example -- resp", () => {
  it.live("prints its listening line, serves on that port, and drains on Ctrl-C", () =>
    Effect.gen(function*() {
      const server = yield* Spawned.start("npm", ["run", "example", "--", "resp", "--host", "127.0.0.1", "--port", "0"], {
        cwd: root,
        ready: /^resp listening on 127\.0\.0\.1:(\d+)$/m
      })
      const port = Number(server.match[1])
      assert.deepStrictEqual(yield* Processes.exchange(port, "PING\r\nECHO hi\r\n", (got) => got.endsWith("hi\r\n")), {
        received: "+PONG\r\n$2\r\nhi\r\n",
        closed: false
      })
      yield* server.kill("SIGINT")
      yield* server.waitFor(/message="drained \d+, interrupted 0" server=resp/)
    }).pipe(Effect.scoped), 120_000)

  it.live("--help explains the flags; a bad port is refused with exit code 2", () =>
    Effect.gen(function*() {
      const help = yield* Spawned.run("npm", ["run", "--silent", "example", "--", "resp", "--help"], { cwd: root })
      assert.strictEqual(help.code, 0, help.stderr)
      assert.include(help.stdout, "usage: npm run example -- resp [--host HOST] [--port PORT]")
      const bad = yield* Spawned.run("npm", ["run", "--silent", "example", "--", "resp", "--port", "70000"], { cwd: root })
      assert.strictEqual(bad.code, 2)
      assert.include(bad.stderr, "port must be between 0 and 65535, got 70000")
    }), 120_000)
})
