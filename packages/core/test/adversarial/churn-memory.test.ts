/**
 * 10,000 connect/disconnect cycles over the memory network (see `Churn.ts`).
 */
import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import { churn, cycles } from "../support/Churn.ts"

describe("churn over memory", () => {
  // About 15 s of CPU alone; the bound is for a loaded 2-core machine.
  it.live(`${cycles.toLocaleString("en")} connect/disconnect cycles: sockets back to baseline, heap growth bounded`, () =>
    Effect.flatMap(churn(TestTransport.memory), Effect.logInfo), 240_000)
})
