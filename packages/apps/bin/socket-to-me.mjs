#!/usr/bin/env node
// The `socket-to-me` command.
//
// Under Node >= 22.19 it runs the CLI in this very process: installed from
// its package, the built CLI (dist/bin.js); inside the repo (a workspace
// checkout, where dist/ may be missing or stale), the TypeScript sources,
// which the packages' `exports` send to src/*.ts under the
// `@socket-to-me/source` condition. A resolve hook adds that condition when
// this process was started without it, so no second Node is needed.
//
// Only inside the repo under an older Node does the CLI run in a child: the
// repo's pinned Node from tools/. Then this process relays signals and the
// exit (see below).
//
// Self-contained JavaScript that parses on Node 20: it cannot rely on the
// repo's scripts/ being importable from wherever the package is linked.
import { spawn } from "node:child_process"
import { existsSync, realpathSync } from "node:fs"
import * as Module from "node:module"
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
const condition = "@socket-to-me/source"

if (modern) {
  if (inRepo) {
    // The same resolution as `node --conditions=@socket-to-me/source`.
    // registerHooks (Node >= 22.15) runs in this thread, before any of the
    // CLI's modules is resolved.
    Module.registerHooks({
      resolve: (specifier, context, nextResolve) =>
        nextResolve(
          specifier,
          context.conditions.includes(condition)
            ? context
            : { ...context, conditions: [...context.conditions, condition] }
        )
    })
  }
  await import(pathToFileURL(join(packageDir, ...(inRepo ? ["src", "bin.ts"] : ["dist", "bin.js"]))).href)
} else if (!inRepo) {
  console.error(`socket-to-me: needs Node >= 22.19 (this is ${process.versions.node})`)
  process.exit(1)
} else {
  const node = join(repoRoot, "tools", "node_modules", ".bin", "node")
  if (!existsSync(node)) {
    console.error(
      `socket-to-me: needs Node >= 22.19 (this is ${process.versions.node}); run \`npm run setup\` in the repo to install the pinned Node`
    )
    process.exit(1)
  }
  const child = spawn(node, [`--conditions=${condition}`, ...process.execArgv, join(packageDir, "src", "bin.ts"), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, PATH: dirname(node) + delimiter + (process.env.PATH ?? "") }
  })
  // Signals sent to this process are passed on, so that the child drains
  // instead of being orphaned. The child is in our process group, so a
  // signal to the whole group (a terminal's Ctrl-C, `kill -- -PGID`) reaches
  // it directly as well: it takes the same signal arriving twice at once as
  // one request (see Shutdown in @socket-to-me/node). On a terminal, SIGINT
  // is not passed on at all: there it comes from Ctrl-C, which the child
  // already got.
  const forward = (signal) => {
    if (signal === "SIGINT" && process.stdin.isTTY) return
    child.kill(signal)
  }
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, forward)
  // Killed without a chance to pass a signal on, our parent (e.g. the shell
  // of `npx`, which dies of the SIGTERM npm passes on to it) leaves us
  // orphaned: we then leave as well, and the child, whose parent we are,
  // decides by its own policy whether to stop (it does when run by npm).
  const parent = process.ppid
  const watch = setInterval(() => {
    if (process.ppid !== parent) process.exit(0)
  }, 200).unref()
  child.on("error", (error) => {
    console.error(`socket-to-me: ${error.message}`)
    process.exit(127)
  })
  child.on("exit", (code, signal) => {
    clearInterval(watch)
    if (signal === null) process.exit(code ?? 1)
    // Die of the same signal so that the caller sees what happened; the timer
    // covers signals Node ignores (e.g. SIGPIPE).
    for (const name of ["SIGINT", "SIGTERM", "SIGHUP"]) process.removeAllListeners(name)
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 1000)
    process.kill(process.pid, signal)
  })
}
