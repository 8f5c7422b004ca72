/**
 * 10,000 connect/disconnect cycles over real loopback TCP (see `Churn.ts`).
 */
import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { cycles, churn } from "../support/Churn.ts"
import { nodeTcp } from "../support/NodeTestTransport.ts"

describe("churn over tcp", () => {
  it.live(`${cycles.toLocaleString("en")} connect/disconnect cycles: fds and handles back to baseline, heap growth bounded`, () =>
    Effect.flatMap(churn(nodeTcp), Effect.logInfo), 60_000)
})
