/**
 * Memory and throughput of the files app with real processes: starts
 * `socket-to-me files serve`, uploads a file of random bytes (1 GiB by
 * default) with `socket-to-me files send`, downloads it back with `files
 * get`, and reports the server's peak resident set size (VmHWM from
 * /proc, Linux only) and the throughput of each transfer.
 *
 * Fails (exit 1) when the server's peak RSS reaches 200 MiB or a transfer
 * does not succeed. Not part of the test suite: it moves gigabytes.
 *
 *   node bench/files-rss.ts [--size 1GiB] [--dir /tmp] [--no-download]
 *
 * `--dir` is where the file, the server's folder and the download go (a
 * temporary directory inside it, removed at the end).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const MiB = 1024 * 1024
const limitBytes = 200 * MiB
const bin = fileURLToPath(new URL("../packages/apps/src/bin.ts", import.meta.url))

const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const index = args.indexOf(name)
  return index >= 0 ? args[index + 1] : undefined
}
const parseSize = (text: string): number => {
  const match = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB)?$/.exec(text)
  if (match === null) throw new Error(`bad --size ${text}`)
  const unit = { B: 1, KiB: 1024, MiB, GiB: 1024 * MiB }[match[2] as "B" | "KiB" | "MiB" | "GiB" ?? "B"]
  return Math.round(Number(match[1]) * unit)
}
const size = parseSize(option("--size") ?? "1GiB")
const root = Fs.mkdtempSync(Path.join(option("--dir") ?? Os.tmpdir(), "socket-to-me-files-bench-"))
const download = !args.includes("--no-download")

const say = (line: string) => process.stdout.write(`${line}\n`)
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`

// VmRSS / VmHWM of a process, in bytes.
const memoryOf = (pid: number): { rss: number; hwm: number } | undefined => {
  try {
    const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024
    return { rss: field("VmRSS"), hwm: field("VmHWM") }
  } catch {
    return undefined
  }
}

const writeRandomFile = (path: string, bytes: number) => {
  const fd = Fs.openSync(path, "w")
  const block = Buffer.allocUnsafe(16 * MiB)
  for (let written = 0; written < bytes;) {
    const n = Math.min(block.length, bytes - written)
    Crypto.randomFillSync(block, 0, n)
    Fs.writeSync(fd, block, 0, n)
    written += n
  }
  Fs.closeSync(fd)
}

const startServer = (folder: string): Promise<{ child: ChildProcess; port: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "files", "serve", "--port", "0", "--dir", folder, "--max-size", `${size}`], {
      stdio: ["ignore", "pipe", "ignore"]
    })
    let stdout = ""
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stdout}`)), 60_000)
    child.stdout!.on("data", (chunk) => {
      stdout += chunk
      const match = /files listening on \S+:(\d+)/.exec(stdout)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ child, port: match[1]! })
      }
    })
  })

interface Run {
  readonly code: number | null
  readonly stdout: string
  /** The transfer's own rate, from the client's last progress line. */
  readonly rate: string
  readonly millis: number
  readonly peakRss: number
}

// Runs a client command, sampling its memory until it exits.
const runClient = (command: ReadonlyArray<string>, cwd: string): Promise<Run> =>
  new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(process.execPath, [bin, ...command], { cwd, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let peakRss = 0
    child.stdout.on("data", (chunk) => (stdout += chunk))
    // Progress lines only; keep the tail.
    child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4096)))
    const sampler = setInterval(() => {
      const memory = memoryOf(child.pid!)
      if (memory !== undefined) peakRss = Math.max(peakRss, memory.hwm)
    }, 20)
    child.on("exit", (code) => {
      clearInterval(sampler)
      const rate = /100% \([^)]*\), ([^,]+),/.exec(stderr)?.[1] ?? "?"
      resolve({ code, stdout, rate, millis: performance.now() - started, peakRss })
    })
  })

const main = async () => {
  say(`files bench: ${mib(size)} in ${root} (Node ${process.versions.node}, ${Os.cpus().length} CPUs)`)
  const file = Path.join(root, "payload.bin")
  writeRandomFile(file, size)
  const { child: server, port } = await startServer(Path.join(root, "received"))
  let failed = false
  try {
    const idle = memoryOf(server.pid!)!
    say(`server idle RSS: ${mib(idle.rss)}`)
    let serverPeak = 0
    const sampler = setInterval(() => {
      const memory = memoryOf(server.pid!)
      if (memory !== undefined) serverPeak = Math.max(serverPeak, memory.hwm)
    }, 20)

    const upload = await runClient(["files", "send", file, "--port", port], root)
    const afterUpload = memoryOf(server.pid!)!
    serverPeak = Math.max(serverPeak, afterUpload.hwm)
    say(`upload: exit ${upload.code}, ${upload.stdout.trim()}`)
    say(`upload: transfer ${upload.rate}; ${(upload.millis / 1000).toFixed(2)} s end to end (process start, hashing, transfer, fsync) = ${
      mib(size / (upload.millis / 1000))
    }/s; client peak RSS ${mib(upload.peakRss)}`)
    say(`server peak RSS during upload: ${mib(afterUpload.hwm)} (limit ${mib(limitBytes)})`)
    if (upload.code !== 0 || afterUpload.hwm >= limitBytes) failed = true

    if (download) {
      const out = Path.join(root, "downloaded.bin")
      const got = await runClient(["files", "get", "payload.bin", "--out", out, "--port", port], root)
      say(`download: exit ${got.code}, ${got.stdout.trim()}`)
      say(`download: transfer ${got.rate}; ${(got.millis / 1000).toFixed(2)} s end to end = ${
        mib(size / (got.millis / 1000))
      }/s; client peak RSS ${mib(got.peakRss)}`)
      if (got.code !== 0) failed = true
    }
    clearInterval(sampler)
    const final = memoryOf(server.pid!)!
    say(`server peak RSS overall: ${mib(Math.max(serverPeak, final.hwm))}`)
  } finally {
    server.kill("SIGTERM")
    await new Promise((resolve) => server.on("exit", resolve))
    Fs.rmSync(root, { recursive: true, force: true })
  }
  say(failed ? "FAILED" : "ok")
  process.exitCode = failed ? 1 : 0
}

void main()
