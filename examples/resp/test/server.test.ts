/**
 * The resp server end to end over the memory network (and real loopback TCP
 * where time plays no part): the replies, byte for byte as redis-server
 * writes them (the redis tests compare them with redis-server itself),
 * expiry driven by `TestClock`, pub/sub between connections, and how a
 * connection ends: QUIT, a protocol error, a subscriber that falls behind.
 */
import { assert, describe, it } from "@effect/vitest"
import { TcpTransport, TestTransport } from "@socket-to-me/testkit"
import type { Connection } from "@socket-to-me/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import * as Channels from "../Channels.ts"
import * as Config from "../Config.ts"
import * as Db from "../Db.ts"
import { layer, resp } from "../server.ts"
import * as Session from "../Session.ts"
import * as Resp from "./support/Resp.ts"

const serve = (transport: TestTransport.TestTransport, handler = resp) => TestTransport.serve(transport, handler)

const bulk = (value: string) => `$${value.length}\r\n${value}\r\n`
const message = (channel: string, value: string) => `*3\r\n$7\r\nmessage\r\n${bulk(channel)}${bulk(value)}`

for (const transport of TcpTransport.all) {
  describe(`resp over ${transport.name}`, () => {
    it.live("strings: SET, GET, DEL, EXISTS, INCR, DECR, pipelined in one write, inline and multibulk alike", () =>
      Effect.gen(function*() {
        const server = yield* serve(transport)
        const client = yield* Resp.connect(server)
        yield* client.send(
          "SET k hello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nEXISTS k k nope\r\nINCR n\r\nINCR n\r\nDECR n\r\nGET n\r\n" +
            "INCR k\r\nDEL k n nope\r\nGET k\r\nECHO \"a b\"\r\nPING\r\nPING hi\r\n"
        )
        assert.strictEqual(
          yield* client.replies(13),
          "+OK\r\n$5\r\nhello\r\n:2\r\n:1\r\n:2\r\n:1\r\n$1\r\n1\r\n" +
            "-ERR value is not an integer or out of range\r\n:2\r\n$-1\r\n$3\r\na b\r\n+PONG\r\n$2\r\nhi\r\n"
        )
      }).pipe(Effect.provide(layer)))

    it.live("errors are Redis's: unknown command, wrong arity, bad options", () =>
      Effect.gen(function*() {
        const server = yield* serve(transport)
        const client = yield* Resp.connect(server)
        yield* client.send("FOO a b\r\nGET\r\nSET k v NX XX\r\nSET k v EX 0\r\nEXPIRE k 1 NX XX\r\nEXPIRE k x\r\n")
        assert.strictEqual(
          yield* client.replies(6),
          "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n" +
            "-ERR wrong number of arguments for 'get' command\r\n" +
            "-ERR syntax error\r\n" +
            "-ERR invalid expire time in 'set' command\r\n" +
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n" +
            "-ERR value is not an integer or out of range\r\n"
        )
      }).pipe(Effect.provide(layer)))

    it.live("pub/sub: a message reaches the subscriber after its confirmation; subscribed mode allows only pub/sub, PING, QUIT", () =>
      Effect.gen(function*() {
        const server = yield* serve(transport)
        const subscriber = yield* Resp.connect(server)
        const publisher = yield* Resp.connect(server)
        yield* subscriber.send("SUBSCRIBE news weather\r\n")
        assert.strictEqual(
          yield* subscriber.replies(2),
          `*3\r\n$9\r\nsubscribe\r\n${bulk("news")}:1\r\n*3\r\n$9\r\nsubscribe\r\n${bulk("weather")}:2\r\n`
        )
        yield* publisher.send("PUBLISH news hello\r\nPUBLISH nobody hello\r\n")
        assert.strictEqual(yield* publisher.replies(2), ":1\r\n:0\r\n")
        assert.strictEqual(yield* subscriber.replies(1), message("news", "hello"))

        yield* subscriber.send("GET k\r\nPING\r\nUNSUBSCRIBE news\r\n")
        assert.strictEqual(
          yield* subscriber.replies(3),
          "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n" +
            "*2\r\n$4\r\npong\r\n$0\r\n\r\n" +
            `*3\r\n$11\r\nunsubscribe\r\n${bulk("news")}:1\r\n`
        )
        yield* publisher.send("PUBLISH news again\r\nPUBLISH weather rain\r\n")
        assert.strictEqual(yield* publisher.replies(2), ":0\r\n:1\r\n")
        assert.strictEqual(yield* subscriber.replies(1), message("weather", "rain"))

        // Leaving the last channel ends subscribed mode.
        yield* subscriber.send("UNSUBSCRIBE\r\nUNSUBSCRIBE\r\nPING\r\n")
        assert.strictEqual(
          yield* subscriber.replies(3),
          `*3\r\n$11\r\nunsubscribe\r\n${bulk("weather")}:0\r\n*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n+PONG\r\n`
        )
        assert.strictEqual(yield* Effect.andThen(Channels.Channels, (channels) => channels.size), 0)
      }).pipe(Effect.provide(layer)))

    it.live("QUIT: +OK, then the server closes; commands after it are not run", () =>
      Effect.gen(function*() {
        const server = yield* serve(transport)
        const client = yield* Resp.connect(server)
        yield* client.send("SET a 1\r\nQUIT\r\nSET b 2\r\n")
        assert.strictEqual(yield* client.toEnd, "+OK\r\n+OK\r\n")
        const other = yield* Resp.connect(server)
        yield* other.send("EXISTS a b\r\n")
        assert.strictEqual(yield* other.replies(1), ":1\r\n")
      }).pipe(Effect.provide(layer)))

    it.live("a protocol error: the replies to the commands before it, then Redis's error, then the close (DecodeFailed)", () =>
      Effect.gen(function*() {
        const server = yield* serve(transport)
        const client = yield* Resp.connect(server)
        yield* client.send("PING\r\nSET a 1\r\n*1\r\n*1\r\n$4\r\nPING\r\nPING\r\n")
        assert.strictEqual(yield* client.toEnd, "+PONG\r\n+OK\r\n-ERR Protocol error: expected '$', got '*'\r\n")
        yield* server.server.awaitIdle
        assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["DecodeFailed"])
      }).pipe(Effect.provide(layer)))

    it.live("a client that pipelines large replies without reading is waited for, then gets every reply", () =>
      Effect.gen(function*() {
        const server = yield* serve(transport)
        const client = yield* Resp.connect(server)
        const value = "v".repeat(Config.maxBulkBytes)
        yield* client.send(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${bulk(value)}`)
        assert.strictEqual(yield* client.replies(1), "+OK\r\n")
        // 16 replies of 512 KiB (8 MiB), far more than the outbox (1 MiB)
        // and the write stage hold: the server waits for the client.
        yield* client.send("GET big\r\n".repeat(16))
        for (let i = 0; i < 16; i++) assert.strictEqual(yield* client.replies(1), bulk(value))
        yield* client.send("PING\r\n")
        assert.strictEqual(yield* client.replies(1), "+PONG\r\n")
      }).pipe(Effect.provide(layer)))
  })
}

describe("resp over memory, on the test clock", () => {
  it.effect("EX, PX, EXPIRE and TTL follow the clock; a key exists until its expiry millisecond has passed", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestTransport.memory)
      const client = yield* Resp.connect(server)
      yield* client.send("SET s v EX 10\r\nSET p v PX 1500\r\nSET n v\r\nTTL s\r\nTTL p\r\nTTL n\r\nTTL missing\r\n")
      assert.strictEqual(yield* client.replies(7), "+OK\r\n+OK\r\n+OK\r\n:10\r\n:2\r\n:-1\r\n:-2\r\n")

      yield* TestClock.adjust("1499 millis")
      yield* client.send("TTL s\r\nTTL p\r\nGET p\r\n")
      assert.strictEqual(yield* client.replies(3), ":9\r\n:0\r\n$1\r\nv\r\n")
      yield* TestClock.adjust("1 millis")
      yield* client.send("GET p\r\n")
      assert.strictEqual(yield* client.replies(1), "$1\r\nv\r\n", "at its expiry millisecond the key still exists")
      yield* TestClock.adjust("1 millis")
      yield* client.send("GET p\r\nTTL p\r\nEXISTS p\r\n")
      assert.strictEqual(yield* client.replies(3), "$-1\r\n:-2\r\n:0\r\n")

      // EXPIRE sets, replaces, or (in the past) deletes; INCR keeps the TTL; SET drops it.
      yield* client.send("EXPIRE n 100\r\nTTL n\r\nEXPIRE n 50 GT\r\nEXPIRE n 50 LT\r\nTTL n\r\nSET c 1 EX 30\r\nINCR c\r\nTTL c\r\n")
      assert.strictEqual(yield* client.replies(8), ":1\r\n:100\r\n:0\r\n:1\r\n:50\r\n+OK\r\n:2\r\n:30\r\n")
      yield* client.send("SET c 5\r\nTTL c\r\nEXPIRE c -1\r\nGET c\r\nEXPIRE missing 10\r\n")
      assert.strictEqual(yield* client.replies(5), "+OK\r\n:-1\r\n:1\r\n$-1\r\n:0\r\n")

      // 9.501 s since SET s ... EX 10: 499 ms left rounds to 0 seconds.
      yield* TestClock.adjust("8 seconds")
      yield* client.send("TTL s\r\nTTL n\r\n")
      assert.strictEqual(yield* client.replies(2), ":0\r\n:42\r\n")
      yield* TestClock.adjust("500 millis")
      yield* client.send("GET s\r\nSET s w NX\r\nSET t w XX\r\nGET s\r\nEXISTS t\r\n")
      assert.strictEqual(yield* client.replies(5), "$-1\r\n+OK\r\n$-1\r\n$1\r\nw\r\n:0\r\n")
    }).pipe(Effect.provide(layer)))

  it.effect("expired keys that no one reads are removed by the sweeper", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestTransport.memory)
      const client = yield* Resp.connect(server)
      const db = yield* Db.Db
      yield* client.send("SET a 1 PX 10\r\nSET b 2 PX 10\r\nSET c 3\r\n")
      assert.strictEqual(yield* client.replies(3), "+OK\r\n+OK\r\n+OK\r\n")
      assert.strictEqual(yield* db.size, 3)
      yield* TestClock.adjust(Config.expirySweepInterval)
      assert.strictEqual(yield* db.size, 1)
    }).pipe(Effect.provide(layer)))

  it.effect("a subscriber that stops reading is cut off (SlowConsumer) and the publisher is never slowed", () =>
    Effect.gen(function*() {
      const cutOff = yield* Deferred.make<Connection.ExitReason>()
      const server = yield* TestTransport.serve(TestTransport.memory, Session.handler({ maxPendingBytes: 64 * 1024 }), {
        onEnd: (info, reason) => info.id === 1 ? Deferred.succeed(cutOff, reason) : Effect.void
      })
      const subscriber = yield* Resp.connect(server)
      const publisher = yield* Resp.connect(server)
      yield* subscriber.send("SUBSCRIBE ch\r\n")
      yield* subscriber.replies(1)
      // The subscriber reads nothing more. Each message is 16 KiB; the
      // memory network, the write stage and the outbox hold a few hundred
      // KiB: within 1000 messages the subscriber is gone.
      const payload = "x".repeat(16 * 1024)
      let received = -1
      for (let sent = 0; sent < 1000 && received !== 0; sent++) {
        yield* publisher.send(`PUBLISH ch ${payload}\r\n`)
        received = Number((yield* publisher.replies(1)).slice(1, -2))
      }
      assert.strictEqual(received, 0, "the subscriber was cut off")
      assert.strictEqual((yield* Deferred.await(cutOff))._tag, "SlowConsumer")
      assert.strictEqual(yield* server.server.activeConnections, 1)
    }).pipe(Effect.provide(layer)))

  it.effect("a defect in a command ends that connection (HandlerFailed); the others are served", () =>
    Effect.gen(function*() {
      const ended = yield* Deferred.make<Connection.ExitReason>()
      const server = yield* TestTransport.serve(TestTransport.memory, resp, {
        onEnd: (info, reason) => info.id === 1 ? Deferred.succeed(ended, reason) : Effect.void
      })
      const victim = yield* Resp.connect(server)
      const other = yield* Resp.connect(server)
      yield* victim.send("PING\r\nGET k\r\nPING\r\n")
      assert.strictEqual(yield* victim.toEnd, "+PONG\r\n", "the replies before it, then the close")
      assert.strictEqual((yield* Deferred.await(ended))._tag, "HandlerFailed")
      yield* other.send("PING\r\n")
      assert.strictEqual(yield* other.replies(1), "+PONG\r\n")
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Layer.succeed(Db.Db, Db.Db.of({ modify: () => Effect.die(new Error("the keyspace is broken")), size: Effect.succeed(0) })),
        Channels.layer
      ))
    ))
})
