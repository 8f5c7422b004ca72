// The same server over the memory network: no TCP, no port, same handler.
import { Client } from "@socket-to-me/core"
import { TestTransport } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import assert from "node:assert/strict"
import { test } from "node:test"
import { upper } from "./server.ts"

test("upper-cases each line over the memory network", async () => {
  const reply = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const server = yield* TestTransport.serve(TestTransport.memory, upper)
    const duplex = yield* Client.connect(server.dial, { address: "memory" })
    return yield* Client.exchange(duplex, Stream.make(new TextEncoder().encode("hello\nworld\n"))).pipe(
      Stream.decodeText,
      Stream.mkString
    )
  })))
  assert.equal(reply, "HELLO\nWORLD\n")
})
