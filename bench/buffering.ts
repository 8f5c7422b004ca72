/**
 * What a server holds for clients that send but never read: N clients
 * (300 by default) each send 16 MiB to the echo server and never read, and
 * N clients each ask the files server for a large file and never read. The
 * server runs as a separate process (pinned to its core, as in the main
 * benchmark); once its memory has stopped growing, it is read after forced
 * garbage collection (bench/servers/hook.ts) and compared with its memory
 * before the clients came.
 *
 * The bound (docs/robustness.md): each connection's user-space buffering
 * is at most the documented per-connection worst case, so the server may
 * grow by at most N x (that bound + 64 KiB of per-connection objects).
 * The raw `node:net` echo (a socket piped into itself) runs the same load
 * as a reference. Exits 1 when ours passes its bound.
 *
 *   node bench/buffering.ts [--clients 300] [--send 16] [--file 64] [--only echo|files]
 *
 * (`--send` and `--file` in MiB.) Bounded: every wait has a deadline, and a
 * hard timer ends the run.
 */
import * as Config from "@socket-to-me/core/Config"
import * as FilesConfig from "@socket-to-me/apps/files/FilesConfig"
import { spawn } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { control } from "./lib/frames.ts"
import * as Processes from "./lib/processes.ts"
import * as Proc from "./lib/proc.ts"

// Output of a command-line program (lint keeps console.log for the CLI).
const print = (line: string) => process.stdout.write(`${line}\n`)

const args = process.argv.slice(2)
const option = (name: string) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const KiB = 1024
const MiB = 1024 * KiB
const clients = Number(option("--clients") ?? 300)
const sendBytes = Number(option("--send") ?? 16) * MiB
const fileBytes = Number(option("--file") ?? 64) * MiB
const only = option("--only")

const hardLimit = setTimeout(() => {
  print("buffering: hard time limit reached")
  Processes.killAll()
  process.exit(1)
}, 15 * 60 * 1000)
hardLimit.unref()

// Node's own marks for a socket (64 KiB each on Node 22), and its read size.
const probe = new Net.Socket()
const readableMark = probe.readableHighWaterMark
const writableMark = probe.writableHighWaterMark
probe.destroy()
const readSize = 64 * KiB

// The per-connection worst case of docs/robustness.md, on Node's defaults:
// the write stage (`Config.outboundQueueBytes`), what Node buffers below its
// writable mark when it says it takes more, and unread input: the flowing
// socket's queue (up to its mark and one read) and Node's readable buffer
// under it (the same).
const transportBound = Config.outboundQueueBytes + writableMark + 2 * (readableMark + readSize)
// The files app's own for a download: its reply queue (two data frames) and
// the disk read in hand (one frame).
const filesAppBound = 3 * (FilesConfig.fileChunkBytes + 5)
const perConnectionSlack = 64 * KiB

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`
const kib = (bytes: number) => `${(bytes / KiB).toFixed(0)} KiB`
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// Waits until the server's RSS has not grown for `quietMs` (sampled from
// /proc, no GC), at most `maxMs`.
const settle = async (pid: number, quietMs = 2000, maxMs = 120_000) => {
  const started = performance.now()
  let peak = Proc.processMemory(pid)?.rss ?? 0
  let since = performance.now()
  while (performance.now() - started < maxMs) {
    await sleep(200)
    const rss = Proc.processMemory(pid)?.rss ?? 0
    if (rss > peak + 256 * KiB) {
      peak = rss
      since = performance.now()
    } else if (performance.now() - since >= quietMs) {
      return true
    }
  }
  return false
}

// Connects `count` clients that never read; `start` says what each sends.
const connectAll = async (port: number, count: number, start: (socket: Net.Socket) => void) => {
  const sockets: Array<Net.Socket> = []
  for (let i = 0; i < count; i++) {
    const socket = await new Promise<Net.Socket>((resolve, reject) => {
      const socket = Net.connect({ host: "127.0.0.1", port })
      socket.once("connect", () => resolve(socket))
      socket.once("error", reject)
    })
    socket.on("error", () => {})
    socket.pause()
    start(socket)
    sockets.push(socket)
  }
  return sockets
}

interface Figure {
  readonly name: string
  readonly growth: number
  readonly perConnection: number
  readonly bound: number | undefined
  readonly settled: boolean
  readonly heapUsed: number
  readonly external: number
}

const measure = async (
  name: string,
  server: Processes.Server,
  bound: number | undefined,
  start: (socket: Net.Socket) => void
): Promise<Figure> => {
  const before = await server.memory()
  const sockets = await connectAll(server.port, clients, start)
  const settled = await settle(server.pid)
  const after = await server.memory()
  for (const socket of sockets) socket.destroy()
  const growth = after.rss - before.rss
  return {
    name,
    growth,
    perConnection: growth / clients,
    bound,
    settled,
    heapUsed: after.heapUsed - before.heapUsed,
    external: after.external - before.external
  }
}

const report = (figure: Figure) => {
  const limit = figure.bound === undefined ? undefined : clients * (figure.bound + perConnectionSlack)
  print(
    `${figure.name}: RSS +${mib(figure.growth)} (${kib(figure.perConnection)} per connection; heap +${mib(figure.heapUsed)}, external +${
      mib(figure.external)
    })` +
      (limit === undefined
        ? ""
        : `; limit ${mib(limit)} = ${clients} x (${kib(figure.bound!)} + 64 KiB): ${figure.growth <= limit ? "within" : "OVER"}`) +
      (figure.settled ? "" : " (memory still growing at the deadline)")
  )
  return limit === undefined || figure.growth <= limit
}

const runClient = (command: ReadonlyArray<string>) =>
  new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ["packages/apps/src/bin.ts", ...command], {
      cwd: Processes.root,
      stdio: ["ignore", "ignore", "ignore"]
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })

const main = async () => {
  print(
    `buffering: ${clients} clients that never read (Node ${process.versions.node}, ${Os.cpus().length} CPUs); per-connection bound ${
      kib(transportBound)
    } (write stage ${kib(Config.outboundQueueBytes)}, Node's marks ${kib(writableMark)}/${kib(readableMark)}), files +${kib(filesAppBound)}`
  )
  // The servers are pinned to their core as in the main benchmark; run this
  // script itself on the other (`taskset -c 1`).
  if (!Processes.pinning(Os.cpus().length)) Processes.disablePinning()
  let ok = true
  if (only === undefined || only === "echo") {
    const payload = Buffer.alloc(sendBytes, 7)
    for (const side of ["ours", "raw"] as const) {
      const server = side === "ours"
        ? await Processes.startServer("ours", "packages/apps/src/bin.ts", ["echo", "serve", "--port", "0"])
        : await Processes.startServer("raw", "bench/servers/raw-echo.ts", ["0"])
      try {
        const figure = await measure(`echo ${side}, each sends ${mib(sendBytes)}`, server, side === "ours" ? transportBound : undefined, (socket) => {
          socket.write(payload)
        })
        ok = report(figure) && ok
      } finally {
        await server.stop()
      }
    }
  }
  if (only === undefined || only === "files") {
    const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "socket-to-me-buffering-"))
    try {
      const folder = Path.join(root, "served")
      const file = Path.join(root, "big.bin")
      Fs.writeFileSync(file, Crypto.randomBytes(1 * MiB).toString("hex").repeat(fileBytes / (2 * MiB)))
      const server = await Processes.startServer("ours", "packages/apps/src/bin.ts", ["files", "serve", "--port", "0", "--dir", folder])
      try {
        const code = await runClient(["files", "send", file, "--port", String(server.port)])
        if (code !== 0) throw new Error(`files send exited ${code}`)
        const ask = Buffer.concat([control({ type: "download", name: "big.bin" }), control({ type: "start", offset: 0 })])
        const figure = await measure(`files ours, each downloads ${mib(fileBytes)}`, server, transportBound + filesAppBound, (socket) => {
          socket.write(ask)
        })
        ok = report(figure) && ok
      } finally {
        await server.stop()
      }
    } finally {
      Fs.rmSync(root, { recursive: true, force: true })
    }
  }
  process.exitCode = ok ? 0 : 1
}

main().catch((error: unknown) => {
  print(`buffering: failed: ${(error as Error).stack ?? String(error)}`)
  Processes.killAll()
  process.exitCode = 1
})
