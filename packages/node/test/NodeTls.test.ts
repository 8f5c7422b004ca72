/**
 * TLS on the Node listener and dialer: files that cannot be used are one
 * line at start; a silent peer is closed at the handshake deadline
 * (`HandshakeTimeout`), a peer that speaks no TLS or presents a refused
 * certificate ends with `HandshakeFailed`, each logged and counted like
 * any exit reason; client certificates asked for or required; our client
 * checks the server's certificate and name and does not retry a refused
 * handshake; and a PROXY header is read before the handshake.
 *
 * Certificates are made with `openssl` (`TlsCertificates`); without it,
 * these tests are skipped.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Client from "@socket-to-me/core/Client"
import * as Connection from "@socket-to-me/core/Connection"
import * as Metrics from "@socket-to-me/core/Metrics"
import * as ProxyProtocol from "@socket-to-me/core/ProxyProtocol"
import * as Server from "@socket-to-me/core/Server"
import * as TlsCertificates from "@socket-to-me/testkit/TlsCertificates"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as SocketServer from "effect/socket/SocketServer"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Tls from "node:tls"
import * as NodeTls from "../src/NodeTls.ts"
import * as NodeTransport from "../src/NodeTransport.ts"

const echo: Connection.Handler = (input) => input

/** A TLS echo server and what ended; `options` are its listener's TLS beyond the certificate. */
const serveTls = Effect.fnUntraced(function*(
  tls: Partial<NodeTls.ServerOptions> = {},
  listen: NodeTransport.ListenOptions = {}
) {
  const certificates = yield* TlsCertificates.get
  const listener = yield* NodeTransport.makeServer({ host: "127.0.0.1", port: 0 }, {
    ...listen,
    tls: { ...certificates.server, ...tls }
  })
  const ended = yield* Queue.unbounded<{ readonly info: Connection.ConnectionInfo; readonly reason: Connection.ExitReason }>()
  const server = yield* Server.make(echo, {
    name: "tls-test",
    onEnd: (info, reason) => Queue.offer(ended, { info, reason })
  }).pipe(Effect.provideService(SocketServer.SocketServer, listener))
  const port = listener.address._tag === "UnixPathAddress" ? 0 : listener.address.port
  return { certificates, port, server, nextEnd: Queue.take(ended) }
})

const closedCount = (reason: string) =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const series = snapshots.find((snapshot) =>
      snapshot.id === Metrics.connectionsClosed.id && snapshot.attributes?.server === "tls-test" &&
      snapshot.attributes?.reason === reason
    )
    return series?.type === "Counter" ? Number(series.state.count) : 0
  })

// A raw TCP client that sends `bytes` (if any) and waits for the server to close.
const rawPeer = (port: number, bytes?: string) =>
  Effect.callback<void, Error>((resume) => {
    const conn = Net.connect({ host: "127.0.0.1", port })
    conn.on("connect", () => bytes !== undefined && conn.write(bytes))
    conn.on("data", () => {})
    conn.on("error", () => {})
    conn.on("close", () => resume(Effect.void))
    return Effect.sync(() => conn.destroy())
  })

// Node's own TLS client, sending `text` and reading until the server closes.
const nodeTlsExchange = (port: number, options: Tls.ConnectionOptions, text = "hello") =>
  Effect.callback<string, Error>((resume) => {
    const conn = Tls.connect({ host: "127.0.0.1", port, ...options }, () => conn.end(text))
    let received = ""
    conn.on("data", (chunk) => (received += chunk))
    conn.on("error", (error) => resume(Effect.fail(error)))
    conn.on("close", () => resume(Effect.succeed(received)))
    return Effect.sync(() => conn.destroy())
  })

const suite = TlsCertificates.available ? describe : () => {}
suite("NodeTls", () => {
  describe("files that cannot be used are one line at start", () => {
    it.live("a missing certificate, a file that is not PEM, a key that does not match, a requirement without a CA", () =>
      Effect.gen(function*() {
        const certificates = yield* TlsCertificates.get
        const notPem = Path.join(certificates.dir, "not-pem.txt")
        Fs.writeFileSync(notPem, "hello\n")
        const missing = Path.join(certificates.dir, "missing.pem")
        const failureOf = (tls: NodeTls.ServerOptions) =>
          Effect.map(
            Effect.flip(NodeTransport.makeServer({ host: "127.0.0.1", port: 0 }, { tls })),
            (error) => ({ tag: error.reason._tag, message: error.message })
          )
        assert.deepStrictEqual(yield* failureOf({ ...certificates.server, cert: missing }), {
          tag: "TlsConfigInvalid",
          message: `cannot use the TLS certificate ${missing}: no such file`
        })
        assert.deepStrictEqual(yield* failureOf({ ...certificates.server, cert: notPem }), {
          tag: "TlsConfigInvalid",
          message: `cannot use the TLS certificate ${notPem}: it holds no PEM certificate`
        })
        assert.deepStrictEqual(yield* failureOf({ ...certificates.server, key: notPem }), {
          tag: "TlsConfigInvalid",
          message: `cannot use the TLS key ${notPem}: it holds no PEM private key`
        })
        assert.deepStrictEqual(yield* failureOf({ ...certificates.server, key: certificates.stranger.key }), {
          tag: "TlsConfigInvalid",
          message: `cannot use the TLS key ${certificates.stranger.key}: it does not match the certificate ${certificates.server.cert}`
        })
        assert.deepStrictEqual(yield* failureOf({ ...certificates.server, ca: notPem }), {
          tag: "TlsConfigInvalid",
          message: `cannot use the TLS CA ${notPem}: it holds no PEM certificate`
        })
        assert.deepStrictEqual(yield* failureOf({ ...certificates.server, requireClientCert: true }), {
          tag: "TlsConfigInvalid",
          message: "requiring a TLS client certificate needs the CA that signs them (--tls-ca)"
        })
        const clientError = yield* Effect.flip(NodeTls.client({ ca: missing }))
        assert.strictEqual(clientError.message, `cannot use the TLS CA ${missing}: no such file`)
      }).pipe(Effect.scoped))
  })

  describe("the handshake", () => {
    it.live("a peer that says nothing is closed at the handshake deadline: HandshakeTimeout, counted", () =>
      Effect.gen(function*() {
        const { nextEnd, port } = yield* serveTls({ handshakeDeadline: "200 millis" })
        yield* rawPeer(port)
        const ended = yield* nextEnd
        assert.deepInclude(ended.reason, { _tag: "HandshakeTimeout", stage: "tls" })
        assert.strictEqual(yield* closedCount("HandshakeTimeout"), 1)
      }).pipe(Effect.scoped))

    it.live("a peer that speaks no TLS ends with HandshakeFailed saying why, counted; the server serves on", () =>
      Effect.gen(function*() {
        const { certificates, nextEnd, port } = yield* serveTls()
        yield* rawPeer(port, "hello there\n")
        const ended = yield* nextEnd
        assert.strictEqual(ended.reason._tag, "HandshakeFailed")
        assert.include(ended.reason._tag === "HandshakeFailed" ? ended.reason.detail : "", "wrong version number")
        assert.strictEqual(yield* closedCount("HandshakeFailed"), 1)
        assert.strictEqual(yield* nodeTlsExchange(port, { ca: Fs.readFileSync(certificates.ca) }), "hello")
      }).pipe(Effect.scoped))

    it.live("a peer that ends inside its first record fails the handshake", () =>
      Effect.gen(function*() {
        const { nextEnd, port } = yield* serveTls()
        yield* Effect.callback<void>((resume) => {
          const conn = Net.connect({ host: "127.0.0.1", port }, () => conn.end("hi\n"))
          conn.on("close", () => resume(Effect.void))
        })
        const ended = (yield* nextEnd).reason
        assert.deepInclude(ended, { _tag: "HandshakeFailed", detail: "the connection ended during the handshake" })
      }).pipe(Effect.scoped))

    it.live("a peer that closes before its handshake is PeerClosed, not a handshake failure", () =>
      Effect.gen(function*() {
        const { nextEnd, port } = yield* serveTls()
        yield* Effect.callback<void>((resume) => {
          const conn = Net.connect({ host: "127.0.0.1", port }, () => conn.end())
          conn.on("close", () => resume(Effect.void))
        })
        assert.strictEqual((yield* nextEnd).reason._tag, "PeerClosed")
      }).pipe(Effect.scoped))
  })

  describe("client certificates", () => {
    it.live("required: one signed by the CA is served; none, or a stranger's, fails the handshake", () =>
      Effect.gen(function*() {
        const { certificates, nextEnd, port } = yield* serveTls({ ca: (yield* TlsCertificates.get).ca, requireClientCert: true })
        const ca = Fs.readFileSync(certificates.ca)
        const own = { cert: Fs.readFileSync(certificates.client.cert), key: Fs.readFileSync(certificates.client.key) }
        assert.strictEqual(yield* nodeTlsExchange(port, { ca, ...own }), "hello")
        assert.strictEqual((yield* nextEnd).reason._tag, "PeerClosed")
        yield* Effect.ignore(nodeTlsExchange(port, { ca }))
        assert.strictEqual((yield* nextEnd).reason._tag, "HandshakeFailed")
        const stranger = { cert: Fs.readFileSync(certificates.stranger.cert), key: Fs.readFileSync(certificates.stranger.key) }
        yield* Effect.ignore(nodeTlsExchange(port, { ca, ...stranger }))
        assert.strictEqual((yield* nextEnd).reason._tag, "HandshakeFailed")
      }).pipe(Effect.scoped))

    it.live("asked for, not required: none is served; a stranger's fails the handshake", () =>
      Effect.gen(function*() {
        const { certificates, nextEnd, port } = yield* serveTls({ ca: (yield* TlsCertificates.get).ca })
        const ca = Fs.readFileSync(certificates.ca)
        assert.strictEqual(yield* nodeTlsExchange(port, { ca }), "hello")
        assert.strictEqual((yield* nextEnd).reason._tag, "PeerClosed")
        const stranger = { cert: Fs.readFileSync(certificates.stranger.cert), key: Fs.readFileSync(certificates.stranger.key) }
        yield* Effect.ignore(nodeTlsExchange(port, { ca, ...stranger }))
        const ended = (yield* nextEnd).reason
        assert.strictEqual(ended._tag, "HandshakeFailed")
      }).pipe(Effect.scoped))
  })

  describe("our client", () => {
    it.live("trusts the CA it is given and checks the name; a server it does not trust is refused at once, not retried", () =>
      Effect.gen(function*() {
        const { certificates, port } = yield* serveTls()
        const trusting = yield* NodeTls.client({ ca: certificates.ca })
        const duplex = yield* Client.connect(NodeTransport.dial({ host: "127.0.0.1", port }, { tls: trusting }), {
          address: "tls"
        })
        const reply = yield* Client.exchange(duplex, Stream.make(new TextEncoder().encode("over tls"))).pipe(
          Stream.decodeText,
          Stream.mkString
        )
        assert.strictEqual(reply, "over tls")

        const refusedBy = (client: NodeTls.Client) =>
          Effect.flip(Client.connect(NodeTransport.dial({ host: "127.0.0.1", port }, { tls: client }), {
            address: `127.0.0.1:${port}`,
            // Were it retried, this test would wait for minutes.
            retryBaseMillis: 60_000
          }))
        const untrusting = yield* refusedBy(yield* NodeTls.client({}))
        assert.strictEqual(untrusting.cause.reason._tag, "HandshakeFailed")
        assert.match(untrusting.message, /^cannot connect to 127\.0\.0\.1:\d+: TLS handshake failed: unable to verify the first certificate/)
        const wrongName = yield* refusedBy(yield* NodeTls.client({ ca: certificates.ca, servername: "other.example" }))
        assert.strictEqual(wrongName.cause.reason._tag, "HandshakeFailed")
        assert.include(wrongName.message, "other.example")
      }).pipe(Effect.scoped))
  })

  describe("behind a proxy", () => {
    it.live("the PROXY header comes before the handshake, and gives the client's address", () =>
      Effect.gen(function*() {
        const { certificates, nextEnd, port } = yield* serveTls({}, { proxyProtocol: true })
        const header = ProxyProtocol.encodeV2({
          _tag: "Proxied",
          version: 2,
          family: "TCP4",
          source: { host: "203.0.113.9", port: 4242 },
          destination: { host: "192.0.2.1", port: 443 }
        })
        const reply = yield* Effect.callback<string, Error>((resume) => {
          const raw = Net.connect({ host: "127.0.0.1", port }, () => {
            raw.write(header)
            const conn = Tls.connect({ socket: raw, ca: Fs.readFileSync(certificates.ca), host: "127.0.0.1" }, () =>
              conn.end("proxied"))
            let received = ""
            conn.on("data", (chunk) => (received += chunk))
            conn.on("error", (error) => resume(Effect.fail(error)))
            conn.on("close", () => resume(Effect.succeed(received)))
          })
        })
        assert.strictEqual(reply, "proxied")
        const ended = yield* nextEnd
        assert.strictEqual(ended.info.remoteAddress, "203.0.113.9:4242")
        assert.strictEqual(ended.info.localAddress, "192.0.2.1:443")
      }).pipe(Effect.scoped))
  })
})

if (!TlsCertificates.available) {
  describe("NodeTls", () => {
    it("every case", (ctx) => ctx.skip("needs openssl, to make the test certificates"))
  })
}
