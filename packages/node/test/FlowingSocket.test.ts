/**
 * The flowing-mode socket adapter over real loopback TCP: the contract the
 * rest of the framework reads from a `Socket` (see core's `Duplex` and
 * `Transport`), and the bound on what it holds for a consumer that does
 * not pull.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Transport from "@socket-to-me/core/Transport"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import { randomBytes } from "node:crypto"
import * as Net from "node:net"
import * as FlowingSocket from "../src/FlowingSocket.ts"

// A connected pair on 127.0.0.1: the accepted socket, paused as the
// transport's server accepts it, and the raw client. Both are destroyed
// and the listener closed with the scope.
const pair = Effect.acquireRelease(
  Effect.callback<{ readonly accepted: Net.Socket; readonly client: Net.Socket; readonly server: Net.Server }>(
    (resume) => {
      const server = Net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (accepted) => {
        accepted.on("error", () => {})
        resume(Effect.succeed({ accepted, client, server }))
      })
      let client: Net.Socket
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        client = Net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true })
        client.on("error", () => {})
      })
    }
  ),
  ({ accepted, client, server }) =>
    Effect.callback<void>((resume) => {
      accepted.destroy()
      client.destroy()
      server.close(() => resume(Effect.void))
    })
)

// The direct writer the socket declares (see core's `Transport`).
const directWriterOf = (socket: Socket.Socket) => {
  const acquire = Transport.capabilities(socket).directWriter
  assert.isDefined(acquire, "a flowing socket declares a direct writer")
  return acquire!
}

const concat = (chunks: ReadonlyArray<Uint8Array | string>) => Buffer.concat(chunks.map((chunk) => Buffer.from(chunk)))

// Pulls until the reader fails; returns the bytes and the failure.
const readAll = (pull: Effect.Effect<ReadonlyArray<Uint8Array | string>, Socket.SocketError>) =>
  Effect.gen(function*() {
    const chunks: Array<Uint8Array | string> = []
    while (true) {
      const exit = yield* Effect.exit(pull)
      if (Exit.isFailure(exit)) {
        const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
        return { bytes: concat(chunks), error: (error as { readonly error: Socket.SocketError }).error }
      }
      chunks.push(...exit.value)
    }
  })

// Starts the client reading now, while the server writes; the fiber gives
// everything it received once the server ends its side.
const receiveAll = (client: Net.Socket) =>
  Effect.forkChild(
    Effect.callback<Buffer>((resume) => {
      const received: Array<Buffer> = []
      client.on("data", (chunk: Buffer) => received.push(chunk))
      client.once("end", () => resume(Effect.succeed(Buffer.concat(received))))
    }),
    { startImmediately: true }
  )

const closeCode = (error: Socket.SocketError) =>
  error.reason._tag === "SocketCloseError" ? error.reason.code : error.reason._tag

describe("FlowingSocket", () => {
  it.effect("delivers every byte in order, then an orderly end of stream (code 1000)", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* pair
      const sent = randomBytes(1024 * 1024)
      for (let offset = 0; offset < sent.length; offset += 16 * 1024) client.write(sent.subarray(offset, offset + 16 * 1024))
      client.end()
      const socket = FlowingSocket.fromNetSocket(accepted)
      const reader = yield* socket.reader
      const { bytes, error } = yield* readAll(reader.pull)
      assert.isTrue(bytes.equals(sent), "the bytes arrived intact and in order")
      assert.strictEqual(closeCode(error), 1000)
      assert.isUndefined(Transport.readFailure(Transport.capabilities(socket).failure, error), "an orderly end, not a failure")
    }).pipe(Effect.scoped))

  it.effect("pauses the socket once its high-water mark is queued and nobody pulls", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* pair
      const highWaterMark = 16 * 1024
      const total = 4 * 1024 * 1024
      const sent = randomBytes(total)
      const reader = yield* FlowingSocket.fromNetSocket(accepted, { highWaterMark }).reader
      const paused = Effect.callback<void>((resume) => {
        accepted.once("pause", () => resume(Effect.void))
      })
      client.end(sent)
      yield* paused
      // When it paused, it held at most the mark plus the one read that
      // crossed it (libuv reads at most 64 KiB at a time).
      assert.isAtMost(accepted.bytesRead, highWaterMark + 64 * 1024)
      assert.isBelow(accepted.bytesRead, total)
      const { bytes, error } = yield* readAll(reader.pull)
      assert.isTrue(bytes.equals(sent), "pulling resumed it and every byte arrived")
      assert.strictEqual(closeCode(error), 1000)
    }).pipe(Effect.scoped))

  it.effect("an interrupted pull loses nothing", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* pair
      const reader = yield* FlowingSocket.fromNetSocket(accepted).reader
      const parked = yield* Effect.forkChild(reader.pull, { startImmediately: true })
      yield* Fiber.interrupt(parked)
      client.end("after the interruption")
      const { bytes, error } = yield* readAll(reader.pull)
      assert.strictEqual(bytes.toString(), "after the interruption")
      assert.strictEqual(closeCode(error), 1000)
    }).pipe(Effect.scoped))

  it.effect("closing the reader's scope fails a waiting pull and closes the socket", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* pair
      const scope = yield* Scope.make()
      const reader = yield* Scope.provide(FlowingSocket.fromNetSocket(accepted).reader, scope)
      const parked = yield* Effect.forkChild(Effect.flip(reader.pull), { startImmediately: true })
      const clientSawEnd = Effect.callback<void>((resume) => {
        client.once("end", () => resume(Effect.void))
        client.resume()
      })
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(closeCode(yield* Fiber.join(parked)), 1006)
      yield* clientSawEnd
    }).pipe(Effect.scoped))

  it.effect("a reset by the peer fails the pull as PeerReset", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* pair
      const socket = FlowingSocket.fromNetSocket(accepted)
      const reader = yield* socket.reader
      const parked = yield* Effect.forkChild(Effect.flip(reader.pull), { startImmediately: true })
      client.resetAndDestroy()
      const error = yield* Fiber.join(parked)
      assert.strictEqual(Transport.readFailure(Transport.capabilities(socket).failure, error)?._tag, "PeerReset")
    }).pipe(Effect.scoped))

  it.effect("a write after the peer's reset destroyed the socket fails as PeerReset, with the reset's error", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* pair
      const socket = FlowingSocket.fromNetSocket(accepted)
      const reader = yield* socket.reader
      const writer = yield* directWriterOf(socket)
      const parked = yield* Effect.forkChild(Effect.flip(reader.pull), { startImmediately: true })
      client.resetAndDestroy()
      // The reader saw the reset first, and Node destroyed the socket with it.
      yield* Fiber.join(parked)
      assert.isTrue(accepted.destroyed)
      const failure = Transport.capabilities(socket).failure
      const written = yield* Effect.flip(writer.writeAll([Buffer.from("too late")]))
      assert.strictEqual(Transport.writeFailure(failure, written)._tag, "PeerReset")
      assert.isFalse(writer.writeNow([Buffer.from("too late")]), "a direct write asks to wait")
      const waited = yield* Effect.flip(writer.awaitWritable)
      assert.strictEqual(Transport.writeFailure(failure, waited)._tag, "PeerReset")
    }).pipe(Effect.scoped))

  it.effect("writes in order, waits for drain, and half-closes when the writer is released", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* pair
      const socket = FlowingSocket.fromNetSocket(accepted)
      yield* socket.reader
      const sent = randomBytes(4 * 1024 * 1024)
      const clientGotAll = yield* receiveAll(client)
      yield* Effect.scoped(Effect.gen(function*() {
        const writer = yield* socket.writer
        for (let offset = 0; offset < sent.length; offset += 256 * 1024) {
          yield* writer.writeAll([sent.subarray(offset, offset + 128 * 1024), sent.subarray(offset + 128 * 1024, offset + 256 * 1024)])
        }
      }))
      assert.isTrue((yield* Fiber.join(clientGotAll)).equals(sent), "every byte, in order, then end of stream")
    }).pipe(Effect.scoped))

  it.effect("declares a direct writer: writes without an effect, and says when to wait until the socket takes more", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* pair
      const socket = FlowingSocket.fromNetSocket(accepted)
      yield* socket.reader
      const writer = yield* directWriterOf(socket)
      // More than loopback's socket buffers take while the client is not
      // scheduled, so that the socket must ask to wait at least once.
      const sent = Buffer.alloc(32 * 1024 * 1024, randomBytes(251))
      const clientGotAll = yield* receiveAll(client)
      let waits = 0
      for (let offset = 0; offset < sent.length; offset += 64 * 1024) {
        if (!writer.writeNow([sent.subarray(offset, offset + 64 * 1024)])) {
          waits++
          yield* writer.awaitWritable
        }
      }
      accepted.end()
      assert.isTrue((yield* Fiber.join(clientGotAll)).equals(sent), "every byte, in order")
      assert.isAbove(waits, 0, "32 MiB at once made the socket ask to wait")
    }).pipe(Effect.scoped))
})

describe("FlowingSocket corkReads", () => {
  // What the socket's writes would do when the pull that waited gets its
  // chunk: held (corked) until the end of the tick with corkReads, so that
  // the replies to several reads of one tick leave together; sent at once without.
  const corkedWhenHandedOver = (corkReads: boolean) =>
    Effect.scoped(Effect.gen(function*() {
      const { accepted, client } = yield* pair
      const { pull } = yield* FlowingSocket.fromNetSocket(accepted, { corkReads }).reader
      const waiting = yield* Effect.forkChild(
        Effect.map(pull, () => ({ during: accepted.writableCorked })),
        { startImmediately: true }
      )
      client.write("one read")
      const { during } = yield* Fiber.join(waiting)
      yield* Effect.promise(() => new Promise((resolve) => process.nextTick(resolve)))
      return { during, after: accepted.writableCorked }
    }))

  it.live("with corkReads, writes are held while a read is handed over, and released at the end of the tick", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* corkedWhenHandedOver(true), { during: 1, after: 0 })
      assert.deepStrictEqual(yield* corkedWhenHandedOver(false), { during: 0, after: 0 })
    }))
})
