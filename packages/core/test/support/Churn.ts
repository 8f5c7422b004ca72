/**
 * The churn test body, shared by the memory and TCP files (kept apart so
 * that vitest runs them on two workers at once): 10,000 connect/disconnect
 * cycles, 20 at a time, then no connection fiber, memory socket or TCP
 * handle may be left, the process's file descriptors are back to their count
 * before the cycles, and the heap has grown by no more than what the test
 * itself keeps.
 *
 * The clients are as cheap as each transport allows (Node's `net` over TCP,
 * the bare `Socket` interface over memory), so the time goes to the server,
 * which is what is under test.
 */
import { assert } from "@effect/vitest"
import type * as Connection from "../../src/Connection.ts"
import type * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as Hostile from "./Hostile.ts"

const echo: Connection.Handler = (input) => input

export const cycles = Number(process.env["CHURN_CYCLES"] ?? 10_000)
const concurrency = 20
const warmUp = 200

// Forced garbage collection without a command-line flag: V8 exposes `gc` to
// contexts created after the flag is set. If that ever stops working, the
// heap check is skipped (and the log line says so); the fd and handle checks
// still run.
const gc = ((): (() => void) | undefined => {
  const existing = (globalThis as { gc?: () => void }).gc
  if (typeof existing === "function") return existing
  V8.setFlagsFromString("--expose-gc")
  const exposed: unknown = Vm.runInNewContext("typeof gc === 'function' ? gc : undefined")
  return typeof exposed === "function" ? exposed as () => void : undefined
})()

const heapAfterGc = () => {
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed
}

const openFds = () => Fs.readdirSync("/proc/self/fd").length

// Capturing stack traces is the single biggest cost of a cycle: the
// transports build several errors per connection (end of stream, closed
// pipes) whose stacks nobody reads here. None are captured while the cycles
// run, which keeps 10,000 of them per transport inside the suite's time
// budget; the checks after the cycles run with stack traces as usual.
const withoutStackTraces = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const previous = Error.stackTraceLimit
      Error.stackTraceLimit = 0
      return previous
    }),
    () => self,
    (previous) =>
      Effect.sync(() => {
        Error.stackTraceLimit = previous
      })
  )

const one = new Uint8Array([42])

const badEcho = (bytes: number, end: string) => new Error(`bad echo: ${bytes} bytes, then ${end}`)

// One cycle over TCP with Node's own client: connect, send a byte and FIN,
// read the echo and the server's FIN, close.
const tcpCycle = (port: number) =>
  Effect.callback<void, Error>((resume) => {
    const socket = Net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true })
    let received = 0
    socket.on("connect", () => socket.end(one))
    socket.on("data", (data: Buffer) => {
      received += data.byteLength
    })
    socket.on("end", () => {
      socket.destroy()
      resume(received === 1 ? Effect.void : Effect.fail(badEcho(received, "eof")))
    })
    socket.on("error", (error) => {
      socket.destroy()
      resume(Effect.fail(error))
    })
    return Effect.sync(() => socket.destroy())
  })

// One cycle over memory with the bare socket: the reader connects, the
// writer's release is the FIN, a pull failing with close 1000 is the end.
const memoryCycle = (listener: TestTransport.Listener) =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* Effect.orDie(listener.dial)
    const { pull } = yield* Effect.orDie(socket.reader)
    const writeScope = yield* Scope.fork(yield* Effect.scope)
    const writer = yield* Scope.provide(socket.writer, writeScope)
    yield* Effect.orDie(writer.write(one))
    yield* Scope.close(writeScope, Exit.void)
    let received = 0
    while (true) {
      const result = yield* Effect.result(pull)
      if (result._tag === "Failure") {
        const reason = result.failure.reason
        const end = reason._tag === "SocketCloseError" ? `close ${reason.code}` : reason._tag
        if (received !== 1 || end !== "close 1000") return yield* Effect.fail(badEcho(received, end))
        return
      }
      for (const chunk of result.success) received += typeof chunk === "string" ? chunk.length : chunk.byteLength
    }
  }))

/** The churn test over `transport`; succeeds with a one-line summary of what it measured. */
export const churn = (transport: TestTransport.TestTransport) => {
  // Only warnings and errors are kept: 10,000 "connection closed" lines would
  // be the biggest thing on the heap.
  const logs = Hostile.captureLogs({ keep: (level) => level !== "Info" && level !== "Debug" && level !== "Trace" })
  return Effect.gen(function*() {
    const server = yield* Hostile.serve(transport, echo)
    const address = server.server.address
    const cycle = transport.name === "tcp" && address._tag !== "UnixPathAddress"
      ? tcpCycle(address.port)
      : memoryCycle(server)
    const run = (count: number) =>
      withoutStackTraces(Effect.forEach(Array.from({ length: count }), () => cycle, { concurrency, discard: true }))

    // Warm up first: the first connections allocate things made lazily
    // (Node's pools, JIT code, metric series) that are not leaks.
    yield* run(warmUp)
    yield* server.server.awaitIdle
    yield* server.assertNoLeaks
    const fdsBefore = openFds()
    const heapBefore = heapAfterGc()
    const start = Date.now()
    const cpuStart = process.cpuUsage()

    yield* run(cycles)

    yield* server.server.awaitIdle
    assert.strictEqual(yield* server.server.activeConnections, 0)
    yield* server.assertNoLeaks
    const elapsed = Date.now() - start
    const cpu = process.cpuUsage(cpuStart)
    const fdsAfter = openFds()
    const heapAfter = heapAfterGc()
    const growth = heapAfter - heapBefore
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`
    const summary = `churn over ${transport.name}: ${cycles} cycles in ${elapsed} ms ` +
      `(cpu ${Math.round((cpu.user + cpu.system) / 1000)} ms); fds ${fdsBefore} -> ${fdsAfter}; ` +
      `heap ${mib(heapBefore)} -> ${mib(heapAfter)} (${gc === undefined ? "gc unavailable: not checked" : "after forced gc"})`

    assert.strictEqual(server.exits.length, warmUp + cycles)
    assert.isTrue(server.exits.every((exit) => exit.reason._tag === "PeerClosed"), "every connection ended in order")
    assert.isAtMost(fdsAfter, fdsBefore, "file descriptors back to baseline")
    if (gc !== undefined) {
      // The test keeps two small records per connection (the exit list and the
      // queue of ends), about 2 MiB for 10,000; a leak of even 1 KiB per
      // connection would add 10 MiB.
      assert.isBelow(growth, 8 * 2 ** 20, `heap grew by ${mib(growth)}`)
    }
    assert.lengthOf(logs.lines, 0, "nothing logged above Info")
    return summary
  }).pipe(logs.provide)
}
