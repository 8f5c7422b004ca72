/**
 * Real processes and real sockets for the tests against redis-server: the
 * tools on PATH, free loopback ports, servers started in temporary folders
 * for the life of a scope (stopped with their whole process group), tools
 * run to their end under a hard timer, and raw TCP exchanges that wait for
 * what they expect (a reply, or the close) rather than for time.
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Resp from "./Resp.ts"

/** The redis tools the tests use, and the Debian package of each. */
export const tools = { "redis-server": "redis-server", "redis-cli": "redis-tools", "redis-benchmark": "redis-tools" }

/** The tools missing from PATH. */
export const missing: ReadonlyArray<keyof typeof tools> = (Object.keys(tools) as Array<keyof typeof tools>).filter(
  (tool) => ChildProcess.spawnSync(tool, ["--version"], { stdio: "ignore" }).error !== undefined
)

/** A port nothing listens on now, on 127.0.0.1. */
export const freePort = Effect.callback<number, Error>((resume) => {
  const server = Net.createServer()
  server.on("error", (error) => resume(Effect.fail(error)))
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A temporary folder, removed with the scope. */
export const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), prefix))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** A started process: its output so far, and a wait for more. */
export interface Started {
  readonly child: ChildProcess.ChildProcess
  /** The match of the `ready` pattern. */
  readonly match: RegExpExecArray
  /** Everything it printed so far, stdout and stderr. */
  readonly output: () => string
  /** Waits until its output matches `pattern` (checked at once, then on each new output); fails after 20 s. */
  readonly waitFor: (pattern: RegExp) => Effect.Effect<void, Error>
}

/**
 * Starts `command` in its own process group and waits until its output
 * matches `ready`. Closing the scope sends SIGTERM to the group, then
 * SIGKILL if it has not exited within 10 seconds.
 */
export const start = (command: string, args: ReadonlyArray<string>, options: { readonly cwd: string; readonly ready: RegExp }) =>
  Effect.acquireRelease(
    Effect.callback<Started & { readonly exited: Promise<number | null> }, Error>((resume) => {
      const child = ChildProcess.spawn(command, args, { cwd: options.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      const listeners = new Set<() => void>()
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve))
      const waitFor = (pattern: RegExp) =>
        Effect.callback<void, Error>((resumeWait) => {
          const check = () => {
            if (!pattern.test(output)) return
            done()
            resumeWait(Effect.void)
          }
          const timer = setTimeout(() => {
            done()
            resumeWait(Effect.fail(new Error(`${command} printed no ${pattern} in 20 s:\n${output}`)))
          }, 20_000)
          const done = () => (clearTimeout(timer), listeners.delete(check))
          listeners.add(check)
          check()
          return Effect.sync(done)
        })
      const timer = setTimeout(() => resume(Effect.fail(new Error(`${command} not ready in 30 s:\n${output}`))), 30_000)
      let started = false
      const onData = (chunk: Buffer) => {
        output += chunk
        for (const listener of [...listeners]) listener()
        const match = started ? null : options.ready.exec(output)
        if (match !== null) {
          started = true
          clearTimeout(timer)
          resume(Effect.succeed({ child, match, output: () => output, waitFor, exited }))
        }
      }
      child.stdout!.on("data", onData)
      child.stderr!.on("data", onData)
      child.on("error", (error) => (clearTimeout(timer), resume(Effect.fail(error))))
      void exited.then((code) => (clearTimeout(timer), resume(Effect.fail(new Error(`${command} exited (${code}):\n${output}`)))))
    }),
    ({ child, exited }) =>
      Effect.promise(async () => {
        const group = -child.pid!
        const signal = (name: NodeJS.Signals) => {
          try {
            process.kill(group, name)
          } catch (_error) {
            // the group is gone already
          }
        }
        signal("SIGTERM")
        const killer = setTimeout(() => signal("SIGKILL"), 10_000)
        await exited
        clearTimeout(killer)
      })
  )

/** How a tool run ended. */
export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `command` to its end (killed after `killAfter` ms), with `input` on its stdin. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly input?: string; readonly killAfter?: number; readonly cwd?: string } = {}
) =>
  Effect.callback<Ran>((resume) => {
    const child = ChildProcess.spawn(command, args, { cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfter ?? 60_000)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    child.stdin.end(options.input ?? "")
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** What one raw exchange received, as text, and whether the server closed. */
export interface Exchanged {
  readonly received: string
  readonly closed: boolean
}

/**
 * Sends `input` on a new connection to `port` and reads until `done` says
 * the reply is complete, or the server closes (an error after a reset
 * counts as the close). Fails after 20 seconds without either.
 */
export const exchange = (port: number, input: string, done: (received: string) => boolean = () => false) =>
  Effect.callback<Exchanged, Error>((resume) => {
    let received = ""
    const socket = Net.createConnection({ host: "127.0.0.1", port }, () => socket.write(Resp.bytes(input)))
    const finish = (closed: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed({ received, closed }))
    }
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new Error(`no complete reply from port ${port} in 20 s; received ${JSON.stringify(received)}`)))
    }, 20_000)
    socket.on("data", (chunk) => {
      received += Resp.text(chunk)
      if (done(received)) finish(false)
    })
    socket.on("end", () => finish(true))
    socket.on("error", () => finish(true))
    return Effect.sync(() => (clearTimeout(timer), socket.destroy()))
  })

/**
 * Writes `chunk` to a new connection to `port` over and over (waiting for
 * the socket to drain) until the server closes it or `maxBytes` were
 * written; how many bytes were written and what came back.
 */
export const flood = (port: number, head: string, chunk: Uint8Array, maxBytes: number) =>
  Effect.callback<{ readonly written: number; readonly closed: boolean; readonly received: string }, Error>((resume) => {
    let written = 0
    let received = ""
    let ended = false
    const socket = Net.createConnection({ host: "127.0.0.1", port })
    const finish = (closed: boolean) => {
      if (ended) return
      ended = true
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed({ written, closed, received }))
    }
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new Error(`flood of port ${port} neither closed nor finished in 60 s`)))
    }, 60_000)
    const pump = () => {
      while (!ended && written < maxBytes) {
        written += chunk.length
        if (!socket.write(chunk)) return socket.once("drain", pump)
      }
      if (written >= maxBytes) finish(false)
    }
    socket.on("connect", () => {
      socket.write(Resp.bytes(head))
      pump()
    })
    socket.on("data", (data) => (received += Resp.text(data)))
    socket.on("end", () => finish(true))
    socket.on("close", () => finish(true))
    socket.on("error", () => finish(true))
    return Effect.sync(() => (clearTimeout(timer), socket.destroy()))
  })
