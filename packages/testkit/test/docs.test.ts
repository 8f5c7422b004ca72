/**
 * docs/testing.md's examples are test files of this package, verbatim, so
 * that the guide's code is the code the suite type-checks and runs.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"

const doc = Fs.readFileSync(new URL("../../../docs/testing.md", import.meta.url), "utf8")
const blocks = [...doc.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]!)

describe("docs/testing.md", () => {
  for (const file of ["guide/one-body.test.ts", "guide/contract.test.ts", "guide/interleavings.test.ts"]) {
    it(`shows ${file} as it is`, () => {
      const text = Fs.readFileSync(new URL(`./${file}`, import.meta.url), "utf8")
      assert.include(blocks, text.slice(text.search(/^import /m)))
    })
  }

  it("imports only the packages' entry points in its examples", () => {
    for (const block of blocks) {
      for (const [, from] of block.matchAll(/from "([^"]+)"/g)) {
        assert.match(from!, /^(@socket-to-me\/(core|testkit|node)|effect\/[A-Za-z]+|@effect\/vitest)$/, `import from ${from}`)
      }
    }
  })
})
