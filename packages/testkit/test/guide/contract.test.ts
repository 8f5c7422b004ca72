// The transport contract example of docs/testing.md, verbatim from the
// first import on (docs.test.ts checks that it is).
import { describe, it } from "@effect/vitest"
import { Leaks, MemoryNetwork, TestTransport, TransportContract } from "@socket-to-me/testkit"
import * as Effect from "effect/Effect"

// A transport is a way to bind a listener: the `SocketServer` the server
// runs on, a dialer for clients, and a check that nothing was left open.
// Here, the memory network with 1 MiB of buffering per direction.
const roomyMemory: TestTransport.TestTransport = {
  name: "memory with 1 MiB buffers",
  listen: Effect.gen(function*() {
    const network = yield* MemoryNetwork.make({ highWaterMark: 1024 * 1024 })
    return {
      socketServer: yield* Effect.orDie(network.listen),
      dial: network.makeClient,
      assertNoLeaks: Leaks.assertNetworkIdle(network)
    }
  })
}

describe("the transport contract over memory with 1 MiB buffers", () => {
  for (const contractCase of TransportContract.cases) {
    it.live(contractCase.name, () => contractCase.run(roomyMemory))
  }
})
