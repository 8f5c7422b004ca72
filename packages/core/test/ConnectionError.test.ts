import { assert, describe, it } from "@effect/vitest"
import * as ConnectionError from "../src/ConnectionError.ts"

describe("ConnectionError", () => {
  it("exposes the reason's message", () => {
    const error = ConnectionError.make(new ConnectionError.FrameTooLarge({ size: 10, limit: 4 }))
    assert.strictEqual(error.message, "frame too large: 10 bytes exceeds the limit of 4")
    assert.strictEqual(error.reason._tag, "FrameTooLarge")
  })
})
