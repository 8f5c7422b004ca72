/**
 * Real processes for tests: a command started in its own process group for
 * the life of a scope, ready once its output matches a pattern, with waits
 * on what it prints later (never on time), a kill with any signal (`SIGKILL`
 * for a crash), and a stop of the whole group when the scope closes; a tool
 * run to its end under a hard timer; free ports and temporary folders.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * How long `start` waits for the ready line and `waitFor` for a pattern
 * before failing with what was printed. Generous for a loaded CI machine;
 * a test that needs less should not wait on these anyway.
 *
 * @since 0.1.0
 * @category defaults
 */
export const readyTimeoutMs = 30_000

/**
 * A started process.
 *
 * @since 0.1.0
 * @category models
 */
export interface Process {
  readonly pid: number
  /** The match of the `ready` pattern. */
  readonly match: RegExpExecArray
  /** Everything it printed so far, stdout and stderr. */
  readonly output: () => string
  /** Waits until its output matches `pattern` (checked at once, then on each new output). */
  readonly waitFor: (pattern: RegExp) => Effect.Effect<void, Error>
  /** Sends `signal` to its process group. */
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Waits for it to exit; its exit code, or null after a signal. */
  readonly exited: Effect.Effect<number | null>
}

/**
 * Options of `start`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Ready once stdout or stderr matches this. */
  readonly ready: RegExp
  readonly cwd?: string | undefined
  readonly env?: NodeJS.ProcessEnv | undefined
}

/**
 * Starts `command` in its own process group and waits until its output
 * matches `options.ready` (failing if it exits first, or after
 * `readyTimeoutMs`). Closing the scope sends SIGTERM to the group, then
 * SIGKILL if it has not exited within 10 seconds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (
  command: string,
  args: ReadonlyArray<string>,
  options: Options
): Effect.Effect<Process, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Process & { readonly done: Promise<number | null> }, Error>((resume) => {
      const child = ChildProcess.spawn(command, args, {
        cwd: options.cwd,
        env: options.env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const listeners = new Set<() => void>()
      const done = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      const signal = (name: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, name)
        } catch (_error) {
          // the group is gone already
        }
      }
      const waitFor = (pattern: RegExp) =>
        Effect.callback<void, Error>((resumeWait) => {
          const check = () => {
            if (!pattern.test(output)) return
            stop()
            resumeWait(Effect.void)
          }
          const timer = setTimeout(() => {
            stop()
            resumeWait(Effect.fail(new Error(`${command} printed no ${pattern} in ${readyTimeoutMs} ms:\n${output}`)))
          }, readyTimeoutMs)
          const stop = () => (clearTimeout(timer), listeners.delete(check))
          listeners.add(check)
          check()
          return Effect.sync(stop)
        })
      const timer = setTimeout(
        () => resume(Effect.fail(new Error(`${command} not ready in ${readyTimeoutMs} ms:\n${output}`))),
        readyTimeoutMs
      )
      let started = false
      const onData = (chunk: Buffer) => {
        output += chunk
        for (const listener of [...listeners]) listener()
        const match = started ? null : options.ready.exec(output)
        if (match === null) return
        started = true
        clearTimeout(timer)
        resume(Effect.succeed({
          pid: child.pid!,
          match,
          output: () => output,
          waitFor,
          kill: (name) => Effect.sync(() => signal(name)),
          exited: Effect.promise(() => done),
          done
        }))
      }
      child.stdout!.on("data", onData)
      child.stderr!.on("data", onData)
      child.on("error", (error) => (clearTimeout(timer), resume(Effect.fail(error))))
      void done.then((code) => {
        clearTimeout(timer)
        if (!started) resume(Effect.fail(new Error(`${command} exited (${code}) before it was ready:\n${output}`)))
      })
      return Effect.sync(() => (clearTimeout(timer), signal("SIGKILL")))
    }),
    (started) =>
      Effect.promise(async () => {
        Effect.runSync(started.kill("SIGTERM"))
        const killer = setTimeout(() => Effect.runSync(started.kill("SIGKILL")), 10_000)
        await started.done
        clearTimeout(killer)
      })
  )

/**
 * A TCP port nothing listens on now, on 127.0.0.1.
 *
 * @since 0.1.0
 * @category constructors
 */
export const freePort: Effect.Effect<number, Error> = Effect.callback<number, Error>((resume) => {
  const server = Net.createServer()
  server.on("error", (error) => resume(Effect.fail(error)))
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * Whether `command` can be run (it is on PATH).
 *
 * @since 0.1.0
 * @category constructors
 */
export const isInstalled = (command: string): boolean =>
  ChildProcess.spawnSync(command, ["--version"], { stdio: "ignore" }).error === undefined

/**
 * How a tool run by `run` ended and what it printed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ran {
  /** Its exit code, or null when a signal ended it (the hard timer's `SIGKILL`). */
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `command` to its end with `input` on its stdin (then closed), and
 * gives its exit code and output once its streams are closed. A hard timer
 * kills it after `killAfter` milliseconds (default 20 s); interrupting the
 * run kills it too.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: {
    readonly input?: string | Uint8Array | undefined
    readonly killAfter?: number | undefined
    readonly cwd?: string | undefined
    readonly env?: NodeJS.ProcessEnv | undefined
  } = {}
): Effect.Effect<Ran> =>
  Effect.callback<Ran>((resume) => {
    const child = ChildProcess.spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    // A tool that exits without reading its input must not fail the run.
    child.stdin.on("error", () => {})
    child.on("error", (error) => (stderr += String(error)))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfter ?? 20_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    child.stdin.end(options.input ?? "")
    return Effect.sync(() => (clearTimeout(timer), child.kill("SIGKILL")))
  })

/**
 * A new temporary folder whose name starts with `prefix`, removed with
 * everything in it when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tempDir = (prefix: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
