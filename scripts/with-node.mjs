// `node scripts/with-node.mjs FILE ARGS...`: runs FILE (often a .ts file) with
// the project's Node. npm scripts start under whatever `node` is on PATH,
// which may be too old to strip types; then FILE runs in a child with the
// pinned Node from tools/ and this process only relays signals and the exit.
// FILE also needs the packages' source condition (see lib/node.mjs); when
// this process was started without it, FILE runs in a child that has it.
import { existsSync } from "node:fs"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { envWithNode, exitLike, hasSourceCondition, isModernNode, spawnForwarding, toolsNode } from "./lib/node.mjs"

const [file, ...args] = process.argv.slice(2)
if (file === undefined) {
  console.error("usage: node scripts/with-node.mjs FILE [ARGS...]")
  process.exit(2)
}

if (isModernNode() && hasSourceCondition()) {
  // Already the right runtime: run FILE in this process, saving a second
  // Node start. FILE sees the argv it would see if started directly.
  process.argv = [process.execPath, resolve(file), ...args]
  await import(pathToFileURL(resolve(file)).href)
} else if (isModernNode()) {
  exitLike(await spawnForwarding(process.execPath, [...process.execArgv, file, ...args], { env: envWithNode(process.execPath) }))
} else if (!existsSync(toolsNode)) {
  console.error(`with-node: Node ${process.versions.node} is older than 22.19 and ${toolsNode} is missing; run \`npm run setup\``)
  process.exit(1)
} else {
  exitLike(
    await spawnForwarding(toolsNode, [...process.execArgv, file, ...args], { env: envWithNode(toolsNode) })
  )
}
