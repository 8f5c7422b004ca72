#!/usr/bin/env node
// The `socket-to-me` command.
//
// Installed from its package, it runs the built CLI (dist/bin.js) in this
// very process: one Node, which needs to be >= 22.19.
//
// Inside the repo (a workspace checkout, where dist/ may be missing or
// stale), it runs the TypeScript sources: the packages' `exports` send the
// `@socket-to-me/source` condition to src/*.ts. When this process lacks that
// condition or is an older Node, the CLI runs in one child Node that has it
// (the repo's pinned Node from tools/ when this one is too old).
//
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
const packageDir = join(dirname(self), "..")
const repoRoot = join(packageDir, "..", "..")
const inRepo = existsSync(join(repoRoot, "pnpm-workspace.yaml")) && existsSync(join(packageDir, "src", "bin.ts"))
const [major, minor] = process.versions.node.split(".").map(Number)
const modern = major > 22 || (major === 22 && minor >= 19)
const condition = "--conditions=@socket-to-me/source"
const hasCondition = process.execArgv.includes(condition) ||
  (process.env.NODE_OPTIONS ?? "").split(/\s+/).includes(condition)

if (!inRepo) {
  if (!modern) {
    console.error(`socket-to-me: needs Node >= 22.19 (this is ${process.versions.node})`)
    process.exit(1)
  }
  await import(pathToFileURL(join(packageDir, "dist", "bin.js")).href)
} else if (modern && hasCondition) {
  await import(pathToFileURL(join(packageDir, "src", "bin.ts")).href)
} else {
  const node = modern ? process.execPath : join(repoRoot, "tools", "node_modules", ".bin", "node")
  if (!existsSync(node)) {
    console.error(`socket-to-me: needs Node >= 22.19 (this is ${process.versions.node}); run \`npm run setup\` in the repo to install the pinned Node`)
    process.exit(1)
  }
  const child = spawn(node, [condition, ...process.execArgv, join(packageDir, "src", "bin.ts"), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, PATH: dirname(node) + delimiter + (process.env.PATH ?? "") }
  })
  // The child is in our process group: a terminal's Ctrl-C (SIGINT to the
  // whole foreground group) reaches it directly, and passing ours on would
  // make it a second Ctrl-C, which forces the stop instead of draining. A
  // signal sent to this process alone (`kill PID`, a supervisor's SIGTERM)
  // is passed on, so that the child drains instead of being orphaned.
  const forward = (signal) => {
    if (signal === "SIGINT" && process.stdin.isTTY) return
    child.kill(signal)
  }
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, forward)
  child.on("error", (error) => {
    console.error(`socket-to-me: ${error.message}`)
    process.exit(127)
  })
  child.on("exit", (code, signal) => {
    if (signal === null) process.exit(code ?? 1)
    // Die of the same signal so that the caller sees what happened; the timer
    // covers signals Node ignores (e.g. SIGPIPE).
    for (const name of ["SIGINT", "SIGTERM", "SIGHUP"]) process.removeAllListeners(name)
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 1000)
    process.kill(process.pid, signal)
  })
}
