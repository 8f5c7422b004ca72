/**
 * A server behind a proxy (PROXY protocol on its listener): the client's
 * address from the header is the connection's peer everywhere (the app's
 * view, the exit report, the per-address limit); a missing, malformed or
 * cut header, and a silent peer, end the connection with a typed reason
 * before the app sees a byte; a listener not told to expect a header
 * treats one as the app's bytes. Over the memory network and real
 * loopback TCP; the header deadline on the `TestClock` over memory.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Connection from "../../src/Connection.ts"
import * as ProxyProtocol from "../../src/ProxyProtocol.ts"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as Hostile from "../support/Hostile.ts"

const header = (host: string, port: number): ProxyProtocol.Proxied => ({
  _tag: "Proxied",
  version: 1,
  family: host.includes(":") ? "TCP6" : "TCP4",
  source: { host, port },
  destination: { host: host.includes(":") ? "2001:db8::1" : "192.0.2.1", port: 7001 }
})

// Echoes, and first says who it thinks the peer is: `peer=<address>\n`.
const whoAmI: Connection.Handler = (input, info) =>
  Stream.concat(Stream.make(Bytes.encode(`peer=${info.remoteAddress} local=${info.localAddress}\n`)), input)

for (const plain of transports) {
  const transport = TestTransport.withProxyProtocol(plain, { deadline: "2 seconds" })
  describe(`PROXY protocol over ${plain.name}`, () => {
    it.live("v1 and v2 headers give the app, the exit report and the log the client's address; the bytes after it are the app's", () =>
      Effect.gen(function*() {
        const peers: Array<string> = []
        const server = yield* Hostile.serve(transport, whoAmI, {
          onEnd: (info) => Effect.sync(() => peers.push(info.remoteAddress))
        })
        yield* Effect.scoped(Effect.gen(function*() {
          // Header and data in one write, as a proxy sends them.
          const v1 = yield* TestPeer.connect(server)
          yield* v1.send(Bytes.concat([ProxyProtocol.encodeV1(header("203.0.113.7", 51000)), Bytes.encode("hi\n")]))
          assert.strictEqual(yield* v1.readLine, "peer=203.0.113.7:51000 local=192.0.2.1:7001")
          assert.strictEqual(yield* v1.readLine, "hi")

          // A v2 header over IPv6 arriving a byte at a time, then data.
          const v2 = yield* TestPeer.connect(server)
          for (const byte of ProxyProtocol.encodeV2({ ...header("2001:db8::7", 443), version: 2 })) {
            yield* v2.send(Uint8Array.of(byte))
          }
          yield* v2.send("after\n")
          assert.strictEqual(yield* v2.readLine, "peer=[2001:db8::7]:443 local=[2001:db8::1]:7001")
          assert.strictEqual(yield* v2.readLine, "after")

          // A LOCAL header (the proxy's health check) keeps the connection's own address.
          const local = yield* TestPeer.connect(server)
          yield* local.send(ProxyProtocol.encodeV2({ _tag: "Local", version: 2 }))
          assert.match(yield* local.readLine, /^peer=127\.0\.0\.1:\d+ /)
          for (const peer of [v1, v2, local]) yield* peer.end
          for (const peer of [v1, v2, local]) assert.strictEqual((yield* peer.readToEnd).end, "eof")
        }))
        yield* Hostile.assertClean(server)
        assert.deepStrictEqual(peers.slice(0, 2).sort(), ["203.0.113.7:51000", "[2001:db8::7]:443"].sort())
        assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["PeerClosed", "PeerClosed", "PeerClosed"])
      }).pipe(Hostile.noTroubles))

    it.live("the per-address limit counts the client's address from the header, not the proxy's", () =>
      Effect.gen(function*() {
        const server = yield* Hostile.serve(transport, whoAmI, {
          maxConnectionsPerAddress: 1,
          refusal: Bytes.encode("too many from you\n")
        })
        yield* Effect.scoped(Effect.gen(function*() {
          const first = yield* TestPeer.connect(server)
          yield* first.send(ProxyProtocol.encodeV1(header("203.0.113.7", 1000)))
          assert.strictEqual(yield* first.readLine, "peer=203.0.113.7:1000 local=192.0.2.1:7001")

          const again = yield* TestPeer.connect(server)
          yield* again.send(ProxyProtocol.encodeV1(header("203.0.113.7", 1001)))
          const refused = yield* again.readToEnd
          assert.strictEqual(Bytes.decode(refused.bytes), "too many from you\n")
          const exit = yield* server.nextExit
          assert.deepInclude(exit.reason, { _tag: "Refused", why: "per-address", address: "203.0.113.7" })

          // Every one of these reaches the server from the same real address.
          const other = yield* TestPeer.connect(server)
          yield* other.send(ProxyProtocol.encodeV1(header("198.51.100.2", 1002)))
          assert.strictEqual(yield* other.readLine, "peer=198.51.100.2:1002 local=192.0.2.1:7001")
        }))
        yield* Hostile.assertClean(server)
      }).pipe(Hostile.noTroubles))

    it.live("no header, a malformed one, or one cut by the end of input: ProxyHeaderInvalid, and the app never runs", () =>
      Effect.gen(function*() {
        let served = 0
        const server = yield* Hostile.serve(transport, (input, info) => {
          served++
          return whoAmI(input, info)
        })
        const cases: ReadonlyArray<readonly [Uint8Array, boolean, string]> = [
          [Bytes.encode("hello\n"), false, "not a PROXY header"],
          [Bytes.encode("PROXY TCP4 203.0.113.7 192.0.2.1 99999 7001\r\nhello\n"), false, "is not a port"],
          [ProxyProtocol.encodeV2(header("203.0.113.7", 1)).map((byte, i) => i === 12 ? 0x11 : byte), false, "v2 version 1"],
          [Bytes.encode("PROXY TCP4 203.0"), true, "ended inside the PROXY header"]
        ]
        for (const [bytes, end, detail] of cases) {
          yield* Effect.scoped(Effect.gen(function*() {
            const peer = yield* TestPeer.connect(server)
            yield* peer.send(bytes)
            if (end) yield* peer.end
            const received = yield* peer.readToEnd
            assert.strictEqual(received.bytes.byteLength, 0, "nothing is sent back")
            const exit = yield* server.nextExit
            assert.strictEqual(exit.reason._tag, "ProxyHeaderInvalid")
            assert.include(exit.reason._tag === "ProxyHeaderInvalid" ? exit.reason.detail : "", detail)
          }))
        }
        assert.strictEqual(served, 0)
        yield* Hostile.assertClean(server)
      }))

    it.live("a listener not told to expect the PROXY protocol never trusts a header: it is the app's bytes", () =>
      Effect.gen(function*() {
        const server = yield* Hostile.serve(plain, whoAmI)
        yield* Effect.scoped(Effect.gen(function*() {
          const peer = yield* TestPeer.connect(server)
          const line = "PROXY TCP4 203.0.113.7 192.0.2.1 51000 7002\r\n"
          assert.match(yield* peer.readLine, /^peer=127\.0\.0\.1:\d+ /)
          assert.strictEqual(yield* peer.roundTrip(line), line)
        }))
        yield* Hostile.assertClean(server)
      }))
  })
}

describe("PROXY header deadline", () => {
  it.effect("over memory: a peer silent for the whole deadline ends with HandshakeTimeout (proxy-header), not a moment before", () =>
    Effect.gen(function*() {
      const server = yield* Hostile.serve(TestTransport.withProxyProtocol(TestTransport.memory), whoAmI)
      yield* Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestPeer.connect(server)
        yield* peer.send("PROXY TCP4 203.0")
        const ended = yield* Effect.forkChild(server.nextExit)
        yield* TestClock.adjust("2999 millis")
        assert.isUndefined(ended.pollUnsafe(), "still waiting just before the deadline")
        yield* TestClock.adjust("1 millis")
        const exit = yield* Fiber.join(ended)
        assert.deepInclude(exit.reason, { _tag: "HandshakeTimeout", stage: "proxy-header" })
        assert.strictEqual((yield* peer.readToEnd).bytes.byteLength, 0)
      }))
      yield* Hostile.assertClean(server)
    }))

  it.live("over tcp: a silent peer is closed at a short real deadline with HandshakeTimeout", () =>
    Effect.gen(function*() {
      const tcp = transports.find((t) => t.name === "tcp")!
      const server = yield* Hostile.serve(TestTransport.withProxyProtocol(tcp, { deadline: "200 millis" }), whoAmI)
      yield* Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestPeer.connect(server)
        const received = yield* peer.readToEnd
        assert.strictEqual(received.bytes.byteLength, 0)
        assert.deepInclude((yield* server.nextExit).reason, { _tag: "HandshakeTimeout", stage: "proxy-header" })
      }))
      yield* Hostile.assertClean(server)
    }))
})
