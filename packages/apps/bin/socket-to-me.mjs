#!/usr/bin/env node
// The `socket-to-me` command. The CLI is TypeScript run by Node's own type
// stripping, so it needs Node >= 22.19. Bin shims start this file with
// whatever `node` is on PATH; when that one is older, the file starts itself
// again under the repo's pinned Node (tools/, installed by `npm run setup`).
// Self-contained JavaScript that parses on Node 20: it cannot rely on the
// repo's scripts/ being importable from wherever the package is linked.
import { spawn } from "node:child_process"
import { existsSync, realpathSync } from "node:fs"
import { constants } from "node:os"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

// Real path: reached through node_modules symlinks, and Node refuses to strip
// types from files whose path contains node_modules.
const self = realpathSync(fileURLToPath(import.meta.url))
const [major, minor] = process.versions.node.split(".").map(Number)

if (major > 22 || (major === 22 && minor >= 19)) {
  await import(pathToFileURL(join(dirname(self), "..", "src", "bin.ts")).href)
} else {
  const node = join(dirname(self), "..", "..", "..", "tools", "node_modules", ".bin", "node")
  // The guard stops a loop if the pinned Node were somehow old as well.
  if (!existsSync(node) || process.env.SOCKET_TO_ME_REEXEC === "1") {
    console.error(`socket-to-me: needs Node >= 22.19 (this is ${process.versions.node}); run \`npm run setup\` in the repo to install the pinned Node`)
    process.exit(1)
  }
  const child = spawn(node, [...process.execArgv, self, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, SOCKET_TO_ME_REEXEC: "1", PATH: dirname(node) + delimiter + (process.env.PATH ?? "") }
  })
  // Pass SIGINT/SIGTERM on so that the server drains instead of being
  // orphaned; a doubled Ctrl-C is harmless, runMain treats it as one.
  const forward = (signal) => child.kill(signal)
  process.on("SIGINT", forward)
  process.on("SIGTERM", forward)
  child.on("error", (error) => {
    console.error(`socket-to-me: ${error.message}`)
    process.exit(127)
  })
  child.on("exit", (code, signal) => {
    process.off("SIGINT", forward)
    process.off("SIGTERM", forward)
    if (signal === null) process.exit(code ?? 1)
    // Die of the same signal so that the caller sees what happened; the timer
    // covers signals Node ignores (e.g. SIGPIPE).
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 1000)
    process.kill(process.pid, signal)
  })
}
