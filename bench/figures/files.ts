/**
 * `files-upload-1g`: MB/s of a 1 GiB upload, from connecting to the
 * server's answer that the file is on disk (fsynced), verified (SHA-256)
 * and in place under its name.
 *
 * - ours: the real CLI, `socket-to-me files serve --dir DIR`, spoken to in
 *   the files protocol (data frames of 64 KiB);
 * - raw: node:net piping the socket into a file while hashing, then fsync,
 *   check, rename (servers/raw-files.ts).
 *
 * Each window starts a fresh server with an empty folder, so the peak RSS
 * (VmHWM) read after the upload is that upload's. Folders are deleted
 * after each window.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Proc from "../lib/proc.ts"
import * as Processes from "../lib/processes.ts"
import * as Summary from "../lib/summary.ts"
import { alternate, type Context } from "./context.ts"

const spec = { name: "files-upload-1g", unit: "MB/s", better: "higher" as const, goal: 0.8 }

const bytes = 1024 ** 3

/** Runs the files figure. */
export const run = async (context: Context): Promise<Array<Summary.Figure>> => {
  if (!context.wanted(spec.name)) return []
  try {
    const runs = await alternate(context, spec.name, ["ours", "raw"], async (side, round) => {
      const directory = mkdtempSync(join(tmpdir(), "socket-to-me-bench-"))
      try {
        const server = side === "ours"
          ? await Processes.startServer("ours", "packages/apps/src/bin.ts", ["files", "serve", "--port", "0", "--dir", directory], {
            nodeFlags: context.settings.profile ? ["--cpu-prof", "--cpu-prof-dir", "bench/results/profiles"] : []
          })
          : await Processes.startServer("raw", "bench/servers/raw-files.ts", [directory, "0"], {
            nodeFlags: context.settings.profile ? ["--cpu-prof", "--cpu-prof-dir", "bench/results/profiles"] : []
          })
        try {
          const result = await context.client.request<{ bytes: number; seconds: number; usage: Proc.Usage }>({
            cmd: "upload",
            port: server.port,
            serverPid: server.pid,
            protocol: side === "ours" ? "files" : "raw",
            bytes,
            name: `bench-${round}.bin`
          }, 600_000)
          const memory = Proc.processMemory(server.pid)
          return {
            value: result.bytes / result.seconds / 1e6,
            seconds: result.seconds,
            usage: result.usage,
            extra: { peakRssBytes: memory?.peakRss ?? Number.NaN }
          }
        } finally {
          await server.stop()
        }
      } finally {
        rmSync(directory, { recursive: true, force: true })
      }
    })
    return [Summary.summarize(spec, runs)]
  } catch (error) {
    context.log(`${spec.name}: failed: ${(error as Error).message}`)
    return [Summary.unavailable(spec, `failed: ${(error as Error).message.split("\n")[0]}`)]
  }
}
