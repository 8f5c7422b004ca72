// Shared by the repo scripts: where the repo is, which Node runs the project,
// and how to run a child so that it behaves like the command it stands for.
// Plain Node 20 JavaScript on purpose: these run before any install.
import { spawn } from "node:child_process"
import { constants } from "node:os"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
export const toolsDir = join(root, "tools")
// POSIX layout; the pinned toolchain has only been set up on Linux and macOS.
export const toolsNode = join(toolsDir, "node_modules", ".bin", "node")
export const toolsPnpm = join(toolsDir, "node_modules", "pnpm", "bin", "pnpm.cjs")

// 22.19 is the project's engines floor: Node strips types without a flag from
// 22.18, and undici (under @effect/platform-node) needs 22.19. Older system
// Nodes fall back to the pinned binary in tools/.
export const isModernNode = (version = process.versions.node) => {
  const [major, minor] = version.split(".").map(Number)
  return major > 22 || (major === 22 && minor >= 19)
}

export const projectNode = () => (isModernNode() ? process.execPath : toolsNode)

// Inside the repo the packages run from their TypeScript sources: each
// package's `exports` map sends this condition to `src/*.ts`, and without it
// to the built `dist/*.js` (what an installed package uses). tsc and vitest
// set the same condition in their configs.
export const sourceCondition = "--conditions=@socket-to-me/source"

export const hasSourceCondition = (execArgv = process.execArgv, env = process.env) =>
  execArgv.includes(sourceCondition) || (env.NODE_OPTIONS ?? "").split(/\s+/).includes(sourceCondition)

// The project Node goes first on PATH so that anything the child starts with
// a bare `node` (bin shims, nested scripts) gets the same runtime, and every
// Node started below resolves the packages to their sources.
export const envWithNode = (node, env = process.env) => ({
  ...env,
  PATH: dirname(node) + delimiter + (env.PATH ?? ""),
  NODE_OPTIONS: hasSourceCondition([], env) ? env.NODE_OPTIONS : [env.NODE_OPTIONS, sourceCondition].filter(Boolean).join(" ")
})

/**
 * Starts `command` with inherited stdio and resolves with how it ended.
 * SIGINT/SIGTERM sent to us are passed on so that the child can shut down
 * cleanly instead of being orphaned; on Ctrl-C the child may see SIGINT
 * twice (the terminal signals the whole process group), which Effect's
 * runMain and vitest both treat as one request.
 */
export const spawnForwarding = (command, args, options = {}) =>
  new Promise((resolve) => {
    const child = spawn(command, args, { stdio: "inherit", ...options })
    const forward = (signal) => child.kill(signal)
    const signals = ["SIGINT", "SIGTERM"]
    for (const signal of signals) process.on(signal, forward)
    const done = (result) => {
      for (const signal of signals) process.off(signal, forward)
      resolve(result)
    }
    child.on("error", (error) => {
      console.error(`${command}: ${error.message}`)
      done({ code: 127, signal: null })
    })
    child.on("exit", (code, signal) => done({ code, signal }))
  })

/** Ends this process the way the child ended: same exit code, or same signal. */
export const exitLike = ({ code, signal }) => {
  if (signal) {
    // Re-raising lets our own parent (a shell, npm, CI) see the real cause.
    // The timer is a fallback for signals Node ignores (e.g. SIGPIPE).
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 1000)
    process.kill(process.pid, signal)
    return
  }
  process.exit(code ?? 1)
}
