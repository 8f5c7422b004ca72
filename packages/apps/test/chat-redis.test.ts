/**
 * Several chat servers sharing one chat through a real `redis-server`
 * (started by the test on a free loopback port, without persistence): rooms,
 * `/who`, `/rooms`, `/msg` and nicknames across servers, per-sender order
 * without duplicates, slow consumers cut off per server, nickname leases,
 * and a Redis that goes away and comes back. The servers run in this
 * process, each with its own Redis link and its own clients (memory
 * transport); chat-redis-processes.test.ts runs them as separate processes.
 *
 * Skipped (and counted by `npm test` as skipped, with the reason) when
 * `redis-server` is not installed; `.ci/run` installs it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as RedisServer from "@socket-to-me/testkit/RedisServer"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as RedisClient from "effect/persistence/Redis"
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Protocol from "../src/chat/Protocol.ts"
import * as RedisBus from "../src/chat/RedisBus.ts"
import * as Peer from "./support/ChatPeer.ts"
import * as ChatServer from "./support/ChatServer.ts"
import * as Redis from "./support/Redis.ts"

const linkLost = Protocol.formatEvent(Protocol.linkLost)
const linkBack = Protocol.formatEvent(Protocol.linkBack)

// `count` servers on the Redis at `url`, flood control off.
const servers = (url: string, count: number, options: Omit<RedisBus.Options, "url"> = {}) =>
  Effect.forEach(
    Array.from({ length: count }),
    () => ChatServer.serveOnRedis(TestTransport.memory, { url, ...options }, { rateLimit: 0 })
  )

describe("chat across servers on one Redis", () => {
  Redis.test("a message to a room reaches its members on every server, and nobody else", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [s0, s1, s2] = yield* servers(redis.url, 3)
      const bob = yield* Peer.login(s1!, "bob")
      const cat = yield* Peer.login(s2!, "cat")
      yield* bob.expect("* cat joined lobby")
      const ann = yield* Peer.login(s0!, "ann")
      yield* bob.expect("* ann joined lobby")
      yield* cat.expect("* ann joined lobby")
      yield* cat.send("/join dev")
      yield* cat.expect("* you joined dev")
      yield* bob.expect("* cat left lobby")
      yield* ann.expect("* cat left lobby")
      yield* ann.send("hello lobby")
      yield* bob.expect("<ann> hello lobby")
      yield* cat.send("hello dev")
      // ann's own line never comes back to her; bob's reply reaches her.
      yield* bob.send("hi ann")
      const seen = yield* ann.expect("<bob> hi ann")
      assert.notInclude(seen, "<ann> hello lobby")
      assert.notInclude(seen, "<cat> hello dev")
      // Everyone reads to a barrier of their own: nobody got cat's line in dev.
      for (const peer of [ann, bob]) {
        yield* peer.send("/rooms")
        yield* peer.expect((line) => line.startsWith("* rooms: "))
        assert.notInclude(peer.seen, "<cat> hello dev")
      }
    })), 60_000)

  Redis.test("/who, /rooms and /msg see the members of every server", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [s0, s1, s2] = yield* servers(redis.url, 3)
      const ann = yield* Peer.login(s0!, "ann")
      const bob = yield* Peer.login(s1!, "bob")
      yield* ann.expect("* bob joined lobby")
      const cat = yield* Peer.login(s2!, "Cat")
      yield* ann.expect("* Cat joined lobby")
      yield* bob.expect("* Cat joined lobby")
      yield* cat.send("/join dev")
      yield* ann.expect("* Cat left lobby")
      yield* bob.expect("* Cat left lobby")
      yield* ann.send("/who", "/rooms")
      yield* ann.expect("* in lobby: ann, bob")
      yield* ann.expect("* rooms: dev (1), lobby (2)")
      yield* cat.send("/who", "/rooms")
      yield* cat.expect("* in dev: Cat")
      yield* cat.expect("* rooms: dev (1), lobby (2)")
      // A private message to a member of another server, by any case of its nickname.
      yield* ann.send("/msg cat psst")
      yield* ann.expect("-> *Cat* psst")
      yield* cat.expect("*ann* psst")
      yield* cat.send("/msg BOB hi")
      yield* cat.expect("-> *bob* hi")
      yield* bob.expect("*Cat* hi")
      yield* bob.send("/msg dan hi")
      yield* bob.expect("* error: no such user dan")
    })), 60_000)

  Redis.test("a nickname is unique across servers, and free again on every server once its owner leaves", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [s0, s1] = yield* servers(redis.url, 2)
      const ann = yield* Peer.login(s0!, "ann")
      const other = yield* Peer.connect(s1!)
      yield* other.send("/nick ANN")
      yield* other.expect("* error: nickname ANN is taken")
      const bob = yield* Peer.login(s1!, "bob")
      yield* ann.expect("* bob joined lobby")
      yield* bob.send("/nick ann")
      yield* bob.expect("* error: nickname ann is taken")
      // A rename frees the old name everywhere...
      yield* ann.send("/nick anna")
      yield* bob.expect("* ann is now anna")
      yield* other.send("/nick ANN")
      yield* other.expect("* you joined lobby")
      // ... and so does leaving: the lease is gone before the others see the quit.
      yield* anna(ann)
      yield* bob.expect("* anna quit")
      yield* bob.send("/nick anna")
      yield* bob.expect("* you are now anna")
    })), 60_000)

  Redis.test("a nickname released on a busy server is free for the next claim made there", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [s0] = yield* servers(redis.url, 1)
      const big = "x".repeat(3000)
      for (let round = 0; round < 3; round++) {
        const ann = yield* Peer.login(s0!, "ann")
        // Lines still on their way to Redis when ann leaves (about 6 MB):
        // her release waits behind them, and so must the next claim.
        yield* ann.send(...Array.from({ length: 2000 }, (_, i) => `${big} ${i}`), "/quit")
        yield* ann.readToEnd
        const again = yield* Peer.connect(s0!)
        yield* again.send("/nick ann")
        yield* again.expect((line) => line === "* you joined lobby" || line.startsWith("* error:"))
        assert.include(again.seen, "* you joined lobby")
        yield* again.send("/quit")
        yield* again.readToEnd
      }
    })), 60_000)

  Redis.test("per sender, lines arrive in the order sent on every server, each once", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [s0, s1, s2] = yield* servers(redis.url, 3)
      const bob = yield* Peer.login(s1!, "bob")
      const cat = yield* Peer.login(s2!, "cat")
      yield* bob.expect("* cat joined lobby")
      const ann = yield* Peer.login(s0!, "ann")
      const dan = yield* Peer.login(s0!, "dan")
      yield* cat.expect("* dan joined lobby")
      const count = 500
      const from = (nick: string) => Array.from({ length: count }, (_, i) => `${nick} ${i}`)
      // Two senders on one server, interleaved in batches.
      for (let i = 0; i < count; i += 50) {
        yield* ann.send(...from("ann").slice(i, i + 50))
        yield* dan.send(...from("dan").slice(i, i + 50))
      }
      for (const peer of [bob, cat]) {
        yield* until(peer, () => peer.seen.includes(`<ann> ann ${count - 1}`) && peer.seen.includes(`<dan> dan ${count - 1}`))
        for (const nick of ["ann", "dan"]) {
          const got = peer.seen.filter((line) => line.startsWith(`<${nick}> `)).map((line) => line.slice(nick.length + 3))
          assert.deepStrictEqual(got, from(nick))
        }
      }
    })), 60_000)

  Redis.test("a slow reader is cut off by its own server; the others carry on", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [s0] = yield* servers(redis.url, 1)
      const s1 = yield* ChatServer.serveOnRedis(TestTransport.memory, { url: redis.url }, {
        rateLimit: 0,
        outboxSize: 8
      })
      const reader = yield* Peer.login(s1, "reader")
      // Logged in, then never reads again.
      const stalled = yield* Peer.login(s1, "stalled")
      yield* reader.expect("* stalled joined lobby")
      const ann = yield* Peer.login(s0!, "ann")
      yield* reader.expect("* ann joined lobby")
      const big = "x".repeat(3000)
      for (let i = 0; i < 100 && s1.exits.length === 0; i++) {
        yield* ann.send(`${big} ${i}`)
        yield* reader.expect((line) => line.endsWith(` ${i}`))
      }
      yield* ChatServer.awaitExits(s1, 1)
      assert.deepStrictEqual(ChatServer.exitTags(s1), ["SlowConsumer"])
      yield* ann.expect("* stalled disconnected")
      yield* reader.expect("* stalled disconnected")
      void stalled
    })), 60_000)

  Redis.test("Redis goes away: each server serves its own members, says so once, and links again when it is back", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [s0, s1] = yield* servers(redis.url, 2, { reconnectMax: "500 millis" })
      const ann = yield* Peer.login(s0!, "ann")
      const amy = yield* Peer.login(s0!, "amy")
      const bob = yield* Peer.login(s1!, "bob")
      yield* ann.expect("* bob joined lobby")
      yield* redis.stop()
      for (const peer of [ann, amy, bob]) yield* peer.expect(linkLost)
      // Local chat goes on; the other server does not hear it.
      yield* ann.send("still here")
      yield* amy.expect("<ann> still here")
      yield* ann.send("/who")
      yield* ann.expect("* in lobby: amy, ann")
      // A new connection is told the link is down, and may still log in.
      const late = yield* Peer.connect(s1!)
      yield* late.expect(linkLost)
      yield* late.send("/nick cat")
      yield* late.expect("* you joined lobby")
      yield* bob.expect("* cat joined lobby")
      yield* redis.restart
      for (const peer of [ann, amy, bob, late]) yield* peer.expect(linkBack)
      // Lines cross again, both ways.
      yield* bob.send("me too")
      yield* ann.expect("<bob> me too")
      yield* ann.send("back again")
      yield* bob.expect("<ann> back again")
      yield* late.expect("<ann> back again")
      // The servers announced their sessions again (whichever linked first,
      // s0's members reached s1 before ann's line did): everyone is known
      // everywhere.
      yield* bob.send("/who")
      yield* bob.expect("* in lobby: amy, ann, bob, cat")
      for (const peer of [ann, amy, bob, late]) {
        assert.strictEqual(peer.seen.filter((line) => line === linkLost).length, 1)
        assert.notInclude(bob.seen, "<ann> still here")
      }
    })), 60_000)

  Redis.test("a nickname another server holds after an outage is lost, with an error, and its member chooses again", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      const [s0, s1] = yield* servers(redis.url, 2, { lease: "600 millis" })
      const ann = yield* Peer.login(s0!, "ann")
      const bob = yield* Peer.login(s1!, "bob")
      yield* ann.expect("* bob joined lobby")
      // Another server took "ann" while this one could not renew.
      yield* Effect.gen(function*() {
        const client = yield* RedisClient.Redis
        yield* client.send("SET", "socket-to-me:chat:nick:ann", "elsewhere:1")
      }).pipe(Effect.provide(NodeRedis.layer({ url: redis.url })))
      yield* ann.expect(`* error: ${Protocol.nicknameLost("ann")}`)
      yield* bob.expect("* ann disconnected")
      yield* ann.send("hello?")
      yield* ann.expect("* error: choose a nickname first with /nick NAME")
      yield* ann.send("/nick ann2")
      yield* ann.expect("* you joined lobby")
      yield* bob.expect("* ann2 joined lobby")
    })), 60_000)

  it.effect("a bad Redis URL is one line saying so", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(Effect.scoped(RedisBus.make({ url: "http://127.0.0.1:6379" })))
      assert.strictEqual(bad.message, "invalid Redis URL \"http://127.0.0.1:6379\": expected redis:// or rediss://, got http://")
      const junk = yield* Effect.flip(Effect.scoped(RedisBus.make({ url: "not a url" })))
      assert.strictEqual(junk.message, "invalid Redis URL \"not a url\": expected redis://HOST:PORT")
    }))

  Redis.test("a Redis that does not answer at start is one line saying so", () =>
    Effect.scoped(Effect.gen(function*() {
      const redis = yield* RedisServer.start
      yield* redis.stop()
      const down = yield* Effect.flip(RedisBus.make({ url: redis.url }))
      assert.match(down.message, new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${redis.port}: .*ECONNREFUSED`))
      assert.notInclude(down.message, "\n")
    })), 30_000)
})

// Reads until `done` holds of what `peer` has seen.
const until = (peer: Peer.Peer, done: () => boolean) =>
  Effect.gen(function*() {
    while (!done()) {
      if ((yield* peer.readBatch).length === 0 && !done()) return yield* Effect.fail(new Error("input ended"))
    }
  }).pipe(Effect.timeoutOrElse({ duration: Peer.expectTimeout, orElse: () => Effect.fail(new Error("not seen in time")) }))

// ann quits and reads to the end.
const anna = (peer: Peer.Peer) =>
  Effect.gen(function*() {
    yield* peer.send("/quit")
    yield* peer.readToEnd
  })
