// `npm run pack [-- DIR]`: builds every package, then writes each one's
// tarball (what `npm publish` would upload) into one folder, `tarballs/` by
// default. pnpm turns the `workspace:*` dependencies into real versions.
// Installing them elsewhere: `npm install DIR/*.tgz` (see the README).
// Started through with-node.mjs, so process.execPath is the project's Node.
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { build, buildOrder } from "./build.mjs"
import { exitLike, root, spawnForwarding, toolsPnpm } from "./lib/node.mjs"

const destination = resolve(process.argv[2] ?? join(root, "tarballs"))
const built = await build()
if (built.failed) {
  console.error(`pack: building @socket-to-me/${built.failed} failed`)
  exitLike(built)
} else {
  rmSync(destination, { recursive: true, force: true })
  mkdirSync(destination, { recursive: true })
  // The pinned pnpm when set up; a pnpm on PATH otherwise.
  const pnpm = existsSync(toolsPnpm) ? [process.execPath, toolsPnpm] : ["pnpm"]
  for (const name of buildOrder) {
    const result = await spawnForwarding(pnpm[0], [...pnpm.slice(1), "pack", "--pack-destination", destination], {
      cwd: join(root, "packages", name),
      stdio: ["ignore", "ignore", "inherit"]
    })
    if (result.code !== 0 || result.signal) {
      console.error(`pack: packing @socket-to-me/${name} failed`)
      exitLike(result)
    }
  }
  for (const file of readdirSync(destination).sort()) console.log(join(destination, file))
}
