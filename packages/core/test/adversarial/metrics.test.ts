/**
 * The metrics after a hostile mix of connections: admitted, refused at the
 * limit, killed by a handler defect, cut for an oversize frame, and closed in
 * order. Every counter is checked to the exact value, over the memory
 * network and real loopback TCP, each run in a fresh metric registry.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as ConnectionError from "../../src/ConnectionError.ts"
import * as Framing from "../../src/Framing.ts"
import * as LineCodec from "../../src/LineCodec.ts"
import * as Metrics from "../../src/Metrics.ts"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as Leaks from "@socket-to-me/testkit/Leaks"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import * as Hostile from "../support/Hostile.ts"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"

// Echoes lines of at most 16 bytes; "boom" is a handler defect.
const app = Framing.handler(
  LineCodec.make({ maxLineBytes: 16 }),
  (lines: Stream.Stream<string, ConnectionError.ConnectionError>) =>
    lines.pipe(Stream.map((line) => {
      if (line === "boom") throw new Error("boom")
      return line
    }))
)

const sameAttributes = (actual: Metric.Metric.AttributeSet | undefined, wanted: Record<string, string>) =>
  actual !== undefined &&
  Object.keys(actual).length === Object.keys(wanted).length &&
  Object.entries(wanted).every(([key, value]) => actual[key] === value)

// The value of the series `id` with exactly `attributes`; 0 when it has never
// been updated (no series).
const valueOf = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>, id: string, attributes: Record<string, string>) => {
  const series = snapshots.find((snapshot) => snapshot.id === id && sameAttributes(snapshot.attributes, attributes))
  if (series === undefined) return 0
  switch (series.type) {
    case "Counter":
      return Number(series.state.count)
    case "Gauge":
      return Number(series.state.value)
    default:
      throw new Error(`${id} is a ${series.type}`)
  }
}

for (const transport of transports) {
  describe(`metrics over ${transport.name}`, () => {
    it.live("accepted, active, closed by reason, handler failures, bytes and frames: exact after a hostile mix", () =>
      Effect.gen(function*() {
        const name = `metrics-${transport.name}`
        const server = yield* Hostile.serve(transport, app, {
          name,
          maxConnections: 2,
          refusal: Bytes.encode("full\n")
        })
        yield* Effect.scoped(Effect.gen(function*() {
          const a = yield* TestPeer.connect(server)
          const b = yield* TestPeer.connect(server)
          assert.strictEqual(yield* a.roundTrip("a\nb\n"), "a\nb\n")
          assert.strictEqual(yield* b.roundTrip("a\nb\n"), "a\nb\n")
          assert.strictEqual(
            valueOf(yield* Metric.snapshot, Metrics.connectionsActive.id, { server: name }),
            2,
            "two active while both are open"
          )

          // Over the limit: refused with its message.
          const refused = yield* Effect.scoped(Effect.flatMap(TestPeer.connect(server), (peer) => peer.readToEnd))
          assert.strictEqual(Bytes.decode(refused.bytes), "full\n")
          assert.strictEqual((yield* server.nextExit).reason._tag, "Refused")

          // A defect in a's handler.
          yield* a.send("boom\n")
          assert.include(["eof", "PeerReset"], (yield* a.readToEnd).end)
          assert.strictEqual((yield* server.nextExit).reason._tag, "HandlerFailed")
          yield* Effect.flatMap(
            Leaks.pollFor(Effect.map(server.server.activeConnections, (n) => n === 1), 1000),
            (freed) => freed ? Effect.void : Effect.fail(new Error("a's slot was never freed"))
          )

          // 17 bytes without a terminator: one past the cap.
          const d = yield* TestPeer.connect(server)
          yield* d.send("x".repeat(17))
          assert.strictEqual((yield* server.nextExit).reason._tag, "FrameTooLarge")
          assert.include(["eof", "PeerReset"], (yield* d.readToEnd).end)

          // b, then a newcomer, close in order.
          yield* b.duplex.end
          assert.strictEqual((yield* b.readToEnd).end, "eof")
          const e = yield* TestPeer.connect(server)
          assert.strictEqual(yield* e.roundTrip("c\n"), "c\n")
          yield* e.duplex.end
          assert.strictEqual((yield* e.readToEnd).end, "eof")
        }))
        yield* server.server.awaitIdle
        yield* server.assertNoLeaks

        const snapshots = yield* Metric.snapshot
        const at = { server: name }
        const closed = (reason: string) => valueOf(snapshots, Metrics.connectionsClosed.id, { server: name, reason })
        assert.deepStrictEqual(
          {
            accepted: valueOf(snapshots, Metrics.connectionsAccepted.id, at),
            active: valueOf(snapshots, Metrics.connectionsActive.id, at),
            limit: valueOf(snapshots, Metrics.connectionsLimit.id, at),
            peerClosed: closed("PeerClosed"),
            refused: closed("Refused"),
            handlerFailed: closed("HandlerFailed"),
            frameTooLarge: closed("FrameTooLarge"),
            interrupted: closed("Interrupted"),
            handlerFailures: valueOf(snapshots, Metrics.handlerFailures.id, at),
            // a: "a\nb\n" + "boom\n", b: "a\nb\n", d: 17 bytes, e: "c\n"; the refused one sends nothing.
            bytesIn: valueOf(snapshots, Metrics.bytesIn.id, at),
            // a and b: "a\nb\n", the refusal "full\n", e: "c\n".
            bytesOut: valueOf(snapshots, Metrics.bytesOut.id, at),
            // a: a, b, boom; b: a, b; e: c.
            framesIn: valueOf(snapshots, Metrics.framesIn.id, at),
            // Every frame in but "boom".
            framesOut: valueOf(snapshots, Metrics.framesOut.id, at)
          },
          {
            accepted: 5,
            active: 0,
            limit: 2,
            peerClosed: 2,
            refused: 1,
            handlerFailed: 1,
            frameTooLarge: 1,
            interrupted: 0,
            handlerFailures: 1,
            bytesIn: 9 + 4 + 17 + 2,
            bytesOut: 4 + 4 + 5 + 2,
            framesIn: 6,
            framesOut: 5
          }
        )
      }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()), Hostile.noTroubles))
  })
}
