/**
 * At debug level a connection logs its state changes (PROXY header read,
 * TLS handshake done, aborted by its app), each line with the connection's
 * id; below it, none of them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Bytes from "@socket-to-me/testkit/Bytes"
import * as MemorySocket from "@socket-to-me/testkit/MemorySocket"
import { tls } from "@socket-to-me/testkit/TcpTransport"
import * as TestPeer from "@socket-to-me/testkit/TestPeer"
import * as TestTransport from "@socket-to-me/testkit/TestTransport"
import * as TlsCertificates from "@socket-to-me/testkit/TlsCertificates"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import * as Connection from "../src/Connection.ts"
import * as ConnectionError from "../src/ConnectionError.ts"
import * as ProxyProtocol from "../src/ProxyProtocol.ts"

interface Line {
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

// Records every line from `level` up, with its annotations.
const capturing = (level: LogLevel.LogLevel) => {
  const lines: Array<Line> = []
  const logger = Logger.make<unknown, void>(({ fiber, message }) => {
    lines.push({
      message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
    })
  })
  const provide = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    self.pipe(
      Effect.provideService(Logger.CurrentLoggers, new Set([logger])),
      Effect.provideService(References.MinimumLogLevel, level)
    )
  return { lines, provide }
}

const echo: Connection.Handler = (input) => input

const awaitExits = (server: TestTransport.TestServer, count: number) =>
  Effect.suspend(() => server.exits.length >= count ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.eventually,
    Effect.timeout("10 seconds"),
    Effect.orDie
  )

describe("debug lines of a connection", () => {
  it.live("a PROXY header read is logged with the addresses it gave and the connection's id", () => {
    const logs = capturing("Debug")
    return Effect.gen(function*() {
      const server = yield* TestTransport.serve(TestTransport.withProxyProtocol(TestTransport.memory), echo)
      yield* Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestPeer.connect(server)
        const header = ProxyProtocol.encodeV1({
          _tag: "Proxied",
          version: 1,
          family: "TCP4",
          source: { host: "203.0.113.7", port: 51000 },
          destination: { host: "192.0.2.1", port: 7001 }
        })
        yield* peer.send(Bytes.concat([header, Bytes.encode("hi\n")]))
        assert.strictEqual(yield* peer.readLine, "hi")
        yield* peer.end
        yield* peer.readToEnd
      }))
      yield* awaitExits(server, 1)
      const read = logs.lines.find((line) => line.message === "PROXY header read")
      assert.isDefined(read)
      assert.deepInclude(read!.annotations, { connection: 1, peer: "203.0.113.7:51000", local: "192.0.2.1:7001" })
      const opened = logs.lines.find((line) => line.message === "connection opened")
      assert.deepInclude(opened!.annotations, { connection: 1, peer: "203.0.113.7:51000" })
    }).pipe(logs.provide)
  })

  // Where `openssl` can make the certificates, as every TLS test.
  for (const transport of TlsCertificates.available ? [tls] : []) {
  it.live("a TLS handshake done is logged with the protocol and the connection's id", () => {
    const logs = capturing("Debug")
    return Effect.gen(function*() {
      const server = yield* TestTransport.serve(transport, echo)
      yield* Effect.scoped(Effect.gen(function*() {
        const peer = yield* TestPeer.connect(server)
        yield* peer.send("hi\n")
        assert.strictEqual(yield* peer.readLine, "hi")
        yield* peer.end
        yield* peer.readToEnd
      }))
      yield* awaitExits(server, 1)
      const done = logs.lines.find((line) => line.message === "TLS handshake done")
      assert.isDefined(done)
      assert.strictEqual(done!.annotations["connection"], 1)
      assert.match(String(done!.annotations["protocol"]), /^TLSv1\.[23]$/)
    }).pipe(logs.provide)
  })
  }

  it.effect("an app's abort is logged with its reason and the connection's id; at info level it is not", () =>
    Effect.gen(function*() {
      const aborting: Connection.Handler = (_, info) =>
        Stream.fromEffect(info.abort(new ConnectionError.SlowConsumer({ capacity: 8 }))).pipe(Stream.drain)
      for (const level of ["Debug", "Info"] as const) {
        const logs = capturing(level)
        const { server } = yield* MemorySocket.pair()
        const reason = yield* Connection.run(server, 3, aborting).pipe(logs.provide)
        assert.strictEqual(reason._tag, "SlowConsumer")
        const aborted = logs.lines.filter((line) => line.message.startsWith("connection aborted: "))
        if (level === "Info") {
          assert.lengthOf(aborted, 0)
          continue
        }
        assert.lengthOf(aborted, 1)
        assert.deepInclude(aborted[0]!.annotations, { connection: 3, reason: "SlowConsumer" })
      }
    }))
})
