/**
 * The transport contract as cases: what every transport core runs over must
 * do, checked the same way over each. The memory network and the product's
 * Node TCP socket both pass it (`TcpTransport.all`); a transport of your
 * own passes it before core runs on it.
 *
 * Stage: transport (tests only). A case binds a listener of a
 * `TestTransport`, serves a small handler of its own on the listener's
 * `SocketServer`, dials it, and checks what each side sees: effect's
 * `Socket` contract (end of input is a `SocketCloseError` 1000 after every
 * byte; releasing the writer half-closes; releasing the reader fails a
 * pending pull with 1006) and what the transport declares to core
 * (`Transport.Capabilities`: its `failure` reasons, its direct writer). The
 * server side writes with the writer core would use: the declared direct
 * writer, if any, else `Socket.writer`.
 *
 * The cases: ordering of many chunks both ways; pulls that return what is
 * there; end of input; half-close; an orderly `CloseEvent`; releasing a
 * reader on either side; a reset, classified `PeerReset` for the read and
 * the write after it; backpressure both ways (a peer that does not read
 * makes the server's writes wait, a server that does not read makes the
 * peer's wait, each before `maxBufferedBytes`); closing, interrupting or
 * resetting while a write is pending (the write ends, typed, in bounded
 * time); a declared direct writer's `writeNow` and `awaitWritable`. Every
 * case ends with the listener's leak check.
 *
 * A transport under test is a `TestTransport`: `listen` binds a
 * `SocketServer`; `dial`'s sockets connect when their reader is acquired
 * and send a reset (RST) when a `CloseEvent` with a code above 1000 is
 * written (as `Duplex.reset` does); `assertNoLeaks` checks that every
 * socket is gone. A case fails with a `ContractViolation` saying what was
 * expected and what happened; any other failure of the transport is
 * reported as one too.
 *
 * "Waits" is observed, not timed: a write is waiting once it has been
 * pending, with no write completing, for `quietTurns` event-loop turns in a
 * row. A transport that buffers without bound never gets there: its writes
 * keep completing until `maxBufferedBytes` were accepted, and the case
 * fails. Run the cases with real time (`it.live`): `deadline` bounds every
 * wait on the other side, so a hang fails instead of stalling the suite.
 *
 * @example
 * ```ts
 * import { describe, it } from "@effect/vitest"
 * import { TcpTransport, TransportContract } from "@socket-to-me/testkit"
 *
 * // Every case over the memory network and over Node TCP. A transport of
 * // your own goes in the list the same way (a `TestTransport`).
 * describe.each(TcpTransport.all)("the transport contract over $name", (transport) => {
 *   for (const contractCase of TransportContract.cases) {
 *     it.live(contractCase.name, () => contractCase.run(transport))
 *   }
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Transport from "@socket-to-me/core/Transport"
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Predicate from "effect/Predicate"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Bytes from "./Bytes.ts"
import * as TestkitConfig from "./TestkitConfig.ts"
import type * as TestTransport from "./TestTransport.ts"

/**
 * What a case may be told.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Bytes a writer may have had accepted by a peer that reads nothing before its writes wait. Default `TestkitConfig.contractMaxBufferedBytes`. */
  readonly maxBufferedBytes?: number | undefined
  /** How long a case waits for the other side (a whole case: three times that). Default `TestkitConfig.contractDeadline`. */
  readonly deadline?: Duration.Input | undefined
  /** Event-loop turns a write stays pending, with none completing, before it counts as waiting. Default `TestkitConfig.waitingTurns`. */
  readonly quietTurns?: number | undefined
}

/**
 * A transport did not do what the contract says.
 *
 * @since 0.1.0
 * @category errors
 */
export class ContractViolation extends Data.TaggedError("ContractViolation")<{
  readonly transport: string
  readonly case: string
  readonly expected: string
  readonly actual: string
}> {
  override get message(): string {
    return `${this.transport}: ${this.case}: expected ${this.expected}; got ${this.actual}`
  }
}

/**
 * One case of the contract: its name, and how to check it over a transport.
 *
 * @since 0.1.0
 * @category models
 */
export interface Case {
  readonly name: string
  readonly run: (transport: TestTransport.TestTransport, options?: Options) => Effect.Effect<void, ContractViolation>
}

// What a case found wrong, before `run` names the case and the transport.
class Mismatch extends Data.TaggedError("Mismatch")<{ readonly expected: string; readonly actual: string }> {}

// What a case's effects fail with: a mismatch, a socket's error, a dial's `ConnectionError`.
type Failure = { readonly _tag: string; readonly message: string }

type Pull = Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array | string>, Socket.SocketError>

// One turn of Node's event loop, I/O included: what a peer needs to make progress.
const eventLoopTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

interface Resolved {
  readonly maxBufferedBytes: number
  readonly deadline: Duration.Duration
  readonly quietTurns: number
}

const resolve = (options: Options | undefined): Resolved => ({
  maxBufferedBytes: options?.maxBufferedBytes ?? TestkitConfig.contractMaxBufferedBytes,
  deadline: Duration.fromInputUnsafe(options?.deadline ?? TestkitConfig.contractDeadline),
  quietTurns: options?.quietTurns ?? TestkitConfig.waitingTurns
})

const expectSame = (what: string, expected: string, actual: string): Effect.Effect<void, Mismatch> =>
  expected === actual ? Effect.void : Effect.fail(new Mismatch({ expected: `${what}: ${expected}`, actual }))

const expectThat = (expected: string, holds: boolean, actual: string): Effect.Effect<void, Mismatch> =>
  holds ? Effect.void : Effect.fail(new Mismatch({ expected, actual }))

// Reading what a socket says

// How a socket's input ended, in a form cases compare: `close <code>` or the reason's tag.
const describeEnd = (error: Socket.SocketError): string => {
  const reason = error.reason
  return reason._tag === "SocketCloseError" ? `close ${reason.code}` : reason._tag
}

// The reason core reads in a read failure of `socket`, by its transport's declaration.
const readReason = (socket: Socket.Socket, error: Socket.SocketError): string =>
  Transport.readFailure(Transport.capabilities(socket).failure, error)?._tag ?? "an orderly end"

// The reason core reads in a write failure of `socket`.
const writeReason = (socket: Socket.Socket, error: Socket.SocketError): string =>
  Transport.writeFailure(Transport.capabilities(socket).failure, error)._tag

// How a write ended: completed, failed with the reason core reads in it, or neither (a defect, an interruption).
const describeWrite = (socket: Socket.Socket, exit: Exit.Exit<unknown, Socket.SocketError>): string => {
  if (Exit.isSuccess(exit)) return "completed"
  if (Cause.hasInterruptsOnly(exit.cause)) return "interrupted"
  const error = Cause.findErrorOption(exit.cause)
  return error._tag === "Some" && Socket.isSocketError(error.value)
    ? `failed: ${writeReason(socket, error.value)}`
    : `not typed: ${Cause.pretty(exit.cause)}`
}

const typedWrite = (description: string) => description === "completed" || description.startsWith("failed: ")

// Pulls until the input ends; the bytes and how it ended.
const readToEnd = Effect.fnUntraced(function*(pull: Pull) {
  const chunks: Array<Uint8Array> = []
  while (true) {
    const result = yield* Effect.result(pull)
    if (result._tag === "Failure") return { bytes: Bytes.concat(chunks), end: result.failure }
    for (const chunk of result.success) chunks.push(Bytes.from(chunk))
  }
})

// What a pull fails with; a pull that gets bytes instead is a mismatch.
const pullFailure = (pull: Pull): Effect.Effect<Socket.SocketError, Mismatch> =>
  Effect.flatMap(Effect.result(pull), (result) =>
    result._tag === "Failure"
      ? Effect.succeed(result.failure)
      : Effect.fail(new Mismatch({ expected: "the pull to fail", actual: `${Bytes.concat(result.success).byteLength} bytes` })))

const writesToFail = 100

// Writes until a write fails, the reason core reads in that failure. A
// failure may be reported by the next write rather than by the one that
// failed (a direct writer's contract), so a few writes a turn apart are
// allowed before it counts as missing.
const writeUntilFailure = (side: Side): Effect.Effect<string, Mismatch> =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < writesToFail; attempt++) {
      const exit = yield* Effect.exit(side.writer.write("x"))
      if (Exit.isFailure(exit)) return describeWrite(side.socket, exit)
      yield* eventLoopTurn
    }
    return yield* new Mismatch({ expected: "writes to a reset peer to fail", actual: `${writesToFail} writes completed` })
  })

// Pulls until at least `size` bytes arrived.
const readAtLeast = Effect.fnUntraced(function*(pull: Pull, size: number) {
  const chunks: Array<Uint8Array> = []
  let got = 0
  while (got < size) {
    for (const chunk of yield* pull) {
      const bytes = Bytes.from(chunk)
      chunks.push(bytes)
      got += bytes.byteLength
    }
  }
  return Bytes.concat(chunks)
})

// Where two buffers first differ, for a readable mismatch.
const describeBytes = (bytes: Uint8Array, expected: Uint8Array): string => {
  if (Bytes.equals(bytes, expected)) return `${expected.byteLength} bytes, as sent`
  let at = 0
  while (at < bytes.byteLength && at < expected.byteLength && bytes[at] === expected[at]) at++
  return `${bytes.byteLength} bytes of ${expected.byteLength}, first difference at byte ${at}`
}

// Numbered blocks: a stream of any length whose order can be checked

const blockSize = 16 * 1024
const blockBody = Bytes.pattern(blockSize, 7)

// Block `index`: its number (4 bytes, big-endian), then a fixed pattern.
const block = (index: number): Uint8Array => {
  const bytes = blockBody.slice()
  new DataView(bytes.buffer).setUint32(0, index)
  return bytes
}

// Checks that bytes read are blocks 0, 1, 2, ... in order, however cut.
const makeBlockCheck = () => {
  let offset = 0
  let wrong: string | undefined
  const expectedAt = (at: number): number => {
    const within = at % blockSize
    return within < 4 ? (Math.floor(at / blockSize) >>> (8 * (3 - within))) & 0xff : blockBody[within]!
  }
  return {
    add: (chunk: Uint8Array | string) => {
      const bytes = Bytes.from(chunk)
      for (let i = 0; i < bytes.byteLength && wrong === undefined; i++) {
        if (bytes[i] !== expectedAt(offset + i)) wrong = `byte ${offset + i} out of order`
      }
      offset += bytes.byteLength
    },
    describe: () => wrong ?? `${offset} bytes in order`
  }
}

// Reads blocks until the input ends; how many bytes, whether in order, how it ended.
const readBlocks = Effect.fnUntraced(function*(pull: Pull) {
  const check = makeBlockCheck()
  while (true) {
    const result = yield* Effect.result(pull)
    if (result._tag === "Failure") return { seen: check.describe(), end: result.failure }
    for (const chunk of result.success) check.add(chunk)
  }
})

// A writer's progress through a flood of blocks.
interface Progress {
  started: number
  completed: number
  accepted: number
  // Stopped on its own: it was told to, or it got past `maxBufferedBytes`.
  done: boolean
}

const makeProgress = (): Progress => ({ started: 0, completed: 0, accepted: 0, done: false })

// Writes blocks until `stop` is done (checked between writes) or more than
// `limit` bytes were accepted.
const flood = (writer: Socket.Writer, progress: Progress, stop: Deferred.Deferred<void>, limit: number) =>
  Effect.gen(function*() {
    while (!Deferred.isDoneUnsafe(stop) && progress.accepted <= limit) {
      progress.started++
      yield* writer.write(block(progress.started - 1))
      progress.completed++
      progress.accepted += blockSize
    }
    progress.done = true
  })

// Waits until `progress` has a write that stays pending, with none
// completing, for `quietTurns` turns in a row: the writer waits for its peer.
const awaitWaiting = (progress: Progress, options: Resolved, who: string) =>
  Effect.gen(function*() {
    let quiet = 0
    let last = -1
    for (let turn = 0; turn < TestkitConfig.waitingMaxTurns; turn++) {
      if (progress.done) {
        return yield* new Mismatch({
          expected: `${who}'s writes to wait before ${options.maxBufferedBytes} bytes were accepted`,
          actual: `${progress.accepted} bytes accepted without waiting`
        })
      }
      if (progress.started > progress.completed && progress.completed === last) {
        if (++quiet >= options.quietTurns) return progress.accepted
      } else {
        quiet = 0
        last = progress.completed
      }
      yield* eventLoopTurn
    }
    return yield* new Mismatch({
      expected: `${who}'s writes to wait`,
      actual: `writes still completing after ${TestkitConfig.waitingMaxTurns} event-loop turns (${progress.accepted} bytes)`
    })
  })

// Both ends of a connection, as a case uses them

/**
 * One side of a connection: its reader's pull and a writer, each in a scope
 * of its own so that a case can release either early.
 */
interface Side {
  readonly socket: Socket.Socket
  readonly pull: Pull
  readonly writer: Socket.Writer
  /** Releases the writer: a half-close. */
  readonly end: Effect.Effect<void>
  /** Releases the reader. */
  readonly releaseReader: Effect.Effect<void>
}

const openSide = Effect.fnUntraced(function*(
  socket: Socket.Socket,
  writer: Effect.Effect<Socket.Writer, never, Scope.Scope>
) {
  const scope = yield* Effect.scope
  const readScope = yield* Scope.fork(scope)
  const { pull } = yield* Scope.provide(socket.reader, readScope)
  // Forked after the reader's scope, so closed before it: FIN, then release.
  const writeScope = yield* Scope.fork(scope)
  const acquired = yield* Scope.provide(writer, writeScope)
  const side: Side = {
    socket,
    pull,
    writer: acquired,
    end: Scope.close(writeScope, Exit.void),
    releaseReader: Scope.close(readScope, Exit.void)
  }
  return side
})

// The writer core acquires for `socket`: the declared direct writer, or `Socket.writer`.
const coreWriter = (socket: Socket.Socket): Effect.Effect<Socket.Writer, never, Scope.Scope> =>
  Transport.capabilities(socket).directWriter ?? socket.writer

interface CaseContext {
  readonly options: Resolved
  /** Bounds a wait on the other side by the deadline. */
  readonly within: <A, E, R>(what: string, self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | Mismatch, R>
  /**
   * Serves `handler` on the listener: each accepted connection's side (with
   * core's writer) goes to it, and its result to `handled`, in the order
   * handlers end.
   */
  readonly serve: <H>(
    handler: (side: Side) => Effect.Effect<H, Failure, Scope.Scope>
  ) => Effect.Effect<{ readonly handled: Effect.Effect<H, Failure | Mismatch> }, never, Scope.Scope>
  /** A connection to the listener, from the dialing side (with `Socket.writer`). */
  readonly dial: Effect.Effect<Side, Failure, Scope.Scope>
}

const describeFailure = (error: Failure): string =>
  Socket.isSocketError(error)
    ? `${error.reason._tag}: ${error.message}`
    : `${error._tag}: ${error.message}`

const makeCase = (name: string, body: (context: CaseContext) => Effect.Effect<void, Failure, Scope.Scope>): Case => ({
  name,
  run: (transport, options) =>
    Effect.gen(function*() {
      const resolved = resolve(options)
      const violation = (expected: string, actual: string) =>
        new ContractViolation({ transport: transport.name, case: name, expected, actual })
      const bounded = (duration: Duration.Duration) => <A, E, R>(what: string, self: Effect.Effect<A, E, R>) =>
        Effect.timeoutOrElse(self, {
          duration,
          orElse: () => Effect.fail(new Mismatch({ expected: `${what} within ${Duration.format(duration)}`, actual: "still waiting" }))
        })
      const within = bounded(resolved.deadline)
      const scope = yield* Scope.make()
      const listener = yield* Scope.provide(transport.listen, scope)
      const context: CaseContext = {
        options: resolved,
        within,
        serve: <H>(handler: (side: Side) => Effect.Effect<H, Failure, Scope.Scope>) =>
          Effect.gen(function*() {
            const results = yield* Queue.unbounded<Exit.Exit<H, Failure>>()
            yield* Effect.forkScoped(listener.socketServer.run((socket) =>
              Effect.flatMap(
                Effect.exit(Effect.scoped(Effect.flatMap(openSide(socket, coreWriter(socket)), handler))),
                (exit) => Queue.offer(results, exit)
              )
            ))
            // Longer than `within`, so that a wait inside the handler reports first.
            const handled = Effect.flatten(Queue.take(results))
            return { handled: bounded(Duration.times(resolved.deadline, 2))("the server's handler to end", handled) }
          }),
        dial: Effect.flatMap(listener.dial, (socket) => openSide(socket, socket.writer))
      }
      const exit = yield* body(context).pipe(
        (self) => bounded(Duration.times(resolved.deadline, 3))("the case to end", self),
        Effect.exit,
        Scope.provide(scope)
      )
      yield* Scope.close(scope, exit)
      if (Exit.isFailure(exit)) {
        const error = Cause.findErrorOption(exit.cause)
        if (error._tag === "None") return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
        return yield* Predicate.isTagged(error.value, "Mismatch")
          ? violation((error.value as Mismatch).expected, (error.value as Mismatch).actual)
          : violation("no failure", describeFailure(error.value))
      }
      yield* Effect.mapError(listener.assertNoLeaks, (error) => violation("nothing left open", error.message))
    })
})

// The cases

// Echoes everything back; once the input ended, says how, and returns (FIN).
const echo = (side: Side) =>
  Effect.gen(function*() {
    while (true) {
      const result = yield* Effect.result(side.pull)
      if (result._tag === "Failure") return describeEnd(result.failure)
      yield* side.writer.writeAll(result.success)
    }
  })

// Sizes from one byte to past a high-water mark, so chunks are split and coalesced on the way.
const orderingSizes = [1, 7, 100, 1000, 4096, 16 * 1024, 64 * 1024 + 3]

const ordering = makeCase(
  "ordering: many chunks each way arrive complete and in order while both directions are busy",
  ({ dial, serve, within }) =>
    Effect.gen(function*() {
      const server = yield* serve(echo)
      const sizes = Array.from({ length: 300 }, (_, i) => orderingSizes[i % orderingSizes.length]!)
      const payload = Bytes.pattern(sizes.reduce((total, size) => total + size, 0), 3)
      const peer = yield* dial
      // Written while reading, so that both directions wait on each other.
      const writing = yield* Effect.forkChild(Effect.gen(function*() {
        let offset = 0
        for (const size of sizes) {
          yield* peer.writer.write(payload.subarray(offset, offset + size))
          offset += size
        }
        yield* peer.end
      }))
      const reply = yield* within("the echo to end", readToEnd(peer.pull))
      yield* Fiber.join(writing)
      yield* expectSame("what came back", describeBytes(payload, payload), describeBytes(reply.bytes, payload))
      yield* expectSame("the peer's end of input", "close 1000", describeEnd(reply.end))
      yield* expectSame("the server's end of input", "close 1000", yield* server.handled)
    })
)

const available = makeCase(
  "pulls return what has arrived without waiting for more",
  ({ dial, serve, within }) =>
    Effect.gen(function*() {
      // Replies to each 4 bytes; the peer waits for each reply before sending more.
      const server = yield* serve((side) =>
        Effect.gen(function*() {
          while (true) {
            const request = yield* Effect.result(readAtLeast(side.pull, 4))
            if (request._tag === "Failure") return
            yield* side.writer.write(`<${Bytes.decode(request.success)}>`)
          }
        })
      )
      const peer = yield* dial
      const replies: Array<string> = []
      for (const request of ["aaaa", "bbbb", "cccc"]) {
        yield* peer.writer.write(request)
        replies.push(Bytes.decode(yield* within(`the reply to ${request}`, readAtLeast(peer.pull, 6))))
      }
      yield* expectSame("the replies", "<aaaa>,<bbbb>,<cccc>", replies.join(","))
      yield* peer.end
      yield* server.handled
    })
)

const endOfInput = makeCase(
  "end of input: what the server wrote before it returned is read, then an orderly end",
  ({ dial, serve, within }) =>
    Effect.gen(function*() {
      const server = yield* serve((side) =>
        Effect.andThen(side.writer.write("one;"), side.writer.write("two;"))
      )
      const peer = yield* dial
      const reply = yield* within("the server's output and end", readToEnd(peer.pull))
      yield* expectSame("the peer read", "one;two;|close 1000", `${Bytes.decode(reply.bytes)}|${describeEnd(reply.end)}`)
      yield* server.handled
    })
)

const halfClose = makeCase(
  "half-close: the peer ends its writing side; the server reads to the end, still writes, and the peer reads it all",
  ({ dial, serve, within }) =>
    Effect.gen(function*() {
      const server = yield* serve((side) =>
        Effect.gen(function*() {
          yield* side.writer.write("early;")
          const request = yield* readToEnd(side.pull)
          yield* side.writer.write(`got ${Bytes.decode(request.bytes)} then ${describeEnd(request.end)};`)
          // More than a high-water mark after the FIN: the direction is really open.
          yield* side.writer.write(Bytes.pattern(256 * 1024, 5))
          yield* side.writer.write("late;")
        })
      )
      const peer = yield* dial
      yield* peer.writer.write("request")
      yield* peer.end
      const reply = yield* within("the server's output after our FIN", readToEnd(peer.pull))
      const expected = Bytes.concat([
        Bytes.encode("early;got request then close 1000;"),
        Bytes.pattern(256 * 1024, 5),
        Bytes.encode("late;")
      ])
      yield* expectSame("what the peer read", describeBytes(expected, expected), describeBytes(reply.bytes, expected))
      yield* expectSame("the peer's end of input", "close 1000", describeEnd(reply.end))
      yield* server.handled
    })
)

const orderlyCloseEvent = makeCase(
  "a CloseEvent of 1000 closes in order: the server reads the bytes before it, then an orderly end",
  ({ dial, serve, within }) =>
    Effect.gen(function*() {
      const server = yield* serve((side) =>
        Effect.map(readToEnd(side.pull), (input) => `${Bytes.decode(input.bytes)}|${describeEnd(input.end)}`)
      )
      const peer = yield* dial
      yield* peer.writer.write("last words")
      yield* peer.writer.write(new Socket.CloseEvent(1000))
      const own = yield* within("the peer's own pull to end", pullFailure(peer.pull))
      yield* expectSame("the peer's own end of input", "close 1000", describeEnd(own))
      yield* expectSame("what the server read", "last words|close 1000", yield* server.handled)
    })
)

const releaseReaderOfPeer = makeCase(
  "releasing the peer's reader fails its pending pull with close 1006; the server sees an orderly end",
  ({ dial, serve, within }) =>
    Effect.gen(function*() {
      const server = yield* serve((side) =>
        Effect.map(readToEnd(side.pull), (input) => `${Bytes.decode(input.bytes)}|${describeEnd(input.end)}`)
      )
      const peer = yield* dial
      yield* peer.writer.write("bye")
      const pending = yield* Effect.forkChild(pullFailure(peer.pull), { startImmediately: true })
      yield* peer.releaseReader
      const local = yield* within("the pending pull to fail", Fiber.join(pending))
      yield* expectSame("the pending pull", "close 1006", describeEnd(local))
      yield* expectSame("what the server read", "bye|close 1000", yield* server.handled)
    })
)

const releaseReaderOfServer = makeCase(
  "releasing the server's reader fails its pending pull with close 1006; the peer sees an orderly end",
  ({ dial, serve, within }) =>
    Effect.gen(function*() {
      const server = yield* serve((side) =>
        Effect.gen(function*() {
          yield* readAtLeast(side.pull, 5)
          const pending = yield* Effect.forkChild(pullFailure(side.pull), { startImmediately: true })
          yield* side.releaseReader
          return describeEnd(yield* Fiber.join(pending))
        })
      )
      const peer = yield* dial
      yield* peer.writer.write("hello")
      yield* expectSame("the server's pending pull", "close 1006", yield* server.handled)
      const seen = yield* within("the peer's input to end", readToEnd(peer.pull))
      yield* expectSame("the peer's end of input", "close 1000", describeEnd(seen.end))
    })
)

const reset = makeCase(
  "reset: a peer's RST fails the server's pending read, then its writes, each classified PeerReset by the transport",
  ({ dial, serve }) =>
    Effect.gen(function*() {
      const ready = yield* Deferred.make<void>()
      const server = yield* serve((side) =>
        Effect.gen(function*() {
          yield* readAtLeast(side.pull, 5)
          yield* Deferred.succeed(ready, undefined)
          const { end: read } = yield* readToEnd(side.pull)
          // `failure` is pure: the same cause gives the same reason each time.
          const again = readReason(side.socket, read) === readReason(side.socket, read)
          return { read: readReason(side.socket, read), write: yield* writeUntilFailure(side), again }
        })
      )
      const peer = yield* dial
      yield* peer.writer.write("hello")
      yield* Deferred.await(ready)
      yield* peer.writer.write(new Socket.CloseEvent(1006, "reset"))
      const seen = yield* server.handled
      yield* expectSame("the server's read after the reset", "PeerReset", seen.read)
      yield* expectSame("the server's writes after the reset", "failed: PeerReset", seen.write)
      yield* expectThat("the same reason for the same cause", seen.again, "different reasons")
    })
)

const serverWritesWait = makeCase(
  "backpressure: a peer that does not read makes the server's writes wait, bounded; then every byte arrives in order",
  ({ dial, options, serve, within }) =>
    Effect.gen(function*() {
      const progress = makeProgress()
      const stop = yield* Deferred.make<void>()
      const server = yield* serve((side) => flood(side.writer, progress, stop, options.maxBufferedBytes))
      // Connected, and never pulled until the server waits.
      const peer = yield* dial
      yield* awaitWaiting(progress, options, "the server")
      yield* Deferred.succeed(stop, undefined)
      const seen = yield* within("the peer to read everything", readBlocks(peer.pull))
      yield* server.handled
      yield* expectSame("what the peer read", `${progress.accepted} bytes in order`, seen.seen)
      yield* expectSame("the peer's end of input", "close 1000", describeEnd(seen.end))
    })
)

const peerWritesWait = makeCase(
  "backpressure: a server that does not read makes the peer's writes wait, bounded; then every byte arrives in order",
  ({ dial, options, serve, within }) =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const server = yield* serve((side) =>
        Effect.andThen(Deferred.await(gate), Effect.map(readBlocks(side.pull), (seen) => ({ ...seen, end: describeEnd(seen.end) })))
      )
      const peer = yield* dial
      const progress = makeProgress()
      const stop = yield* Deferred.make<void>()
      const writing = yield* Effect.forkChild(flood(peer.writer, progress, stop, options.maxBufferedBytes))
      yield* awaitWaiting(progress, options, "the peer")
      yield* Deferred.succeed(stop, undefined)
      yield* Deferred.succeed(gate, undefined)
      yield* within("the peer's pending write to complete once the server reads", Fiber.join(writing))
      yield* peer.end
      const seen = yield* server.handled
      yield* expectSame("what the server read", `${progress.accepted} bytes in order`, seen.seen)
      yield* expectSame("the server's end of input", "close 1000", seen.end)
      const rest = yield* within("the peer's input to end", readToEnd(peer.pull))
      yield* expectSame("the peer's end of input", "close 1000", describeEnd(rest.end))
    })
)

// A server whose write to a non-reading peer is pending when `act` runs
// (with the server's side, the writing fiber and the peer's side); how
// that write ended. The writer stops after it, whatever `act` did.
const whileServerWrites = (
  context: CaseContext,
  act: (
    server: Side,
    writing: Fiber.Fiber<void, Socket.SocketError>,
    peer: Side
  ) => Effect.Effect<void, Failure>
) =>
  Effect.gen(function*() {
    const { dial, options, serve, within } = context
    const progress = makeProgress()
    const stop = yield* Deferred.make<void>()
    const now = yield* Deferred.make<Side>()
    const server = yield* serve((side) =>
      Effect.gen(function*() {
        const writing = yield* Effect.forkChild(flood(side.writer, progress, stop, options.maxBufferedBytes))
        const peer = yield* Deferred.await(now)
        yield* Deferred.succeed(stop, undefined)
        yield* act(side, writing, peer)
        const exit = yield* within("the pending write to end", Fiber.await(writing))
        return describeWrite(side.socket, exit)
      })
    )
    const peer = yield* dial
    yield* awaitWaiting(progress, options, "the server")
    yield* Deferred.succeed(now, peer)
    const write = yield* server.handled
    return { peer, write }
  })

const serverClosesWhileWriting = makeCase(
  "close while writing: a server that closes its socket (CloseEvent 1000 or 1006) while a write is pending ends that write, typed",
  (context) =>
    Effect.forEach([1000, 1006], (code) =>
      Effect.scoped(Effect.gen(function*() {
        const { peer, write } = yield* whileServerWrites(context, (side) => side.writer.write(new Socket.CloseEvent(code)))
        yield* expectThat(`the pending write to complete or fail typed (CloseEvent ${code})`, typedWrite(write), write)
        // Whatever the peer gets of what was in flight, its input ends.
        yield* context.within("the peer's input to end", readToEnd(peer.pull))
      })), { discard: true })
)

const interruptedWhileWriting = makeCase(
  "close while writing: interrupting a pending write ends it at once; the socket then closes without waiting for the peer",
  (context) =>
    Effect.gen(function*() {
      const { peer, write } = yield* whileServerWrites(context, (side, writing) =>
        Effect.andThen(
          context.within("the interrupted write to end", Fiber.interrupt(writing)),
          // What core does after interrupting a connection: close at once.
          side.writer.write(new Socket.CloseEvent(1000, "aborted"))
        ))
      yield* expectSame("the pending write", "interrupted", write)
      yield* context.within("the peer's input to end", readToEnd(peer.pull))
    })
)

const peerResetsWhileServerWrites = makeCase(
  "close while writing: a peer that resets while the server's write to it is pending fails that write, classified PeerReset",
  (context) =>
    Effect.gen(function*() {
      const { write } = yield* whileServerWrites(
        context,
        (_server, _writing, peer) => peer.writer.write(new Socket.CloseEvent(1006, "reset"))
      )
      yield* expectSame("the server's pending write", "failed: PeerReset", write)
    })
)

const peerClosesWhileWriting = makeCase(
  "close while writing: a peer that resets while its own write to a non-reading server is pending ends that write, typed; the server's writes then fail, classified PeerReset",
  ({ dial, options, serve, within }) =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const server = yield* serve((side) =>
        Effect.gen(function*() {
          yield* Deferred.await(gate)
          const input = yield* readToEnd(side.pull)
          return { read: readReason(side.socket, input.end), write: yield* writeUntilFailure(side) }
        })
      )
      const peer = yield* dial
      const progress = makeProgress()
      const stop = yield* Deferred.make<void>()
      const writing = yield* Effect.forkChild(flood(peer.writer, progress, stop, options.maxBufferedBytes))
      yield* awaitWaiting(progress, options, "the peer")
      yield* peer.writer.write(new Socket.CloseEvent(1006, "reset"))
      const write = describeWrite(peer.socket, yield* within("the peer's pending write to end", Fiber.await(writing)))
      yield* expectThat("the peer's pending write to complete or fail typed", typedWrite(write), write)
      yield* Deferred.succeed(gate, undefined)
      const seen = yield* server.handled
      // Over Linux TCP, libuv reports a reset that arrives behind unread
      // bytes as the end of input (POLLHUP after a partial read): the
      // reset shows in the writes that follow.
      yield* expectThat(
        "the server's input to end with PeerReset or an orderly end",
        seen.read === "PeerReset" || seen.read === "an orderly end",
        seen.read
      )
      yield* expectSame("the server's writes after the reset", "failed: PeerReset", seen.write)
    })
)

const directWriter = makeCase(
  "a declared direct writer: writeNow says when to wait, and awaitWritable completes once the peer took everything",
  ({ dial, options, serve, within }) =>
    Effect.gen(function*() {
      const waited = yield* Deferred.make<number>()
      const server = yield* serve((side) =>
        Effect.gen(function*() {
          const declared = Transport.capabilities(side.socket).directWriter
          if (declared === undefined) return "none declared"
          const direct = yield* declared
          let index = 0
          let accepted = 0
          // Written without an effect until the socket asks to wait.
          while (direct.writeNow([block(index++)])) {
            accepted += blockSize
            if (accepted > options.maxBufferedBytes) return `${accepted} bytes taken without asking to wait`
          }
          yield* Deferred.succeed(waited, (accepted + blockSize) / blockSize)
          yield* direct.awaitWritable
          return "waited"
        })
      )
      const peer = yield* dial
      const outcome = yield* Effect.raceFirst(
        Effect.map(Deferred.await(waited), (blocks) => ({ blocks })),
        Effect.map(server.handled, (handled) => ({ handled }))
      )
      if ("handled" in outcome) {
        if (outcome.handled === "none declared") return
        return yield* new Mismatch({ expected: "writeNow to return false before maxBufferedBytes", actual: outcome.handled })
      }
      const seen = yield* within("the peer to read everything", readBlocks(peer.pull))
      yield* expectSame("awaitWritable", "waited", yield* server.handled)
      yield* expectSame("what the peer read", `${outcome.blocks * blockSize} bytes in order`, seen.seen)
    })
)

/**
 * Every case of the contract, in the order above.
 *
 * @since 0.1.0
 * @category cases
 */
export const cases: ReadonlyArray<Case> = [
  ordering,
  available,
  endOfInput,
  halfClose,
  orderlyCloseEvent,
  releaseReaderOfPeer,
  releaseReaderOfServer,
  reset,
  serverWritesWait,
  peerWritesWait,
  serverClosesWhileWriting,
  interruptedWhileWriting,
  peerResetsWhileServerWrites,
  peerClosesWhileWriting,
  directWriter
]

/**
 * Runs every case over `transport`, one after the other; fails with the
 * first violation. For a runner without one test per case.
 *
 * @since 0.1.0
 * @category cases
 */
export const check = (transport: TestTransport.TestTransport, options?: Options): Effect.Effect<void, ContractViolation> =>
  Effect.forEach(cases, (contractCase) => contractCase.run(transport, options), { discard: true })
