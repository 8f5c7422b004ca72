/**
 * The example imports what a user's code could: the packages' public entry
 * points, effect, Node's modules and its own files. Lint's package-seam
 * rule (eslint.config.mjs) rejects a path into a package's `src/` in
 * examples/resp, and nothing in it imports anything else.
 */
import { assert, describe, it } from "@effect/vitest"
import { ESLint } from "eslint"
import * as Effect from "effect/Effect"
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const example = join(root, "examples", "resp")

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  )

const specifiers = (file: string) =>
  [...readFileSync(file, "utf8").matchAll(/^\s*(?:import|export)\b[^"']*?from\s+["']([^"']+)["']/gm)].map((match) => match[1]!)

describe("examples/resp imports", () => {
  it("the server's files import only @socket-to-me/core, @socket-to-me/node, effect, node: and their own files", () => {
    const server = /^(@socket-to-me\/(core|node)(\/[A-Za-z]+)?|effect(\/[A-Za-z/]+)?|node:[a-z_/]+|\.\.?\/.*\.ts)$/
    const test = /^(@socket-to-me\/testkit(\/[A-Za-z]+)?|@effect\/vitest|eslint)$/
    const found: Array<string> = []
    for (const file of sources(example)) {
      const isTest = relative(example, file).startsWith("test/")
      for (const specifier of specifiers(file)) {
        if (!server.test(specifier) && !(isTest && test.test(specifier))) found.push(`${relative(root, file)}: ${specifier}`)
      }
    }
    assert.deepStrictEqual(found, [])
    assert.isAbove(sources(example).length, 10)
  })

  it.live("lint rejects a path into a package's src/ in examples/resp", () =>
    Effect.promise(async () => {
      const eslint = new ESLint({ cwd: root })
      const messages = []
      for (const path of ["../../packages/core/src/Actor.ts", "../../../packages/node/src/Runner.ts", "@socket-to-me/core/src/Actor.ts"]) {
        const [result] = await eslint.lintText(`import * as Module from "${path}"\nexport const module = Module\n`, {
          filePath: join(example, "Probe.ts")
        })
        messages.push(result!.messages.map((message) => message.ruleId))
      }
      assert.deepStrictEqual(messages, [["no-restricted-imports"], ["no-restricted-imports"], ["no-restricted-imports"]])
    }), 120_000)
})
