/**
 * The processes of a benchmark run: servers (ours and the references) and
 * the load generator, each pinned to its own core with `taskset`, each
 * talking to the run over an IPC channel, each with a deadline on every
 * exchange and a hard kill when it does not stop.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root. */
export const root = fileURLToPath(new URL("../../", import.meta.url))

/** Core the servers run on, and core the load generator runs on. */
export const serverCore = 0
export const clientCore = 1

const taskset = ["/usr/bin/taskset", "/bin/taskset"].find((path) => existsSync(path))

/** Whether processes are pinned (taskset exists and there are two cores to pin to). */
export const pinning = (cpus: number) => taskset !== undefined && cpus >= 2

let pinned = true

/** Turns pinning off (a machine without taskset or with a single core). */
export const disablePinning = () => {
  pinned = false
}

const children = new Set<ChildProcess>()

/** Kills every process the run started; used by the hard exit timer and on signals. */
export const killAll = () => {
  for (const child of children) child.kill("SIGKILL")
}

// The packages resolve to their TypeScript sources under this condition
// (scripts/lib/node.mjs); the children's NODE_OPTIONS are cleared below.
const sourceCondition = "--conditions=@socket-to-me/source"

const launch = (core: number, args: ReadonlyArray<string>): ChildProcess => {
  const [command, ...rest] = pinned && taskset !== undefined
    ? [taskset, "-c", String(core), process.execPath, sourceCondition, ...args]
    : [process.execPath, sourceCondition, ...args]
  const child = spawn(command!, rest, {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: { ...process.env, NODE_OPTIONS: "" }
  })
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}

const exited = (child: ChildProcess, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(true)
    const timer = setTimeout(() => resolve(false), ms)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve(true)
    })
  })

/** Keeps the last lines a process wrote, for error messages. */
const tail = (child: ChildProcess, stream: "stdout" | "stderr", keep: Array<string>) => {
  let partial = ""
  child[stream]!.setEncoding("utf8")
  child[stream]!.on("data", (text: string) => {
    const lines = (partial + text).split("\n")
    partial = lines.pop() ?? ""
    for (const line of lines) {
      keep.push(line)
      if (keep.length > 30) keep.shift()
    }
  })
}

/** Memory of a server after forced garbage collection (see servers/hook.ts). */
export interface Memory {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  readonly arrayBuffers: number
}

/** A running server. */
export interface Server {
  readonly name: string
  readonly pid: number
  readonly port: number
  readonly memory: () => Promise<Memory>
  /** Writes a heap snapshot of the server to `path` (after forced GC). */
  readonly snapshot: (path: string) => Promise<void>
  readonly stop: () => Promise<void>
  readonly output: () => string
}

/**
 * Starts `script ARGS...` on the server core with the memory hook and waits
 * for its `... listening on HOST:PORT` line.
 */
export const startServer = async (
  name: string,
  script: string,
  args: ReadonlyArray<string>,
  options: { readonly nodeFlags?: ReadonlyArray<string>; readonly timeoutMs?: number } = {}
): Promise<Server> => {
  const child = launch(serverCore, [
    "--expose-gc",
    "--import",
    "./bench/servers/hook.ts",
    ...(options.nodeFlags ?? []),
    script,
    ...args
  ])
  const lines: Array<string> = []
  tail(child, "stderr", lines)
  const output = () => lines.join("\n")
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${name}: no listening line within ${options.timeoutMs ?? 30_000} ms\n${output()}`))
    }, options.timeoutMs ?? 30_000)
    let seen = ""
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (text: string) => {
      seen += text
      const match = /listening on [^\s:]+:(\d+)/.exec(seen)
      if (match !== null) {
        clearTimeout(timer)
        seen = ""
        resolve(Number(match[1]))
      }
      if (seen.length > 10_000) seen = seen.slice(-1000)
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${signal ?? code}) before listening\n${output()}`))
    })
  })
  let nextId = 0
  const ask = <A>(request: Record<string, unknown>, timeoutMs: number) =>
    new Promise<A>((resolve, reject) => {
      const id = ++nextId
      const timer = setTimeout(() => {
        child.off("message", onMessage)
        reject(new Error(`${name}: no ${String(request["type"])} report within ${timeoutMs} ms`))
      }, timeoutMs)
      const onMessage = (message: A & { readonly type: string; readonly id: number }) => {
        if (message.type !== request["type"] || message.id !== id) return
        clearTimeout(timer)
        child.off("message", onMessage)
        resolve(message)
      }
      child.on("message", onMessage)
      child.send({ ...request, id })
    })
  const memory = () => ask<Memory>({ type: "memory" }, 20_000)
  const snapshot = (path: string) => ask<void>({ type: "snapshot", path }, 120_000)
  const stop = async () => {
    child.kill("SIGTERM")
    // Our server drains for up to its grace period (5 s by default).
    if (!(await exited(child, 8000))) {
      child.kill("SIGKILL")
      await exited(child, 2000)
    }
  }
  return { name, pid: child.pid!, port, memory, snapshot, stop, output }
}

/** A process that takes commands over its IPC channel: the load generator, the actor-ask worker. */
export interface Client {
  readonly pid: number
  readonly request: <A>(command: object, timeoutMs: number) => Promise<A>
  readonly stop: () => Promise<void>
}

/** Starts bench/load.ts on the client core. */
export const startClient = (): Client => startWorker("load generator", clientCore, "./bench/load.ts")

/**
 * Starts `script` on `core`; it answers each `{ id, command }` with
 * `{ id, ok, result }` or `{ id, ok: false, error }`, and exits on
 * `{ cmd: "exit" }` or when the run goes away.
 */
export const startWorker = (
  name: string,
  core: number,
  script: string,
  options: { readonly nodeFlags?: ReadonlyArray<string> } = {}
): Client => {
  const child = launch(core, [...(options.nodeFlags ?? []), script])
  const lines: Array<string> = []
  tail(child, "stderr", lines)
  tail(child, "stdout", lines)
  let nextId = 0
  const request = <A>(command: object, timeoutMs: number) =>
    new Promise<A>((resolve, reject) => {
      const id = ++nextId
      const cleanup = () => {
        clearTimeout(timer)
        child.off("message", onMessage)
        child.off("exit", onExit)
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`${name}: no answer to ${JSON.stringify(command)} within ${timeoutMs} ms`))
      }, timeoutMs)
      const onMessage = (message: { readonly id: number; readonly ok: boolean; readonly result: A; readonly error: string }) => {
        if (message.id !== id) return
        cleanup()
        if (message.ok) resolve(message.result)
        else reject(new Error(`${name}: ${message.error}`))
      }
      const onExit = (code: number | null, signal: string | null) => {
        cleanup()
        reject(new Error(`${name} exited (${signal ?? code})\n${lines.join("\n")}`))
      }
      child.on("message", onMessage)
      child.once("exit", onExit)
      child.send({ id, command })
    })
  const stop = async () => {
    if (child.connected) child.send({ id: 0, command: { cmd: "exit" } })
    if (!(await exited(child, 3000))) {
      child.kill("SIGKILL")
      await exited(child, 2000)
    }
  }
  return { pid: child.pid!, request, stop }
}

/** A running redis-server. */
export interface Redis {
  readonly pid: number
  readonly port: number
  readonly url: string
  readonly stop: () => Promise<void>
}

/** Whether redis-server is on PATH. */
export const hasRedis = () => spawnSync("redis-server", ["--version"], { stdio: "ignore" }).error === undefined

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/**
 * Starts redis-server on the server core, on a free port of 127.0.0.1, in a
 * temporary folder, without persistence, and waits until it accepts
 * connections.
 */
export const startRedis = async (): Promise<Redis> => {
  const dir = mkdtempSync(join(tmpdir(), "socket-to-me-bench-redis-"))
  const port = await freePort()
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir]
  const [command, ...rest] = pinned && taskset !== undefined
    ? [taskset, "-c", String(serverCore), "redis-server", ...args]
    : ["redis-server", ...args]
  const child = spawn(command!, rest, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
  children.add(child)
  child.once("exit", () => children.delete(child))
  const lines: Array<string> = []
  tail(child, "stderr", lines)
  const stop = async () => {
    child.kill("SIGTERM")
    if (!(await exited(child, 5000))) {
      child.kill("SIGKILL")
      await exited(child, 2000)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server not ready within 20 s\n${lines.join("\n")}`)), 20_000)
    let seen = ""
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (text: string) => {
      seen = (seen + text).slice(-2000)
      if (seen.includes("Ready to accept connections")) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited (${code}) before it was ready\n${lines.join("\n")}`))
    })
  }).catch(async (error: unknown) => {
    await stop()
    throw error
  })
  return { pid: child.pid!, port, url: `redis://127.0.0.1:${port}`, stop }
}
