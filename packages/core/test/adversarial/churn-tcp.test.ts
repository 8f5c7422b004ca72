/**
 * 10,000 connect/disconnect cycles over real loopback TCP (see `Churn.ts`).
 */
import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { cycles, churn } from "../support/Churn.ts"
import { tcp as nodeTcp } from "@socket-to-me/testkit/TcpTransport"

describe("churn over tcp", () => {
  // About 15 s of CPU alone; the bound is for a loaded 2-core machine.
  it.live(`${cycles.toLocaleString("en")} connect/disconnect cycles: fds and handles back to baseline, heap growth bounded`, () =>
    Effect.flatMap(churn(nodeTcp), Effect.logInfo), 240_000)
})
