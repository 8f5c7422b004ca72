/**
 * A chat client that stops reading is cut off as a slow consumer, and the
 * cut-off really closes its connection: its socket, its connection slot
 * and its exit reason, without waiting for the output queued for it (which
 * a peer that never reads again would never take) nor for the idle timeout.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Connection from "@socket-to-me/core/Connection"
import * as NodeHandles from "@socket-to-me/testkit/NodeHandles"
import { all as transports } from "@socket-to-me/testkit/TcpTransport"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Peer from "./support/ChatPeer.ts"
import * as ChatServer from "./support/ChatServer.ts"

// About 1 KiB per line; at most 64 MiB in all, far more than the socket
// buffers between a client and the server hold.
const line = "x".repeat(1000)
const maxLines = 64 * 1024

for (const transport of transports) {
  describe(`slow consumer over ${transport.name}`, () => {
    it.live("a client that never reads is closed once cut off: exit reason SlowConsumer, its slot and its socket freed", () =>
      Effect.gen(function*() {
        // The slow client is the server's first connection.
        const slowEnded = yield* Deferred.make<Connection.ExitReason>()
        const server = yield* ChatServer.serve(transport, { rateLimit: 0 }, {
          onEnd: (info, reason) => info.id === 1 ? Deferred.succeed(slowEnded, reason) : Effect.void
        })
        const before = NodeHandles.countHandles()
        yield* Peer.login(server, "slow")
        const talker = yield* Peer.login(server, "talker")

        // The talker talks until the room tells it the slow client is gone;
        // the slow client reads nothing after its login, and never will.
        const talk = Effect.gen(function*() {
          for (let sent = 0; sent < maxLines; sent += 64) {
            yield* talker.send(...Array.from({ length: 64 }, () => line))
          }
          return yield* Effect.fail(new Error(`${maxLines} lines sent and the slow client was not cut off`))
        })
        yield* Effect.raceFirst(talk, talker.expect("* slow disconnected"))

        // Cut off: its connection ends at once, not after the idle timeout
        // (5 minutes) or whenever the peer reads again (never). The bound
        // only keeps a failure from hanging the suite.
        const reason = yield* Deferred.await(slowEnded).pipe(
          Effect.timeoutOrElse({
            duration: "10 seconds",
            orElse: () => Effect.fail(new Error("the slow client's connection was not closed"))
          })
        )
        assert.strictEqual(reason._tag, "SlowConsumer")
        assert.strictEqual(yield* server.server.activeConnections, 1, "its connection slot is free")
        if (transport.name === "tcp") {
          // The server's socket is gone while the peer still holds its own:
          // left are the talker's two ends and the slow client's one.
          yield* NodeHandles.assertHandlesBackToBaseline({
            ...before,
            TCPSocketWrap: (before["TCPSocketWrap"] ?? 0) + 3
          })
        }
        yield* Peer.login(server, "newcomer")
      }).pipe(Effect.scoped))
  })
}
