/**
 * `socket-to-me chat serve --redis` as a user runs it: three chat servers
 * in separate processes on one real `redis-server` (started by the test on
 * a free loopback port, without persistence), clients over TCP. One server
 * killed with SIGKILL mid-conversation frees its nicknames within the lease
 * while the others carry on; Redis stopped and started again mid-
 * conversation; a bad URL and an unreachable Redis are one line each.
 *
 * Skipped, with the reason, when `redis-server` is not installed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeTransport from "@socket-to-me/node/NodeTransport"
import * as RedisServer from "@socket-to-me/testkit/RedisServer"
import * as Spawned from "@socket-to-me/testkit/Spawned"
import * as Effect from "effect/Effect"
import { fileURLToPath } from "node:url"
import * as Protocol from "../src/chat/Protocol.ts"
import * as Cli from "./support/Cli.ts"
import * as Peer from "./support/ChatPeer.ts"
import * as Redis from "./support/Redis.ts"

const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const linkLost = Protocol.formatEvent(Protocol.linkLost)
const linkBack = Protocol.formatEvent(Protocol.linkBack)

// A chat server process on the Redis at `url`, for the life of the scope.
const chatServer = (url: string, ...args: ReadonlyArray<string>) =>
  Effect.map(
    Spawned.start(
      process.execPath,
      [bin, "chat", "serve", "--port", "0", "--rate-limit", "0", "--redis", url, ...args],
      { ready: /chat listening on 127\.0\.0\.1:(\d+)/ }
    ),
    (started) => ({ process: started, dial: NodeTransport.dial({ host: "127.0.0.1", port: Number(started.match[1]) }) })
  )

describe("chat serve --redis, three processes on one Redis", () => {
  Redis.test("a server killed mid-conversation frees its nicknames within the lease; the others carry on", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [p0, p1, p2] = yield* Effect.all(
        [0, 1, 2].map(() => chatServer(redis.url, "--redis-lease", "1500ms")),
        { concurrency: "unbounded" }
      )
      const ann = yield* Peer.login(p0!, "ann")
      const bob = yield* Peer.login(p1!, "bob")
      yield* ann.expect("* bob joined lobby")
      const cat = yield* Peer.login(p2!, "cat")
      yield* ann.expect("* cat joined lobby")
      yield* bob.expect("* cat joined lobby")
      yield* ann.send("hi all")
      yield* bob.expect("<ann> hi all")
      yield* cat.expect("<ann> hi all")
      yield* bob.send("/who")
      yield* bob.expect("* in lobby: ann, bob, cat")
      // Another client of p0 cannot take bob's nickname while p1 lives.
      const other = yield* Peer.connect(p0!)
      yield* other.send("/nick bob")
      yield* other.expect("* error: nickname bob is taken")

      yield* p1!.process.kill("SIGKILL")
      yield* p1!.process.exited
      // Once p1 missed a lease's worth of heartbeats, the others say so...
      yield* ann.expect("* bob disconnected")
      yield* cat.expect("* bob disconnected")
      // ... and bob's lease, which p1 renewed no later than its last heartbeat, is gone.
      yield* other.send("/nick bob")
      yield* other.expect("* you joined lobby")
      yield* cat.expect("* bob joined lobby")
      yield* cat.send("still here")
      yield* ann.expect("<cat> still here")
      yield* other.expect("<cat> still here")
      yield* ann.send("/who")
      yield* ann.expect("* in lobby: ann, bob, cat")
    })), 90_000)

  Redis.test("a server stopped with SIGTERM tells the others its members left, and frees their nicknames at once", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      // A lease far longer than the test may wait: only the stop itself can free "bob".
      const [p0, p1] = yield* Effect.all(
        [0, 1].map(() => chatServer(redis.url, "--redis-lease", "10m")),
        { concurrency: "unbounded" }
      )
      const ann = yield* Peer.login(p0!, "ann")
      const bob = yield* Peer.login(p1!, "bob")
      yield* ann.expect("* bob joined lobby")
      yield* p1!.process.kill("SIGTERM")
      yield* bob.expect("* server shutting down")
      yield* ann.expect("* bob disconnected")
      assert.strictEqual(yield* p1!.process.exited, 0)
      yield* ann.send("/nick bob")
      yield* ann.expect("* you are now bob")
    })), 90_000)

  Redis.test("Redis stopped and started again mid-conversation: local chat goes on, the servers link again", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [p0, p1] = yield* Effect.all([0, 1].map(() => chatServer(redis.url)), { concurrency: "unbounded" })
      const ann = yield* Peer.login(p0!, "ann")
      const amy = yield* Peer.login(p0!, "amy")
      const bob = yield* Peer.login(p1!, "bob")
      yield* ann.expect("* bob joined lobby")
      yield* ann.send("before")
      yield* bob.expect("<ann> before")
      yield* redis.stop("SIGKILL")
      for (const peer of [ann, amy, bob]) yield* peer.expect(linkLost)
      yield* ann.send("during")
      yield* amy.expect("<ann> during")
      yield* redis.restart
      for (const peer of [ann, amy, bob]) yield* peer.expect(linkBack)
      yield* bob.send("after")
      yield* ann.expect("<bob> after")
      yield* amy.expect("<bob> after")
      yield* ann.send("after too")
      yield* bob.expect("<ann> after too")
      assert.notInclude(bob.seen, "<ann> during")
      yield* Effect.forEach([p0!, p1!], (server) => Effect.sync(() => assert.notMatch(server.process.output(), /Error|at .*\.ts:\d+/)))
    })), 90_000)

  Redis.test("an unreachable Redis at start is one line on stderr, and exit 1", () =>
    Effect.gen(function*() {
      const redis = yield* RedisServer.start
      yield* redis.stop()
      const result = yield* Effect.promise(() => Cli.run(["chat", "serve", "--port", "0", "--redis", redis.url]))
      assert.strictEqual(result.code, 1)
      assert.strictEqual(
        result.stderr,
        `socket-to-me: cannot reach Redis at ${redis.url}: connect ECONNREFUSED 127.0.0.1:${redis.port}\n`
      )
    }), 30_000)

  it.live("a bad --redis URL, from the flag or the environment, is one line on stderr, and exit 1", () =>
    Effect.gen(function*() {
      const flag = yield* Effect.promise(() => Cli.run(["chat", "serve", "--port", "0", "--redis", "http://127.0.0.1:6379"]))
      assert.strictEqual(flag.code, 1)
      assert.strictEqual(
        flag.stderr,
        "socket-to-me: invalid Redis URL \"http://127.0.0.1:6379\": expected redis:// or rediss://, got http://\n"
      )
      const env = yield* Effect.promise(() =>
        Cli.run(["chat", "serve", "--port", "0"], { env: { SOCKET_TO_ME_CHAT_REDIS: "127.0.0.1:6379" } })
      )
      assert.strictEqual(env.code, 1)
      assert.match(env.stderr, /^socket-to-me: invalid Redis URL "127\.0\.0\.1:6379": [^\n]*\n$/)
      const lease = yield* Effect.promise(() =>
        Cli.run(["chat", "serve", "--port", "0", "--redis", "redis://127.0.0.1:6379", "--redis-lease", "0"])
      )
      assert.strictEqual(lease.code, 1)
      assert.include(lease.stderr, "Invalid value for flag --redis-lease: \"0\"")
    }), 30_000)
})
