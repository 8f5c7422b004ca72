/**
 * Real tools as peers, for the tests of the listener features against what
 * production runs in front of or against our servers: HAProxy (PROXY
 * protocol), `openssl s_client` and Python's `ssl` module (TLS). Which of
 * them this machine has, and processes started for the life of a scope
 * (stopped with their process group) once they accept connections; free
 * ports, temporary folders and tool runs come from the testkit's `Spawned`.
 *
 * Without a tool, the tests that need it skip themselves with the reason
 * (`skipIfMissing`), and `npm test` says what to install; `.ci/run`
 * installs them, so CI never skips them.
 */
import { it } from "@effect/vitest"
import * as NodeTransport from "@socket-to-me/node/NodeTransport"
import * as NodeHandles from "@socket-to-me/testkit/NodeHandles"
import * as Spawned from "@socket-to-me/testkit/Spawned"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"

/** The tools, how to find each one, and its Debian package. */
export const tools = {
  haproxy: { candidates: ["haproxy", "/usr/sbin/haproxy"], args: ["-v"], package: "haproxy" },
  openssl: { candidates: ["openssl"], args: ["version"], package: "openssl" },
  python3: { candidates: ["python3"], args: ["-c", "import ssl"], package: "python3" }
} as const

/** A tool's name. */
export type Tool = keyof typeof tools

const found = new Map<Tool, string | undefined>()

/** The command that runs `tool` here, or `undefined` when it is missing. */
export const which = (tool: Tool): string | undefined => {
  if (!found.has(tool)) {
    const { args, candidates } = tools[tool]
    found.set(
      tool,
      candidates.find((command) => ChildProcess.spawnSync(command, args, { stdio: "ignore", timeout: 10_000 }).status === 0)
    )
  }
  return found.get(tool)
}

/** The tools among `needed` that are missing. */
export const missing = (...needed: ReadonlyArray<Tool>): ReadonlyArray<Tool> => needed.filter((tool) => which(tool) === undefined)

/** A started process and what it printed so far. */
export interface Started {
  readonly child: ChildProcess.ChildProcess
  readonly output: () => string
}

/**
 * Starts `command` in its own process group; ready once `ready` succeeds
 * (tried at once, then after each event-loop turn, at most 2,000 times;
 * the process exiting first fails it). Closing the scope sends SIGTERM to
 * the group, then SIGKILL after 5 seconds.
 */
export const start = <E>(
  command: string,
  args: ReadonlyArray<string>,
  ready: Effect.Effect<boolean, E>,
  options: { readonly cwd?: string } = {}
) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const child = ChildProcess.spawn(command, args, { cwd: options.cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      let exited: number | null | undefined
      child.stdout!.on("data", (chunk) => (output += chunk))
      child.stderr!.on("data", (chunk) => (output += chunk))
      child.on("exit", (code) => (exited = code ?? -1))
      child.on("error", (error) => (output += String(error), exited = -1))
      const started: Started = { child, output: () => output }
      for (let attempt = 0; attempt < 2_000; attempt++) {
        if (exited !== undefined) return yield* Effect.fail(new Error(`${command} exited (${exited}):\n${output}`))
        if (yield* Effect.orElseSucceed(ready, () => false)) return started
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      }
      return yield* Effect.fail(new Error(`${command} not ready:\n${output}`))
    }),
    ({ child }) =>
      Effect.callback<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        const group = -child.pid!
        const signal = (name: NodeJS.Signals) => {
          try {
            process.kill(group, name)
          } catch {
            // the group is gone already
          }
        }
        const killer = setTimeout(() => signal("SIGKILL"), 5_000)
        child.once("exit", () => (clearTimeout(killer), resume(Effect.void)))
        signal("SIGTERM")
      })
  )

/** Whether something accepts TCP connections on 127.0.0.1:`port` (the connection is closed at once). */
export const accepts = (port: number) =>
  Effect.callback<boolean>((resume) => {
    const conn = Net.connect({ host: "127.0.0.1", port })
    conn.once("connect", () => (conn.destroy(), resume(Effect.succeed(true))))
    conn.once("error", () => (conn.destroy(), resume(Effect.succeed(false))))
  })

/**
 * Real loopback TCP with a real HAProxy in front, as a `TestTransport`:
 * `listen` binds our listener with the PROXY protocol on (as `--proxy-protocol`
 * does), starts HAProxy on a free port forwarding to it with `send-proxy`
 * (v1) or `send-proxy-v2`, and dials HAProxy. `frontend` is HAProxy's
 * port: what a header names as the destination. Needs `haproxy`.
 */
export const behindHaproxy = (mode: "send-proxy" | "send-proxy-v2") => {
  const ports = { frontend: 0 }
  const transport: TestTransport.TestTransport = {
    name: `tcp behind haproxy (${mode})`,
    listen: Effect.gen(function*() {
      const socketServer = yield* Effect.orDie(
        NodeTransport.makeServer({ host: "127.0.0.1", port: 0 }, { proxyProtocol: true })
      )
      const backend = socketServer.address._tag === "UnixPathAddress" ? 0 : socketServer.address.port
      const frontend = yield* Effect.orDie(Spawned.freePort)
      const probe = yield* Effect.orDie(Spawned.freePort)
      ports.frontend = frontend
      const dir = yield* Spawned.tempDir("socket-to-me-haproxy-")
      const config = Path.join(dir, "haproxy.cfg")
      Fs.writeFileSync(
        config,
        [
          "global",
          "  maxconn 256",
          "defaults",
          "  mode tcp",
          "  timeout connect 5s",
          "  timeout client 30s",
          "  timeout server 30s",
          // Accepts only to say it is up: every frontend is bound by then.
          "frontend probe",
          `  bind 127.0.0.1:${probe}`,
          "  tcp-request connection reject",
          "frontend front",
          `  bind 127.0.0.1:${frontend}`,
          "  default_backend ours",
          "backend ours",
          `  server ours 127.0.0.1:${backend} ${mode}`,
          ""
        ].join("\n")
      )
      yield* Effect.orDie(start(which("haproxy")!, ["-db", "-f", config], accepts(probe), { cwd: dir }))
      // Taken once HAProxy is up: what must come back to it is every
      // connection's socket, ours and the dialer's.
      const baseline = NodeHandles.handleBaseline()
      return {
        socketServer,
        dial: NodeTransport.dial({ host: "127.0.0.1", port: frontend }),
        assertNoLeaks: NodeHandles.assertHandlesBackToBaseline(baseline)
      }
    })
  }
  return { transport, ports }
}

/**
 * `it.live` for a test that needs `needed`; where one is missing, the test
 * is skipped with the reason (vitest counts and lists it, and `npm test`
 * prints what to install).
 */
export const liveWith = (...needed: ReadonlyArray<Tool>) => {
  const absent = missing(...needed)
  return <A, E>(name: string, body: () => Effect.Effect<A, E, Scope.Scope>, timeout?: number): void => {
    if (absent.length === 0) it.live(name, () => Effect.scoped(body()), timeout)
    else it(name, (ctx) => ctx.skip(`needs ${absent.join(", ")}`))
  }
}

/** One step of a conversation with a tool: bytes to send it, then what its stdout must come to show. */
export interface Step {
  readonly send?: string | Uint8Array
  readonly expect?: RegExp
}

/**
 * Runs `command` as a conversation: each step's bytes go to its stdin, and
 * the next step waits until its stdout (read as latin1, so binary replies
 * can be searched) matches the step's `expect`. After the last step its
 * stdin is closed and it runs to its end; killed after `killAfter` ms
 * (default 20 s), with what it printed so far.
 */
export const converse = (
  command: string,
  args: ReadonlyArray<string>,
  steps: ReadonlyArray<Step>,
  options: { readonly killAfter?: number } = {}
) =>
  Effect.callback<Spawned.Ran>((resume) => {
    const child = ChildProcess.spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let at = 0
    const advance = () => {
      while (at < steps.length) {
        const step = steps[at]!
        if (step.expect !== undefined && !step.expect.test(stdout)) return
        at++
        const next = steps[at]
        if (next?.send !== undefined) child.stdin.write(next.send)
      }
      child.stdin.end()
    }
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("latin1")
      advance()
    })
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.stdin.on("error", () => {})
    const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfter ?? 20_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    if (steps[0]?.send !== undefined) child.stdin.write(steps[0].send)
    advance()
    return Effect.sync(() => child.kill("SIGKILL"))
  })
