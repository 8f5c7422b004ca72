/**
 * Docs that cannot drift from the code they show. A fenced block names its
 * source in its info string, and must be exactly that source:
 *
 *     ```ts file=examples/echo/server.ts                 the whole file
 *     ```ts file=examples/echo/server.ts region=handler  between `// #region handler`
 *                                                        and `// #endregion handler`
 *     ```ts file=examples/resp/Codec.ts lines=12-40      lines 12 to 40 (1-based, inclusive)
 *
 * Region markers are comment lines (`//` or `#`); they never appear in a
 * doc, so a region may hold others, and the source is compared without its
 * common indentation. In a strict doc (the tutorial) every block of code
 * (`ts`, `js`, `python`, ...) must name its source; blocks of shell
 * commands or output (`sh`, `text`, no language) are free.
 *
 * Also here: the examples' imports must be what a user's code can import
 * (the packages by name, effect, node's modules, files of the same example),
 * never a package's `src/` by path.
 */

/** One fenced block of a markdown document. */
export interface Block {
  /** 1-based line of the opening fence. */
  readonly line: number
  readonly language: string
  readonly attributes: Readonly<Record<string, string>>
  readonly content: string
}

const fence = /^(`{3,})(.*)$/

/** Every fenced block of `markdown`, with the `key=value` attributes of its info string. */
export const blocks = (markdown: string): Array<Block> => {
  const lines = markdown.split("\n")
  const found: Array<Block> = []
  for (let i = 0; i < lines.length; i++) {
    const open = fence.exec(lines[i]!)
    if (open === null) continue
    const [language = "", ...words] = open[2]!.trim().split(/\s+/)
    const attributes: Record<string, string> = {}
    for (const word of words) {
      const eq = word.indexOf("=")
      if (eq > 0) attributes[word.slice(0, eq)] = word.slice(eq + 1)
    }
    let end = i + 1
    while (end < lines.length && lines[end] !== open[1]) end++
    found.push({ line: i + 1, language, attributes, content: lines.slice(i + 1, end).join("\n") })
    i = end
  }
  return found
}

/** Languages whose blocks are code, and so must name their source in a strict doc. */
export const codeLanguages: ReadonlySet<string> = new Set([
  "ts",
  "typescript",
  "js",
  "javascript",
  "mjs",
  "py",
  "python"
])

const marker = /^\s*(\/\/|#)\s*#(end)?region\b\s*(\S*)\s*$/

const dedent = (lines: ReadonlyArray<string>): Array<string> => {
  const indents = lines.filter((line) => line.trim() !== "").map((line) => /^ */.exec(line)![0].length)
  const common = indents.length === 0 ? 0 : Math.min(...indents)
  return lines.map((line) => line.slice(common))
}

const trimBlankEnds = (lines: ReadonlyArray<string>): Array<string> => {
  let start = 0
  let end = lines.length
  while (start < end && lines[start]!.trim() === "") start++
  while (end > start && lines[end - 1]!.trim() === "") end--
  return lines.slice(start, end)
}

/** The text a block's attributes name in `source`, or why it cannot be found. */
export const excerpt = (
  source: string,
  attributes: Readonly<Record<string, string>>
): { readonly text: string } | { readonly problem: string } => {
  let lines = source.split("\n")
  const region = attributes["region"]
  const range = attributes["lines"]
  if (region !== undefined) {
    const start = lines.findIndex((line) => marker.exec(line)?.[2] === undefined && marker.exec(line)?.[3] === region)
    if (start < 0) return { problem: `no \`#region ${region}\`` }
    const end = lines.findIndex((line, i) => i > start && marker.exec(line)?.[2] === "end" && marker.exec(line)?.[3] === region)
    if (end < 0) return { problem: `no \`#endregion ${region}\`` }
    lines = lines.slice(start + 1, end)
  } else if (range !== undefined) {
    const match = /^(\d+)-(\d+)$/.exec(range)
    if (match === null) return { problem: `lines=${range} is not FIRST-LAST` }
    const first = Number(match[1])
    const last = Number(match[2])
    if (first < 1 || last < first || last > lines.length) return { problem: `lines=${range} is outside the file's ${lines.length} lines` }
    lines = lines.slice(first - 1, last)
  }
  return { text: trimBlankEnds(dedent(lines.filter((line) => !marker.test(line)))).join("\n") }
}

/** Where `check` reads the files blocks name; `undefined` for a missing file. */
export type Reader = (path: string) => string | undefined

/**
 * The problems of one document, each as `doc:line: what`. `strict` docs
 * must name the source of every code block.
 */
export const check = (doc: string, markdown: string, read: Reader, options: { readonly strict: boolean }): Array<string> => {
  const problems: Array<string> = []
  for (const block of blocks(markdown)) {
    const where = `${doc}:${block.line}`
    const file = block.attributes["file"]
    if (file === undefined) {
      if (options.strict && codeLanguages.has(block.language)) {
        problems.push(`${where}: a \`${block.language}\` block must name its source (file=examples/...)`)
      }
      continue
    }
    if (!file.startsWith("examples/")) {
      problems.push(`${where}: ${file} is not under examples/`)
      continue
    }
    const source = read(file)
    if (source === undefined) {
      problems.push(`${where}: ${file} does not exist`)
      continue
    }
    const found = excerpt(source, block.attributes)
    if ("problem" in found) {
      problems.push(`${where}: ${file}: ${found.problem}`)
      continue
    }
    const shown = trimBlankEnds(block.content.split("\n")).join("\n")
    if (shown !== found.text) {
      const a = shown.split("\n")
      const b = found.text.split("\n")
      let i = 0
      while (i < a.length && i < b.length && a[i] === b[i]) i++
      problems.push(
        `${where}: differs from ${file}${block.attributes["region"] ? `#${block.attributes["region"]}` : ""} ` +
          `at its line ${i + 1}:\n    doc:     ${a[i] ?? "(end)"}\n    example: ${b[i] ?? "(end)"}`
      )
    }
  }
  return problems
}

/** Import specifiers of a TypeScript source (static imports and re-exports, and dynamic `import("...")`). */
export const importsOf = (source: string): Array<string> => [
  ...Array.from(source.matchAll(/^\s*(?:import|export)\s[^"'`;]*?from\s*["']([^"']+)["']/gm), (m) => m[1]!),
  ...Array.from(source.matchAll(/^\s*import\s*["']([^"']+)["']/gm), (m) => m[1]!),
  ...Array.from(source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g), (m) => m[1]!)
]

const packageEntry = /^@socket-to-me\/(core|node|testkit)(\/[A-Z][A-Za-z]*)?$/
const effectEntry = /^(effect|@effect\/vitest|@effect\/platform-node)(\/[A-Za-z][\w/]*)?$/
// A test may also drive the tools it is checked with.
const testTool = /^(vitest|eslint)(\/[\w/]*)?$/

/**
 * Why `specifier`, imported by the example file `file` (a path like
 * `examples/echo/test/echo.test.ts`), is not what a user's code could
 * import, or `undefined` if it is: the packages by name or public subpath,
 * effect, node's modules, a file of the same example, or (in its tests)
 * vitest and eslint.
 */
export const badImport = (file: string, specifier: string): string | undefined => {
  if (packageEntry.test(specifier) || effectEntry.test(specifier) || specifier.startsWith("node:")) return undefined
  if (file.split("/").includes("test") && testTool.test(specifier)) return undefined
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    const example = file.split("/").slice(0, 2).join("/")
    const parts = file.split("/").slice(0, -1)
    for (const part of specifier.split("/")) {
      if (part === "..") parts.pop()
      else if (part !== ".") parts.push(part)
    }
    const target = parts.join("/")
    return target.startsWith(`${example}/`) ? undefined : `${specifier} leaves ${example}/ (resolves to ${target})`
  }
  return `${specifier} is not a public entry point (use @socket-to-me/<package>, effect, or node:*)`
}
