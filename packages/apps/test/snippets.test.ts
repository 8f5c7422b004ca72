/**
 * The docs show the examples' code as it is (see `support/Snippets.ts` for
 * how a block names its source): the tutorial (docs/tutorial/*.md, where
 * every code block must name one) and the README's own-server example. And
 * the examples import only what a user's code can import.
 */
import { assert, describe, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import * as Snippets from "./support/Snippets.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const read: Snippets.Reader = (path) => {
  const file = join(root, path)
  return existsSync(file) && statSync(file).isFile() ? readFileSync(file, "utf8") : undefined
}

const tutorial = join(root, "docs", "tutorial")
const tutorialDocs = readdirSync(tutorial).filter((name) => name.endsWith(".md")).sort()

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.name === "node_modules"
      ? []
      : entry.isDirectory()
      ? filesUnder(join(dir, entry.name))
      : [join(dir, entry.name)]
  )

describe("docs show the examples' code as it is", () => {
  it("every code block of the tutorial names its example file and is exactly that code", () => {
    assert.isAtLeast(tutorialDocs.length, 7, "an index and at least six chapters")
    const problems = tutorialDocs.flatMap((name) =>
      Snippets.check(`docs/tutorial/${name}`, readFileSync(join(tutorial, name), "utf8"), read, { strict: true })
    )
    assert.deepStrictEqual(problems, [])
  })

  it("the README's own server is examples/upper/server.ts as it is", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8")
    const named = Snippets.blocks(readme).filter((block) => block.attributes["file"] === "examples/upper/server.ts")
    assert.lengthOf(named, 1)
    assert.deepStrictEqual(Snippets.check("README.md", readme, read, { strict: false }), [])
  })

  it("relative links of the tutorial lead to files that exist", () => {
    const broken = tutorialDocs.flatMap((name) => {
      const text = readFileSync(join(tutorial, name), "utf8")
      return Array.from(text.matchAll(/\]\(([^)\s]+)\)/g), (m) => m[1]!)
        .filter((target) => !/^[a-z]+:/.test(target) && !target.startsWith("#"))
        .map((target) => target.replace(/#.*$/, ""))
        .filter((target) => !existsSync(join(tutorial, target)))
        .map((target) => `docs/tutorial/${name}: ${target}`)
    })
    assert.deepStrictEqual(broken, [])
  })

  it("each chapter says what the reader will have and links the Effect docs it relies on", () => {
    const chapters = tutorialDocs.filter((name) => /^\d\d-/.test(name))
    assert.isAtLeast(chapters.length, 6)
    for (const name of chapters) {
      const text = readFileSync(join(tutorial, name), "utf8")
      assert.match(text, /^## What you will have$/m, `${name} states what the reader will have`)
      assert.match(text, /\]\(https:\/\/effect\.website\/docs\//, `${name} links the Effect docs`)
    }
  })

  it("the README sends readers to the tutorial first, and each app's page names the chapters it draws on", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8")
    const sections = Array.from(readme.matchAll(/^## (.+)$/gm), (m) => m[1])
    assert.strictEqual(sections[0], "Start here")
    assert.include(readme.slice(readme.indexOf("## Start here"), readme.indexOf("## Quick start")), "](docs/tutorial/README.md)")
    for (const page of ["echo", "chat", "files"]) {
      const text = readFileSync(join(root, "docs", "protocols", `${page}.md`), "utf8")
      const chapters = Array.from(text.matchAll(/\]\(\.\.\/tutorial\/(\d\d-[\w-]+\.md)\)/g), (m) => m[1]!)
      assert.isNotEmpty(chapters, `docs/protocols/${page}.md links a chapter`)
      for (const chapter of chapters) assert.include(tutorialDocs, chapter)
    }
  })

  it("the check catches a block that drifted, a missing region or file, and code that names no source", () => {
    const sources: Record<string, string> = {
      "examples/demo/server.ts": [
        "import * as Stream from \"effect/Stream\"",
        "// #region app",
        "export const app = (lines: Stream.Stream<string>) =>",
        "  // #region body",
        "  Stream.map(lines, (line) => line.toUpperCase())",
        "  // #endregion body",
        "// #endregion app"
      ].join("\n")
    }
    const source = (path: string) => sources[path]
    const doc = (info: string, code: string) => `Some prose.\n\n\`\`\`${info}\n${code}\n\`\`\`\n`
    const body = "Stream.map(lines, (line) => line.toUpperCase())"
    const app = "export const app = (lines: Stream.Stream<string>) =>\n  Stream.map(lines, (line) => line.toUpperCase())"

    // As it is: a region (nested markers dropped, dedented), a line range, the whole file.
    assert.deepStrictEqual(Snippets.check("ok.md", doc("ts file=examples/demo/server.ts region=app", app), source, { strict: true }), [])
    assert.deepStrictEqual(Snippets.check("ok.md", doc("ts file=examples/demo/server.ts region=body", body), source, { strict: true }), [])
    assert.deepStrictEqual(Snippets.check("ok.md", doc("ts file=examples/demo/server.ts lines=5-5", body), source, { strict: true }), [])
    assert.deepStrictEqual(
      Snippets.check("ok.md", doc("ts file=examples/demo/server.ts", `import * as Stream from "effect/Stream"\n${app}`), source, { strict: true }),
      []
    )

    const one = (info: string, code: string, strict = true) => {
      const problems = Snippets.check("bad.md", doc(info, code), source, { strict })
      assert.lengthOf(problems, 1, problems.join("\n"))
      return problems[0]!
    }
    assert.include(one("ts file=examples/demo/server.ts region=body", body.replace("toUpperCase", "toLowerCase")), "differs")
    assert.include(one("ts file=examples/demo/server.ts region=app", body), "differs")
    assert.include(one("ts file=examples/demo/server.ts region=nope", body), "no `#region nope`")
    assert.include(one("ts file=examples/demo/other.ts", body), "does not exist")
    assert.include(one("ts file=packages/core/src/Server.ts", body), "not under examples/")
    assert.include(one("ts file=examples/demo/server.ts lines=6-9", body), "outside")
    assert.include(one("ts", body), "must name its source")
    assert.include(one("python", "print('hi')"), "must name its source")
    // Shell commands and output are free; a README (not strict) may show loose code.
    assert.deepStrictEqual(Snippets.check("ok.md", doc("sh", "npm test"), source, { strict: true }), [])
    assert.deepStrictEqual(Snippets.check("ok.md", doc("ts", body), source, { strict: false }), [])
  })
})

describe("examples import only what a user's code can import", () => {
  it("every import in examples/ is a package by name, effect, node:*, or a file of the same example", () => {
    const examples = join(root, "examples")
    const bad = filesUnder(examples)
      .filter((file) => /\.(ts|mts|js|mjs)$/.test(file))
      .flatMap((file) => {
        const path = relative(root, file).split("\\").join("/")
        return Snippets.importsOf(readFileSync(file, "utf8")).flatMap((specifier) => {
          const why = Snippets.badImport(path, specifier)
          return why === undefined ? [] : [`${path}: ${why}`]
        })
      })
    assert.deepStrictEqual(bad, [])
  })

  it("the check rejects a package's src/ by path, another example's files and unknown packages", () => {
    const file = "examples/echo/test/echo.test.ts"
    const source = [
      "import { Server } from \"@socket-to-me/core\"",
      "import * as Connection from \"@socket-to-me/core/Connection\"",
      "import type * as Scope from \"effect/Scope\"",
      "import { TestClock } from \"effect/testing\"",
      "import { it } from \"@effect/vitest\"",
      "import * as Net from \"node:net\"",
      "import { echo } from \"../server.ts\"",
      "import {",
      "  serve",
      "} from \"./support/serve.ts\"",
      "import * as Duplex from \"../../../packages/core/src/Duplex.ts\"",
      "export * as Framing from \"@socket-to-me/core/src/Framing.ts\"",
      "import { upper } from \"../../upper/server.ts\"",
      "import * as Echo from \"@socket-to-me/apps/echo\"",
      "import { ESLint } from \"eslint\"",
      "const lazy = () => import(\"lodash\")"
    ].join("\n")
    const imports = Snippets.importsOf(source)
    assert.lengthOf(imports, 14)
    const rejected = imports.filter((specifier) => Snippets.badImport(file, specifier) !== undefined)
    assert.deepStrictEqual(rejected, [
      "../../../packages/core/src/Duplex.ts",
      "@socket-to-me/core/src/Framing.ts",
      "../../upper/server.ts",
      "@socket-to-me/apps/echo",
      "lodash"
    ])
    // Only a test may import the tools it is checked with.
    assert.isDefined(Snippets.badImport("examples/echo/server.ts", "eslint"))
  })
})
