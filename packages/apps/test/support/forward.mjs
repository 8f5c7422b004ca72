// `node forward.mjs COMMAND ARGS...`: runs COMMAND as its child and passes
// SIGINT and SIGTERM on to it, as npm does to the command it runs; then
// exits as the child did. In the same process group as its child, it makes
// a terminal's Ctrl-C reach the child twice.
import { spawn } from "node:child_process"

const [command, ...args] = process.argv.slice(2)
const child = spawn(command, args, { stdio: "inherit" })
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 1 : 0)))
