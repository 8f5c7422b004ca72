// `npm run example -- NAME [ARGS...]`: runs examples/NAME/server.ts with
// ARGS, on the project's Node and the packages' sources, as a user would
// run their own server (`node server.ts`). Started through with-node.mjs,
// so process.execPath is the project's Node.
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { envWithNode, exitLike, root, spawnForwarding } from "./lib/node.mjs"

const examples = readdirSync(join(root, "examples"))
  .filter((name) => existsSync(join(root, "examples", name, "server.ts")))
  .sort()
const [name, ...args] = process.argv.slice(2)

if (name === undefined || name === "--help" || name === "-h" || !examples.includes(name)) {
  if (name !== undefined && name !== "--help" && name !== "-h") console.error(`example: no example named ${name}`)
  console.log(`usage: npm run example -- NAME [ARGS...]   (NAME [--help] for its own flags)\nexamples: ${examples.join(", ")}`)
  process.exit(name === undefined || examples.includes(name) || name === "--help" || name === "-h" ? 0 : 2)
}

exitLike(await spawnForwarding(process.execPath, [join(root, "examples", name, "server.ts"), ...args], {
  cwd: root,
  env: envWithNode(process.execPath)
}))
