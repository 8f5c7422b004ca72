// `npm run setup`: takes a checkout to a runnable state using only the system
// Node (>= 20) and npm. It installs the pinned toolchain (Node 22, pnpm) into
// tools/, then the workspace with that pnpm. Each step keeps a stamp of its
// inputs so that a repeated run does nothing and prints nothing, which is
// what lets `npm test` and `npm start` call it every time.
// It writes only inside the repo (and npm/pnpm write their usual caches).
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { envWithNode, projectNode, root, toolsDir, toolsNode, toolsPnpm } from "./lib/node.mjs"

const log = (line) => console.log(`setup: ${line}`)

// A stamp is a hash of everything that decides what an install produces. The
// platform is part of it because both trees hold platform-specific binaries.
const stampOf = (files) => {
  const hash = createHash("sha256").update(`${process.platform}-${process.arch}\n`)
  for (const file of files) {
    hash.update(`${relative(root, file)}\n`)
    if (existsSync(file)) hash.update(readFileSync(file))
  }
  return hash.digest("hex")
}
const isCurrent = (stampFile, stamp) => existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === stamp

const run = (command, args, options) => {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options })
  if (result.status !== 0) {
    const why = result.error?.message ?? (result.signal ? `signal ${result.signal}` : `exit code ${result.status}`)
    console.error(`setup: failed: ${command} ${args.join(" ")} (${why})`)
    process.exit(result.status || 1)
  }
}

// 1. Pinned toolchain. `npm ci` wipes and recreates tools/node_modules, so it
// only runs when the lockfile changed or the tree is incomplete.
const toolsStampFile = join(toolsDir, "node_modules", ".setup-stamp")
const toolsStamp = stampOf([join(toolsDir, "package.json"), join(toolsDir, "package-lock.json")])
if (!isCurrent(toolsStampFile, toolsStamp) || !existsSync(toolsNode) || !existsSync(toolsPnpm)) {
  log("installing the pinned toolchain (npm ci --prefix tools)")
  // The `node` package downloads its binary from a preinstall script, which
  // itself calls `npm` from PATH; on Windows npm is a .cmd and needs a shell.
  const windows = process.platform === "win32"
  run(windows ? "npm.cmd" : "npm", ["ci", "--prefix", "tools", "--no-audit", "--no-fund"], { shell: windows })
  writeFileSync(toolsStampFile, `${toolsStamp}\n`)
}

// 2. Workspace dependencies, with the pinned pnpm run by the project Node.
const node = projectNode()
const packagesDir = join(root, "packages")
// pnpm-workspace.yaml says `packages/*`; listing that folder avoids a YAML parser.
const manifests = readdirSync(packagesDir)
  .sort()
  .map((name) => join(packagesDir, name, "package.json"))
  .filter((file) => existsSync(file))
const modulesStampFile = join(root, "node_modules", ".setup-stamp")
const modulesStamp = stampOf([
  join(root, "pnpm-lock.yaml"),
  join(root, "pnpm-workspace.yaml"),
  join(root, ".npmrc"),
  join(root, "package.json"),
  ...manifests,
  toolsStampFile // a new pnpm may lay out node_modules differently
])
if (!isCurrent(modulesStampFile, modulesStamp) || !existsSync(join(root, "node_modules", ".modules.yaml"))) {
  log(`installing dependencies with pnpm on Node ${nodeVersion(node)}`)
  // confirmModulesPurge=false: when node_modules came from another pnpm, pnpm
  // would ask before recreating it, and there is no one to answer in CI.
  run(node, [toolsPnpm, "install", "--frozen-lockfile", "--config.confirmModulesPurge=false"], {
    env: envWithNode(node, { ...process.env, npm_config_update_notifier: "false" })
  })
  writeFileSync(modulesStampFile, `${modulesStamp}\n`)
}

function nodeVersion(path) {
  if (path === process.execPath) return process.versions.node
  return spawnSync(path, ["--version"], { encoding: "utf8" }).stdout.trim().replace(/^v/, "")
}
