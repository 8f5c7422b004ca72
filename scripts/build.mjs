// `npm run build`: compiles every package's src/ into its dist/ (js, d.ts,
// source maps) with tsc, in dependency order: a package is compiled against
// the declarations its dependencies just emitted, as an installed copy would
// be. Incremental: a package whose sources did not change is not re-emitted.
// Started through with-node.mjs, so process.execPath is the project's Node.
import { join } from "node:path"
import { exitLike, root, spawnForwarding } from "./lib/node.mjs"

/** Every package, each after the packages it depends on. */
export const buildOrder = ["core", "node", "testkit", "apps"]

const tsc = join(root, "node_modules", "typescript", "bin", "tsc")

export const build = async () => {
  for (const name of buildOrder) {
    const result = await spawnForwarding(process.execPath, [tsc, "-p", join(root, "packages", name, "tsconfig.build.json")], {
      cwd: root
    })
    if (result.code !== 0 || result.signal) return { ...result, failed: name }
  }
  return { code: 0, signal: null }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await build()
  if (result.failed) console.error(`build: @socket-to-me/${result.failed} failed`)
  exitLike(result)
}
