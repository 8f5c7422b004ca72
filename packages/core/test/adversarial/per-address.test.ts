/**
 * The per-address limit: one address past its limit is refused with a
 * reason of its own (`Refused { why: "per-address" }`), the refusal bytes
 * and the `why` counter, while other addresses are still served; a slot
 * freed is reused. Over the memory network and real loopback TCP; the
 * peers' addresses are given by a listener that reports the address a test
 * asks for (every real peer here is 127.0.0.1).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Metrics from "../../src/Metrics.ts"
import * as SocketAddresses from "../../src/SocketAddresses.ts"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as SocketServer from "effect/socket/SocketServer"
import * as Hostile from "../support/Hostile.ts"

// `transport`, with each accepted connection reported as coming from the
// next address of `next()` (port 1000 + its number).
const fromAddresses = (transport: TestTransport.TestTransport, next: () => string): TestTransport.TestTransport => ({
  name: transport.name,
  listen: Effect.map(transport.listen, (listener) => {
    let n = 0
    return {
      ...listener,
      socketServer: SocketServer.SocketServer.of({
        address: listener.socketServer.address,
        run: (handler) =>
          listener.socketServer.run((socket) =>
            Effect.suspend(() =>
              Effect.provideService(handler(socket), SocketAddresses.SocketAddresses, {
                local: "127.0.0.1:7000",
                remote: next().replace("PORT", String(1000 + n++))
              })
            )
          )
      })
    }
  })
})

const refusedCount = (name: string) =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const series = snapshots.find((snapshot) =>
      snapshot.id === Metrics.connectionsRefused.id && snapshot.attributes?.server === name &&
      snapshot.attributes?.why === "per-address"
    )
    return series?.type === "Counter" ? Number(series.state.count) : 0
  })

describe("SocketAddresses.host", () => {
  it("drops the port, the brackets, and the IPv6 prefix of a mapped IPv4 address", () => {
    assert.strictEqual(SocketAddresses.host("10.0.0.1:5000"), "10.0.0.1")
    assert.strictEqual(SocketAddresses.host("[::1]:5000"), "::1")
    assert.strictEqual(SocketAddresses.host("[::ffff:10.0.0.1]:5000"), "10.0.0.1")
    assert.strictEqual(SocketAddresses.host("[2001:db8::1]:80"), "2001:db8::1")
    assert.strictEqual(SocketAddresses.host("unknown"), undefined)
    assert.strictEqual(SocketAddresses.host("unknown:0"), undefined)
    assert.strictEqual(SocketAddresses.host("/tmp/chat.sock"), undefined)
  })
})

for (const transport of transports) {
  describe(`per-address limit over ${transport.name}`, () => {
    it.live("the third connection from one address is refused per-address; another address is served; a freed slot is reused", () =>
      Effect.gen(function*() {
        const name = `per-address-${transport.name}`
        const addresses = ["10.0.0.1:PORT", "10.0.0.1:PORT", "10.0.0.1:PORT", "[2001:db8::7]:PORT", "10.0.0.1:PORT"]
        let i = 0
        const server = yield* Hostile.serve(fromAddresses(transport, () => addresses[i++]!), Hostile.echo, {
          name,
          maxConnections: 10,
          maxConnectionsPerAddress: 2,
          refusal: Bytes.encode("too many from you\n")
        })
        assert.strictEqual(server.server.maxConnectionsPerAddress, 2)
        yield* Effect.scoped(Effect.gen(function*() {
          const first = yield* TestPeer.connect(server)
          const second = yield* TestPeer.connect(server)
          assert.strictEqual(yield* first.roundTrip("one"), "one")
          assert.strictEqual(yield* second.roundTrip("two"), "two")

          const extra = yield* Effect.scoped(Effect.flatMap(TestPeer.connect(server), (peer) => peer.readToEnd))
          assert.strictEqual(Bytes.decode(extra.bytes), "too many from you\n")
          assert.strictEqual(extra.end, "eof")
          const refused = (yield* server.nextExit).reason
          assert.strictEqual(refused._tag, "Refused")
          assert.deepInclude(refused, { why: "per-address", limit: 2, address: "10.0.0.1" })
          assert.strictEqual(yield* refusedCount(name), 1)

          // Another address is not held back by the first one's.
          const other = yield* TestPeer.connect(server)
          assert.strictEqual(yield* other.roundTrip("other"), "other")
          assert.strictEqual(yield* server.server.activeConnections, 3)

          // One of the first address's leaves: its slot is free again.
          yield* first.duplex.end
          assert.strictEqual((yield* first.readToEnd).end, "eof")
          assert.strictEqual((yield* server.nextExit).reason._tag, "PeerClosed")
          const again = yield* TestPeer.connect(server)
          assert.strictEqual(yield* again.roundTrip("again"), "again")
        }))
        yield* Hostile.assertClean(server)
        assert.deepStrictEqual(
          server.exits.map((exit) => exit.reason._tag).sort(),
          ["PeerClosed", "PeerClosed", "PeerClosed", "PeerClosed", "Refused"]
        )
      }).pipe(Hostile.noTroubles))
  })
}
