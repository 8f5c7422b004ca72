// The first example of docs/testing.md, verbatim from the first import on
// (docs.test.ts checks that it is): run with the rest of the suite.
import { assert, describe, it } from "@effect/vitest"
import { Framing, LineCodec } from "@socket-to-me/core"
import { TcpTransport, TestPeer, TestTransport } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

// The server under test: answers each line with its length.
const lengths = Framing.handler(LineCodec.lines, (lines) => Stream.map(lines, (line) => `${line.length}`))

describe.each(TcpTransport.all)("lengths over $name", (transport) => {
  it.live("answers each line, then ends in order when the client does", () =>
    Effect.gen(function*() {
      const server = yield* TestTransport.serve(transport, lengths)
      const peer = yield* TestPeer.connect(server)
      yield* peer.sendLines("a", "bb", "ccc")
      assert.deepStrictEqual(yield* peer.expectLine("3"), ["1", "2", "3"])
      yield* peer.end
      assert.strictEqual((yield* peer.readToEnd).end, "eof")
      yield* server.server.awaitIdle
      assert.deepStrictEqual(server.exits.map((exit) => exit.reason._tag), ["PeerClosed"])
      yield* server.assertNoLeaks
    }).pipe(Effect.scoped))
})
