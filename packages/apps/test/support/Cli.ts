/**
 * The CLI as a child process, for the tests that drive `socket-to-me` the
 * way a user does: run a command to its exit, start a server and wait for
 * its `listening on` line, stop it with a signal and read its exit code.
 *
 * Every child runs under the project's Node with a hard timer (SIGKILL), so
 * a hung CLI fails its test instead of hanging the suite.
 */
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../../src/bin.ts", import.meta.url))

// How long a child may run (or take to start listening) before it is killed.
const defaultKillAfter = 20_000

/** How a child process ended and what it printed. */
export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** `performance.now()` when the process exited. */
  readonly at: number
  readonly stdout: string
  readonly stderr: string
}

/** A running child: its output so far, and its end. */
export interface Process {
  readonly child: ChildProcess.ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Settles when the process exits, however it ends. */
  readonly exited: Promise<Result>
}

/** Options of `spawn`, `run` and `start`. */
export interface Options {
  readonly cwd?: string | undefined
  /** Written to stdin, which is then closed. Without it, stdin is not connected (unless `openStdin`). */
  readonly input?: string | undefined
  /** Connects stdin as a pipe left open (write to `child.stdin`), for a command that must not see its input end. */
  readonly openStdin?: boolean | undefined
  /** Milliseconds before the hard kill. Default `defaultKillAfter`. */
  readonly killAfter?: number | undefined
}

// Starts `socket-to-me ARGS`, collects its output and arms the hard timer
// (which `start` disarms once the server listens).
const launch = (args: ReadonlyArray<string>, options: Options) => {
  const child = ChildProcess.spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd,
    stdio: [options.input === undefined && options.openStdin !== true ? "ignore" : "pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk) => (stdout += chunk))
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfter ?? defaultKillAfter)
  const exited = new Promise<Result>((resolve) =>
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, at: performance.now(), stdout, stderr })
    })
  )
  if (options.input !== undefined) child.stdin!.end(options.input)
  const cli: Process = { child, stdout: () => stdout, stderr: () => stderr, exited }
  return { cli, timer }
}

/** Starts `socket-to-me ARGS`; it is killed by the hard timer if it has not exited by then. */
export const spawn = (args: ReadonlyArray<string>, options: Options = {}): Process => launch(args, options).cli

/** Runs `socket-to-me ARGS` to its exit (or to the hard kill). */
export const run = (args: ReadonlyArray<string>, options: Options = {}): Promise<Result> => spawn(args, options).exited

/** A server started by `start`, with the match of its listening line. */
export interface Server extends Process {
  readonly listening: RegExpExecArray
}

/**
 * Starts a long-running command and resolves once its stdout matches
 * `listening` (its `listening on` line); from then on it runs until stopped.
 * Rejects if it exits first, including by the hard timer.
 */
export const start = (args: ReadonlyArray<string>, listening: RegExp, options: Options = {}): Promise<Server> =>
  new Promise((resolve, reject) => {
    const { cli, timer } = launch(args, options)
    cli.child.stdout!.on("data", () => {
      const match = listening.exec(cli.stdout())
      if (match !== null) {
        clearTimeout(timer)
        resolve({ ...cli, listening: match })
      }
    })
    cli.child.once("error", reject)
    void cli.exited.then(({ code, signal }) =>
      reject(new Error(`the CLI exited (${code ?? signal}) before listening:\n${cli.stdout()}\n${cli.stderr()}`))
    )
  })

/** Sends `signal` (default SIGTERM) and resolves with the exit code. */
export const stop = (cli: Process, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
  cli.child.kill(signal)
  return cli.exited.then((result) => result.code)
}
