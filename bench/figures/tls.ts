/**
 * TLS figures: `echo-tls-stream-c1` and `echo-tls-stream-c100` (MB/s of
 * 64 KiB writes echoed back over TLS, 1 and 100 connections).
 *
 * Two servers doing the same job with the same certificate, each started
 * once for the section:
 * - ours: the real CLI, `socket-to-me echo serve --tls-cert --tls-key`;
 * - raw: `node:tls` piping each TLS socket into itself (servers/raw-tls-echo.ts).
 *
 * The certificate (P-256, self-signed for localhost, a day long) is made
 * with `openssl` for the run; without it the figures are unavailable. The
 * load generator decrypts and encrypts too: its CPU is reported with each
 * window, to say whether it, rather than the server, set the pace.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Processes from "../lib/processes.ts"
import * as Summary from "../lib/summary.ts"
import { alternate, type Context, type Window } from "./context.ts"

const MB = 1e6

const specs = [
  {
    name: "echo-tls-stream-c1",
    unit: "MB/s",
    better: "higher" as const,
    goal: 0.9,
    command: { cmd: "stream", connections: 1, chunkBytes: 64 * 1024 },
    scale: 1 / MB
  },
  {
    name: "echo-tls-stream-c100",
    unit: "MB/s",
    better: "higher" as const,
    goal: 0.9,
    command: { cmd: "stream", connections: 100, chunkBytes: 64 * 1024 },
    scale: 1 / MB
  }
]

// A self-signed certificate for localhost and 127.0.0.1, or why none could be made.
const certificate = (dir: string): { cert: string; key: string } | string => {
  const cert = join(dir, "cert.pem")
  const key = join(dir, "key.pem")
  const made = spawnSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-days", "1", "-keyout", key, "-out", cert
  ], { encoding: "utf8", timeout: 20_000 })
  if (made.error !== undefined) return `openssl is needed to make a certificate (${made.error.message})`
  return made.status === 0 ? { cert, key } : `openssl failed: ${made.stderr.split("\n")[0]}`
}

/** Runs the TLS figures. */
export const run = async (context: Context): Promise<Array<Summary.Figure>> => {
  const selected = specs.filter((spec) => context.wanted(spec.name))
  if (selected.length === 0) return []
  const dir = mkdtempSync(join(tmpdir(), "socket-to-me-bench-tls-"))
  try {
    const made = certificate(dir)
    if (typeof made === "string") return selected.map((spec) => Summary.unavailable(spec, made))
    const servers = {
      ours: await Processes.startServer(
        "ours",
        "packages/apps/src/bin.ts",
        ["echo", "serve", "--port", "0", "--max-connections", "10000", "--tls-cert", made.cert, "--tls-key", made.key],
        { nodeFlags: context.settings.profile ? ["--cpu-prof", "--cpu-prof-dir", "bench/results/profiles"] : [] }
      ),
      raw: await Processes.startServer("raw", "bench/servers/raw-tls-echo.ts", ["0", made.cert, made.key])
    }
    const figures: Array<Summary.Figure> = []
    try {
      for (const spec of selected) {
        try {
          const runs = await alternate(context, spec.name, ["ours", "raw"], async (side) => {
            const server = servers[side as "ours" | "raw"]
            const window = await context.client.request<Window>({
              ...spec.command,
              tlsCa: made.cert,
              port: server.port,
              serverPid: server.pid,
              warmupMs: context.settings.warmupMs,
              measureMs: context.settings.measureMs
            }, context.settings.warmupMs + context.settings.measureMs + 30_000)
            const value = (window.count / window.seconds) * spec.scale
            const cpuUsPerUnit = (window.usage.serverCpu * 1e6) / value
            return { value, seconds: window.seconds, usage: window.usage, extra: { cpuUsPerUnit } }
          }, { prime: spec === selected[0] })
          figures.push(Summary.summarize(spec, runs))
        } catch (error) {
          context.log(`${spec.name}: failed: ${(error as Error).message}`)
          figures.push(Summary.unavailable(spec, `failed: ${(error as Error).message.split("\n")[0]}`))
        }
      }
    } finally {
      await Promise.all(Object.values(servers).map((server) => server.stop()))
    }
    return figures
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
