/**
 * The resp server against redis-server itself, with Redis's own tools as
 * the clients: the same bytes of the same scripts sent to both (pipelined
 * RESP and inline commands over raw sockets, redis-cli's commands, pub/sub
 * between two redis-cli clients) must come back identical, protocol errors
 * and closes included; redis-benchmark must complete against it; and its
 * own, smaller limits refuse input with Redis's text without buffering it.
 *
 * Both servers start once for the file, each on a free 127.0.0.1 port in a
 * temporary folder. Without redis-server, redis-cli or redis-benchmark
 * (Debian: `apt-get install redis-server redis-tools`; `.ci/run` installs
 * them) the tests that need them are skipped, and `npm test` says so.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { RedisServer, Spawned } from "@socket-to-me/testkit"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { fileURLToPath } from "node:url"
import * as Config from "../Config.ts"
import * as Processes from "./support/Processes.ts"

const example = fileURLToPath(new URL("../../../scripts/example.mjs", import.meta.url))

class Servers extends Context.Service<Servers, { readonly redis: number; readonly resp: number }>()("test/resp/Servers") {}

const startServers = Effect.gen(function*() {
  const redis = yield* RedisServer.start
  const respDir = yield* Spawned.tempDir("resp-example-")
  const resp = yield* Spawned.start(process.execPath, [example, "resp", "--host", "127.0.0.1", "--port", "0"], {
    cwd: respDir,
    ready: /resp listening on 127\.0\.0\.1:(\d+)/
  })
  return { redis: redis.port, resp: Number(resp.match[1]) }
})

const servers = Processes.missing.includes("redis-server")
  ? Layer.succeed(Servers, { redis: 0, resp: 0 })
  : Layer.effect(Servers, startServers)

interface Case {
  readonly name: string
  /** The tools it runs; without one of them it is skipped. */
  readonly tools: ReadonlyArray<keyof typeof Processes.tools>
  readonly body: Effect.Effect<void, Error, Servers>
}

const end = "ECHO __end__\r\n"
const ended = (received: string) => received.endsWith("$7\r\n__end__\r\n")

// Everything the server implements, and its errors, in one pipelined write:
// multibulk and inline, binary values, every SET and EXPIRE option, the
// 64-bit edges of INCR/DECR, wrong arities, unknown commands (with the
// 128-character cut of their arguments), subscribed mode, and the parser's
// quirks (trailing bytes unchecked, empty arrays and lines skipped).
const script = [
  "PING", "PING hello", "ECHO \"a b\"", "*2\r\n$4\r\nECHO\r\n$4\r\n\x00\xff\r\n\r\n",
  "SET s:a 1", "GET s:a", "INCR s:a", "DECR s:a", "DECR s:a", "INCR s:missing", "GET s:missing",
  "SET s:str abc", "INCR s:str", "SET s:max 9223372036854775807", "INCR s:max", "GET s:max",
  "SET s:min -9223372036854775808", "DECR s:min", "SET s:pad \" 1\"", "INCR s:pad", "SET s:zero 01", "INCR s:zero",
  "DEL s:a s:a s:none", "EXISTS s:str s:str s:none", "GET s:a",
  "SET s:x v NX", "SET s:x w NX", "SET s:x w XX", "SET s:y w XX", "GET s:x", "GET s:y", "set s:x V nx", "SeT s:z v xX",
  "SET s:t v EX 100", "TTL s:t", "SET s:t v PX 100000", "TTL s:t", "SET s:t v px 1", "SET s:t v", "TTL s:t", "TTL s:none",
  "SET s:t v EX 10 EX 20", "TTL s:t", "SET s:t v",
  "EXPIRE s:t 100", "TTL s:t", "EXPIRE s:t 50 GT", "EXPIRE s:t 500 gt", "TTL s:t", "EXPIRE s:t 10 LT", "TTL s:t",
  "EXPIRE s:t 10 NX", "EXPIRE s:t 20 XX", "EXPIRE s:x 20 XX", "EXPIRE s:x 20 GT", "EXPIRE s:x 20 LT", "TTL s:x",
  "EXPIRE s:none 10", "EXPIRE s:t 0", "EXISTS s:t", "EXPIRE s:x -1", "GET s:x",
  "SET s:k v EX 0", "SET s:k v EX -5", "SET s:k v PX abc", "SET s:k v NX XX", "SET s:k v EX", "SET s:k v EX 10 PX 10",
  "SET s:k v EX 9223372036854775", "SET s:k v PX 9223372036854775807", "SET s:k v EX 9223372036854774",
  "SET s:k v FOO", "SET s:k", "EXPIRE s:k 10 NX XX", "EXPIRE s:k 10 GT LT", "EXPIRE s:k 10 NX GT", "EXPIRE s:k 10 FOO",
  "EXPIRE s:k abc FOO", "EXPIRE s:k abc", "EXPIRE s:k 9223372036854775808", "EXPIRE s:k 9223372036854775", "EXPIRE s:k",
  "GET", "GET a b", "ECHO", "ECHO a b", "PING a b", "PUBLISH ch", "SUBSCRIBE", "TTL", "INCR", "DECR a b", "DEL", "EXISTS",
  "FOO", "FOO a b", "foo \"with\\r\\nnewline\" 'x'", `BAR ${"a".repeat(100)} ${"b".repeat(100)} c`, `${"n".repeat(200)} x`,
  "*3\r\n$3\r\nBAZ\r\n$3\r\na\x00b\r\n$2\r\n\r\n\r\n", "gEt s:str",
  "PUBLISH s:nobody msg", "UNSUBSCRIBE", "UNSUBSCRIBE a b",
  "SUBSCRIBE s:ch s:ch2 s:ch", "GET x", "SET a b", "PING", "PING m", "FOO", "GET", "PUBLISH a b", "ECHO x",
  "UNSUBSCRIBE s:none", "UNSUBSCRIBE s:ch s:ch2", "PING", "UNSUBSCRIBE",
  "*0\r\n*-1\r\n*1\r\n$4\r\nPINGxx*1\rX$4\rXPING\r\n", "", "   ", "ECHO \"\\x41\\n\\t\\\\\" 'it\\'s'", "PING\n"
].map((command) => command.includes("\r\n") || command.endsWith("\n") ? command : `${command}\r\n`).join("")

// Input that ends the connection, each on a connection of its own.
const protocolErrors = [
  "*1\r\n*1\r\n", "*2\r\n$3\r\nGET\r\n:1\r\n", "*1\r\n\r\n", "*1\r\n$-1\r\n", "*1\r\n$01\r\n", "*01\r\n", "*x\r\n",
  "*1\r\n$999999999999\r\n", "*3000000000\r\n", "SET k \"v\r\n", "SET k \"v\"w\r\n", "'a\r\n", "ECHO 'a'b\r\n",
  "PING\r\nSET p:k v\r\nGET p:k\r\n*1\r\n$x\r\nPING\r\n",
  "a".repeat(70_000), `*${"1".repeat(69_999)}`, `*1\r\n$${"1".repeat(69_995)}`,
  "QUIT\r\nPING\r\n", "SUBSCRIBE c\r\nQUIT\r\n", "quit extra args\r\n"
]

// The same commands through redis-cli, one per line on its stdin.
const cliCommands = [
  "set c:a 1", "get c:a", "incr c:a", "decr c:a", "get c:none", "set c:b \"x y\"", "get c:b", "set c:b v nx", "set c:n v xx",
  "expire c:a 100", "ttl c:a", "ttl c:b", "ttl c:none", "exists c:a c:b c:none", "del c:a c:b c:none", "exists c:a",
  "incr c:b", "set c:s abc", "incr c:s", "ping", "ping hi", "echo hello", "foo bar", "get", "set c:k v ex 0",
  "publish c:nobody hi", "subscribe"
].join("\n") + "\n"

const cases: ReadonlyArray<Case> = [
  {
    name: "a pipelined script of RESP and inline commands: byte-identical replies",
    tools: ["redis-server"],
    body: Effect.gen(function*() {
      const { redis, resp } = yield* Servers
      const expected = yield* Processes.exchange(redis, script + end, ended)
      const actual = yield* Processes.exchange(resp, script + end, ended)
      assert.isFalse(expected.closed)
      assert.strictEqual(actual.received, expected.received)
    })
  },
  {
    name: "protocol errors and QUIT: the same replies, then both close",
    tools: ["redis-server"],
    body: Effect.gen(function*() {
      const { redis, resp } = yield* Servers
      for (const input of protocolErrors) {
        const expected = yield* Processes.exchange(redis, input)
        const actual = yield* Processes.exchange(resp, input)
        assert.isTrue(expected.closed, `redis-server closes after ${JSON.stringify(input.slice(0, 40))}`)
        assert.deepStrictEqual(actual, expected, `after ${JSON.stringify(input.slice(0, 40))}`)
      }
    })
  },
  {
    name: "redis-cli: the same output for the same commands",
    tools: ["redis-server", "redis-cli"],
    body: Effect.gen(function*() {
      const { redis, resp } = yield* Servers
      const expected = yield* Spawned.run("redis-cli", ["-p", String(redis)], { input: cliCommands })
      const actual = yield* Spawned.run("redis-cli", ["-p", String(resp)], { input: cliCommands })
      assert.strictEqual(expected.code, 0, expected.stderr)
      assert.include(expected.stdout, "ERR unknown command 'foo'")
      assert.deepStrictEqual(actual, expected)
    })
  },
  {
    name: "pub/sub between two redis-cli clients: the same subscriber and publisher output",
    tools: ["redis-server", "redis-cli"],
    body: Effect.gen(function*() {
      const { redis, resp } = yield* Servers
      const session = (port: number) =>
        Effect.scoped(Effect.gen(function*() {
          const dir = yield* Spawned.tempDir("resp-cli-")
          // Started once it has printed its confirmation: subscribed.
          const subscriber = yield* Spawned.start("redis-cli", ["-p", String(port), "subscribe", "news"], {
            cwd: dir,
            ready: /subscribe\nnews\n1\n/
          })
          const published = yield* Spawned.run("redis-cli", ["-p", String(port), "publish", "news", "hello world"])
          yield* subscriber.waitFor(/message\nnews\nhello world\n/)
          const quiet = yield* Spawned.run("redis-cli", ["-p", String(port), "publish", "weather", "rain"])
          return { subscriber: subscriber.output(), published: published.stdout, quiet: quiet.stdout }
        }))
      const expected = yield* session(redis)
      assert.deepStrictEqual(expected, {
        subscriber: "subscribe\nnews\n1\nmessage\nnews\nhello world\n",
        published: "1\n",
        quiet: "0\n"
      })
      assert.deepStrictEqual(yield* session(resp), expected)
    })
  },
  {
    name: "redis-benchmark: 20000 requests from 20 clients of PING, SET, GET, INCR complete without an error",
    tools: ["redis-server", "redis-benchmark"],
    body: Effect.gen(function*() {
      const { resp } = yield* Servers
      const ran = yield* Spawned.run(
        "redis-benchmark",
        ["-h", "127.0.0.1", "-p", String(resp), "-n", "20000", "-c", "20", "-t", "ping,set,get,incr", "-q"],
        { killAfter: 180_000 }
      )
      const results = ran.stdout.split(/[\r\n]/).filter((line) => / requests per second/.test(line))
      assert.strictEqual(ran.code, 0, ran.stdout + ran.stderr)
      assert.deepStrictEqual(results.map((line) => line.slice(0, line.indexOf(":"))), ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR"])
      // redis-benchmark asks CONFIG GET (not implemented) and warns; any
      // other complaint is an error.
      const complaints = (ran.stdout + ran.stderr).split(/[\r\n]/).filter((line) =>
        /error|err /i.test(line) && !line.startsWith("WARNING: Could not fetch server CONFIG")
      )
      assert.deepStrictEqual(complaints, [])
      // Figures for the log, not asserted: tests do not time things.
      process.stdout.write(`redis-benchmark against resp: ${results.join("; ")}\n`)
    })
  },
  {
    name: "the smaller limits refuse with Redis's text and close, where redis-server would wait for more",
    tools: ["redis-server"],
    body: Effect.gen(function*() {
      const { resp } = yield* Servers
      assert.deepStrictEqual(
        yield* Processes.exchange(resp, `PING\r\n*2\r\n$4\r\nECHO\r\n$${Config.maxBulkBytes + 1}\r\n`),
        { received: "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n", closed: true }
      )
      assert.deepStrictEqual(
        yield* Processes.exchange(resp, `*${Config.maxArgs + 1}\r\n`),
        { received: "-ERR Protocol error: invalid multibulk length\r\n", closed: true }
      )
    })
  },
  {
    name: "endless input is refused after about a limit's worth, not buffered: a 2 GiB command, an endless line",
    tools: ["redis-server"],
    body: Effect.gen(function*() {
      const { redis, resp } = yield* Servers
      // Bulk strings of the largest size, as many as the header allows:
      // refused silently past maxCommandBytes (as Redis past its query
      // buffer limit, 1 GB by default, not tried here).
      const bulk = `$${Config.maxBulkBytes}\r\n${"v".repeat(Config.maxBulkBytes)}\r\n`
      const command = yield* Processes.flood(resp, `*${Config.maxArgs}\r\n`, new TextEncoder().encode(bulk), 256 * 1024 * 1024)
      assert.isTrue(command.closed, "closed before 256 MiB were sent")
      assert.isBelow(command.written, 32 * 1024 * 1024)
      assert.strictEqual(command.received, "")
      // An inline line that never ends: both servers close after 64 KiB.
      for (const port of [redis, resp]) {
        const line = yield* Processes.flood(port, "", new TextEncoder().encode("a".repeat(16 * 1024)), 256 * 1024 * 1024)
        assert.isTrue(line.closed, `port ${port} closed`)
        assert.isBelow(line.written, 32 * 1024 * 1024)
      }
    })
  }
]

const absent = (test: Case) => test.tools.filter((tool) => Processes.missing.includes(tool))
const runnable = cases.filter((test) => absent(test).length === 0)
const skipped = cases.filter((test) => absent(test).length > 0)

if (runnable.length > 0) {
  layer(servers, { excludeTestServices: true, timeout: 60_000 })("resp against redis-server", (it) => {
    for (const test of runnable) it.effect(test.name, () => test.body)
  })
}
if (skipped.length > 0) {
  // Skipped at run time, with the reason: vitest counts and lists them and
  // `npm test` prints what to install.
  describe("resp against redis-server", () => {
    for (const test of skipped) it(test.name, (ctx) => ctx.skip(`needs ${absent(test).join(", ")}`))
  })
}
