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

/** The repo's root, where `npx socket-to-me` finds the workspace's command. */
export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))

/** How a child starts the CLI: a command and its first arguments, before the CLI's own. */
export type Entry = readonly [command: string, ...args: Array<string>]

/** The CLI's entry module under this Node (the default). */
export const source: Entry = [process.execPath, bin]

/** The `socket-to-me` command itself (bin/socket-to-me.mjs, what npm links), under this Node. */
export const launcher: Entry = [process.execPath, fileURLToPath(new URL("../../bin/socket-to-me.mjs", import.meta.url))]

/** `npx socket-to-me`, as a user types it in the repo (run it with `cwd: repoRoot`). */
export const npx: Entry = ["npx", "socket-to-me"]

/**
 * `launcher` under a wrapper that passes SIGINT and SIGTERM on to it, as npm
 * does to the command it runs.
 */
export const forwarded: Entry = [
  process.execPath,
  fileURLToPath(new URL("./forward.mjs", import.meta.url)),
  ...launcher
]

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
  /**
   * Settles when stdout and stderr are closed: every process that holds them
   * (the child and anything it started) has exited.
   */
  readonly closed: Promise<void>
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
  /** Variables added to the environment. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** How to start the CLI. Default `source`. */
  readonly entry?: Entry | undefined
  /**
   * Start it as the leader of a new process group, which is what a
   * terminal signals on Ctrl-C (`signalGroup`); the hard kill then kills
   * the whole group, and stays armed after `start` resolves. Default false.
   */
  readonly detached?: boolean | undefined
  /**
   * Keep the hard kill armed after `start` resolves, so that a test that
   * fails before stopping its server does not leave it running. Default
   * false (true when `detached`).
   */
  readonly keepTimer?: boolean | undefined
}

// Starts `socket-to-me ARGS`, collects its output and arms the hard timer
// (which `start` disarms once the server listens).
const launch = (args: ReadonlyArray<string>, options: Options) => {
  const [command, ...entryArgs] = options.entry ?? source
  const child = ChildProcess.spawn(command, [...entryArgs, ...args], {
    cwd: options.cwd,
    env: options.env === undefined ? process.env : { ...process.env, ...options.env },
    detached: options.detached === true,
    stdio: [options.input === undefined && options.openStdin !== true ? "ignore" : "pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk) => (stdout += chunk))
  child.stderr!.on("data", (chunk) => (stderr += chunk))
  const closed = Promise.all([
    new Promise<void>((resolve) => child.stdout!.once("close", () => resolve())),
    new Promise<void>((resolve) => child.stderr!.once("close", () => resolve()))
  ]).then(() => undefined)
  const timer = setTimeout(() => {
    if (options.detached === true) killGroup(child)
    else child.kill("SIGKILL")
  }, options.killAfter ?? defaultKillAfter)
  const exited = new Promise<Result>((resolve) =>
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, at: performance.now(), stdout, stderr })
    })
  )
  if (options.input !== undefined) child.stdin!.end(options.input)
  const cli: Process = { child, stdout: () => stdout, stderr: () => stderr, exited, closed }
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
        // A group is the test's to clean up, which an assertion failing
        // mid-test may skip: its timer stays armed.
        if (options.detached !== true && options.keepTimer !== true) clearTimeout(timer)
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

/**
 * Sends `signal` to the process group that `cli` leads (it must have been
 * started `detached`), as a terminal does on Ctrl-C (SIGINT) for its
 * foreground group.
 */
export const signalGroup = (cli: Process, signal: NodeJS.Signals): void => {
  process.kill(-cli.child.pid!, signal)
}

// SIGKILL to the group, if any of it is left.
const killGroup = (child: ChildProcess.ChildProcess) => {
  try {
    process.kill(-child.pid!, "SIGKILL")
  } catch {
    // The group is already empty.
  }
}

/** SIGKILL to whatever is left of the group `cli` leads (started `detached`): for a test's cleanup. */
export const killGroupOf = (cli: Process): void => killGroup(cli.child)

/**
 * Resolves with the match once `cli`'s stdout (or stderr) matches `pattern`;
 * rejects if its output closes first.
 */
export const output = (cli: Process, pattern: RegExp, stream: "stdout" | "stderr" = "stdout"): Promise<RegExpExecArray> =>
  new Promise((resolve, reject) => {
    const text = stream === "stdout" ? cli.stdout : cli.stderr
    const pipe = stream === "stdout" ? cli.child.stdout! : cli.child.stderr!
    const check = () => {
      const match = pattern.exec(text())
      if (match === null) return false
      pipe.off("data", onData)
      pipe.off("close", onClose)
      resolve(match)
      return true
    }
    const onData = () => void check()
    const onClose = () => {
      if (!check()) reject(new Error(`${stream} closed without matching ${pattern}:\n${cli.stdout()}\n${cli.stderr()}`))
    }
    if (check()) return
    pipe.on("data", onData)
    pipe.once("close", onClose)
  })
