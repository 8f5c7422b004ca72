/**
 * TLS for the Node transport: a listener's certificate and key (and the CA
 * its clients' certificates are checked against), a client's trust, and
 * the two sides of the handshake, over the same flowing socket plain TCP
 * uses (`FlowingSocket`, over Node's `TLSSocket`).
 *
 * Stage: accept (and dial), before read. `server` and `client` load and
 * check their PEM files once, at start, so a missing file, a file that
 * holds no certificate or key, a key that does not match its certificate
 * or an expired certificate is a one-line `TlsConfigError` before anything
 * listens. A listener with TLS (`NodeTransport.makeServer({ tls })`) makes
 * of each accepted connection a socket whose opening (its reader's
 * acquisition, in the connection's fiber, so counted by the connection
 * limit) reads the PROXY header first when the listener expects one, then
 * runs the TLS handshake under its deadline (`Config.handshakeDeadline`).
 * A handshake that fails ends the connection with `HandshakeFailed`, one
 * not done in time with `HandshakeTimeout` (stage `tls`), both reported
 * like any exit reason (logged and counted); a peer that closes or resets
 * before, with `PeerClosed` or `PeerReset`.
 *
 * @since 0.1.0
 */
import * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as CoreConfig from "@socket-to-me/core/Config"
import * as ProxyProtocol from "@socket-to-me/core/ProxyProtocol"
import type * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Transport from "@socket-to-me/core/Transport"
import type * as Arr from "effect/Array"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Tls from "node:tls"
import * as FlowingSocket from "./FlowingSocket.ts"
import * as NodeErrors from "./NodeErrors.ts"

/**
 * A TLS file that cannot be used, said on one line: which file, and why
 * (`cannot use the TLS key key.pem: it does not match the certificate
 * cert.pem`).
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsConfigError extends Data.TaggedError("TlsConfigError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

/**
 * A listener's TLS: PEM files, and what it asks of clients.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** PEM file of the server's certificate, followed by its chain if it has one. */
  readonly cert: string
  /** PEM file of the certificate's private key (not encrypted). */
  readonly key: string
  /** PEM file of the CAs a client certificate must be signed by; with it, clients are asked for one. */
  readonly ca?: string | undefined
  /** Refuse the handshake of a client without a certificate signed by `ca` (which it needs). Default false. */
  readonly requireClientCert?: boolean | undefined
  /** The handshake must be done within this time. Default `Config.handshakeDeadline`. */
  readonly handshakeDeadline?: Duration.Input | undefined
}

/**
 * A client's TLS.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** PEM file of the CAs to trust, instead of the system's. Default: the system's. */
  readonly ca?: string | undefined
  /** The name the server's certificate must hold, also sent as SNI. Default: the host dialed. */
  readonly servername?: string | undefined
  /** PEM file of a client certificate, for a server that asks for one (with `key`). */
  readonly cert?: string | undefined
  /** PEM file of the client certificate's private key. */
  readonly key?: string | undefined
}

/**
 * A listener's TLS, loaded and checked (`server`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  readonly secureContext: Tls.SecureContext
  readonly requestCert: boolean
  readonly requireClientCert: boolean
  readonly handshakeDeadline: Duration.Duration
}

/**
 * A client's TLS, loaded and checked (`client`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly secureContext: Tls.SecureContext
  readonly servername: string | undefined
}

const fail = (detail: string) => Effect.fail(new TlsConfigError({ detail }))

const readable: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "it is a folder",
  ENOTDIR: "no such file"
}

const read = (what: string, file: string) =>
  Effect.suspend(() => {
    const text = Result.try(() => Fs.readFileSync(file, "utf8"))
    if (Result.isSuccess(text)) return Effect.succeed(text.success)
    const code = NodeErrors.code(text.failure)
    return fail(`cannot use the TLS ${what} ${file}: ${(code && readable[code]) ?? String(text.failure)}`)
  })

const pemBlocks = (text: string, label: string): Array<string> =>
  text.match(new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, "g")) ?? []

// Certificates of a PEM file, each parsed, or why the file cannot serve.
const certificates = Effect.fnUntraced(function*(what: string, file: string) {
  const text = yield* read(what, file)
  const blocks = pemBlocks(text, "CERTIFICATE")
  if (blocks.length === 0) return yield* fail(`cannot use the TLS ${what} ${file}: it holds no PEM certificate`)
  const parsed: Array<Crypto.X509Certificate> = []
  for (const block of blocks) {
    const certificate = Result.try(() => new Crypto.X509Certificate(block))
    if (Result.isFailure(certificate)) return yield* fail(`cannot use the TLS ${what} ${file}: a certificate in it does not parse`)
    parsed.push(certificate.success)
  }
  return { text, parsed }
})

const privateKey = Effect.fnUntraced(function*(file: string) {
  const text = yield* read("key", file)
  const key = Result.try(() => Crypto.createPrivateKey(text))
  if (Result.isSuccess(key)) return { text, key: key.success }
  return yield* fail(
    NodeErrors.code(key.failure) === "ERR_MISSING_PASSPHRASE"
      ? `cannot use the TLS key ${file}: it is encrypted (give it unencrypted)`
      : `cannot use the TLS key ${file}: it holds no PEM private key`
  )
})

// A certificate and its key: both parse, they match, and the certificate
// has not expired.
const identity = Effect.fnUntraced(function*(certFile: string, keyFile: string) {
  const cert = yield* certificates("certificate", certFile)
  const key = yield* privateKey(keyFile)
  const leaf = cert.parsed[0]!
  if (!leaf.checkPrivateKey(key.key)) {
    return yield* fail(`cannot use the TLS key ${keyFile}: it does not match the certificate ${certFile}`)
  }
  const now = yield* Clock.currentTimeMillis
  if (Date.parse(leaf.validTo) < now) {
    return yield* fail(`cannot use the TLS certificate ${certFile}: it expired on ${leaf.validTo}`)
  }
  return { cert: cert.text, key: key.text }
})

const secureContext = (options: Tls.SecureContextOptions) => {
  const context = Result.try(() => Tls.createSecureContext(options))
  return Result.isSuccess(context)
    ? Effect.succeed(context.success)
    : fail(`cannot use the TLS files: ${String(context.failure)}`)
}

/**
 * Loads and checks a listener's TLS files (see the module docs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const server = Effect.fnUntraced(function*(options: ServerOptions): Effect.fn.Return<Server, TlsConfigError> {
  if (options.requireClientCert === true && options.ca === undefined) {
    return yield* fail("requiring a TLS client certificate needs the CA that signs them (--tls-ca)")
  }
  const { cert, key } = yield* identity(options.cert, options.key)
  const ca = options.ca === undefined ? undefined : (yield* certificates("CA", options.ca)).text
  return {
    secureContext: yield* secureContext({ cert, key, ca }),
    requestCert: ca !== undefined,
    requireClientCert: options.requireClientCert === true,
    handshakeDeadline: Duration.fromInputUnsafe(options.handshakeDeadline ?? CoreConfig.handshakeDeadline)
  }
})

/**
 * Loads and checks a client's TLS files (see the module docs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const client = Effect.fnUntraced(function*(options: ClientOptions = {}): Effect.fn.Return<Client, TlsConfigError> {
  if ((options.cert === undefined) !== (options.key === undefined)) {
    return yield* fail("a TLS client certificate needs both its certificate and its key")
  }
  const ca = options.ca === undefined ? undefined : (yield* certificates("CA", options.ca)).text
  const own = options.cert === undefined || options.key === undefined ? undefined : yield* identity(options.cert, options.key)
  return {
    secureContext: yield* secureContext({ ...(ca === undefined ? {} : { ca }), ...own }),
    servername: options.servername
  }
})

// Every socket keeps an error listener for its whole life (see NodeTransport).
const ignoreError = () => {}

const endOfStream = new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1000 }) })
const openError = (reason: ConnectionError.HandshakeFailed | ConnectionError.HandshakeTimeout) =>
  new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause: reason }) })
const readError = (cause: unknown) => new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })

/**
 * One line saying what a TLS error is: OpenSSL's reason (`wrong version
 * number`) or Node's message (`self-signed certificate`), with its code.
 *
 * @since 0.1.0
 * @category errors
 */
export const describe = (cause: unknown): string => {
  const code = NodeErrors.code(cause)
  const reason = typeof cause === "object" && cause !== null && "reason" in cause && typeof cause.reason === "string"
    ? cause.reason
    : cause instanceof Error
    ? cause.message.split("\n")[0]!
    : String(cause)
  return code === undefined ? reason : `${reason} (${code})`
}

const handshakeFailed = (cause: unknown) => new ConnectionError.HandshakeFailed({ detail: describe(cause), cause })

// A failure of `socket` while it handshakes: a reset is a reset, anything
// else the handshake's failure.
const duringHandshake = (cause: unknown) => NodeErrors.isReset(cause) ? readError(cause) : openError(handshakeFailed(cause))

// One read of a raw, paused socket, for the PROXY header before TLS.
const rawPull = (conn: Net.Socket): Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, Socket.SocketError> =>
  Effect.callback((resume) => {
    const cleanup = () => {
      conn.off("data", onData)
      conn.off("end", onEnd)
      conn.off("error", onFail)
      conn.off("close", onEnd)
      conn.pause()
    }
    const onData = (chunk: Uint8Array) => (cleanup(), resume(Effect.succeed([chunk])))
    const onEnd = () => (cleanup(), resume(Effect.fail(endOfStream)))
    const onFail = (cause: Error) => (cleanup(), resume(Effect.fail(readError(cause))))
    conn.on("data", onData)
    conn.on("end", onEnd)
    conn.on("error", onFail)
    conn.on("close", onEnd)
    conn.resume()
    return Effect.sync(cleanup)
  })

// Why the peer's certificate did not verify, as `tls.Server` reads it for
// its sockets' `authorized` (a socket made without one does not set it).
const verifyError = (tls: Tls.TLSSocket): Error | undefined => {
  const handle = (tls as unknown as { readonly _handle?: { readonly verifyError?: () => Error | null } })._handle
  if (typeof handle?.verifyError !== "function") return new Error("the client certificate cannot be checked")
  return handle.verifyError() ?? undefined
}

// The server's side of the handshake, on `tls` over the connection, whose
// handshake bytes start after `before` bytes read (a PROXY header's).
const serverHandshake = (tls: Tls.TLSSocket, conn: Net.Socket, before: number, server: Server) =>
  Effect.callback<void, Socket.SocketError>((resume) => {
    const cleanup = () => {
      tls.off("secure", onSecure)
      tls.off("error", onFail)
      tls.off("end", onEnd)
      tls.off("close", onEnd)
    }
    const onSecure = () => {
      cleanup()
      // A client certificate, when asked for, must be signed by the CA. Node's
      // TLS accepts any during the handshake and leaves the check to its
      // caller (`tls.Server` does it on `secure`, as here). Not required, a
      // client may send none.
      const unverified = server.requestCert && tls.getPeerCertificate()?.raw !== undefined ? verifyError(tls) : undefined
      if (unverified !== undefined) return resume(Effect.fail(openError(handshakeFailed(unverified))))
      resume(Effect.void)
    }
    const onFail = (cause: Error) => (cleanup(), resume(Effect.fail(duringHandshake(cause))))
    // An end after part of a handshake (a record cut short) fails it; an
    // end before any is a peer that left (a port check).
    const onEnd = () => {
      cleanup()
      resume(Effect.fail(
        conn.bytesRead > before
          ? openError(handshakeFailed(new Error("the connection ended during the handshake")))
          : endOfStream
      ))
    }
    tls.on("secure", onSecure)
    tls.on("error", onFail)
    tls.on("end", onEnd)
    tls.on("close", onEnd)
    return Effect.sync(cleanup)
  })

// An accepted connection with TLS: its reader's acquisition reads the
// PROXY header (if expected) and handshakes; reads and writes then go
// through the flowing socket over the TLS socket.
class TlsServerSocket implements Transport.Transport {
  readonly [Socket.TypeId]: typeof Socket.TypeId = Socket.TypeId
  readonly conn: Net.Socket
  readonly server: Server
  readonly proxy: ProxyProtocol.Options | undefined
  tls: Tls.TLSSocket | undefined = undefined
  flowing: Socket.Socket | undefined = undefined
  learned: SocketAddresses.Addresses | undefined = undefined

  constructor(conn: Net.Socket, server: Server, proxy: ProxyProtocol.Options | undefined) {
    this.conn = conn
    this.server = server
    this.proxy = proxy
  }

  get reader(): Effect.Effect<Socket.Reader, Socket.SocketError, Scope.Scope> {
    const conn = this.conn
    const server = this.server
    return Effect.gen({ self: this }, function*() {
      // Until the flowing socket's reader owns it, the connection is this
      // scope's: destroyed if opening fails or is interrupted.
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (this.flowing === undefined) {
            this.tls?.destroy()
            conn.destroy()
          }
        })
      )
      if (conn.destroyed) return yield* Effect.fail(endOfStream)
      let before = 0
      if (this.proxy !== undefined) {
        const { header, rest } = yield* ProxyProtocol.read(rawPull(conn), this.proxy)
        this.learned = ProxyProtocol.addresses(header)
        const after = Buffer.concat(rest)
        before = conn.bytesRead - after.byteLength
        if (after.byteLength > 0) conn.unshift(after)
      }
      const tls = this.tls = new Tls.TLSSocket(conn, {
        isServer: true,
        secureContext: server.secureContext,
        requestCert: server.requestCert,
        rejectUnauthorized: server.requireClientCert
      })
      tls.on("error", ignoreError)
      const deadline = server.handshakeDeadline
      yield* Effect.timeoutOrElse(serverHandshake(tls, conn, before, server), {
        duration: deadline,
        orElse: () => Effect.fail(openError(new ConnectionError.HandshakeTimeout({ stage: "tls", after: deadline })))
      })
      // In the connection's fiber, so with its id; at debug level only.
      if (!LogLevel.isGreaterThan(yield* References.MinimumLogLevel, "Debug")) {
        yield* Effect.logDebug("TLS handshake done").pipe(
          Effect.annotateLogs({
            protocol: tls.getProtocol() ?? "unknown",
            cipher: tls.getCipher()?.name ?? "unknown",
            clientCertificate: tls.getPeerCertificate()?.raw !== undefined
          })
        )
      }
      const flowing = FlowingSocket.fromNetSocket(tls, { corkReads: true })
      const reader = yield* flowing.reader
      this.flowing = flowing
      return reader
    })
  }

  // The writer is the flowing socket's, which exists once the reader was
  // acquired: as core acquires them (`Duplex.open`), reader first.
  get writer(): Effect.Effect<Transport.DirectWriter, never, Scope.Scope> {
    return Effect.suspend(() =>
      this.flowing === undefined
        ? Effect.die(new Error("a TLS socket's writer was asked for before its reader"))
        : Transport.capabilities(this.flowing).directWriter!
    )
  }

  get [Transport.TypeId](): Transport.Capabilities {
    return {
      failure: tlsFailure,
      directWriter: this.writer,
      addresses: this.proxy === undefined ? undefined : () => this.learned
    }
  }
}

/**
 * The failure reasons of a TLS socket: a handshake's own
 * (`HandshakeFailed`, `HandshakeTimeout`, `ProxyHeaderInvalid`) as they
 * are, any other as Node's (`NodeErrors.failure`).
 *
 * @since 0.1.0
 * @category errors
 */
export const tlsFailure = (cause: unknown, during: Transport.Operation): Transport.Failure =>
  ConnectionError.isHandshakeFailure(cause) ? cause : NodeErrors.failure(cause, during)

/**
 * The socket of `conn`, a connection a TLS listener accepted (paused, with
 * an error listener): opening it reads the PROXY header first if `proxy`
 * is given, then handshakes (see the module docs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const accepted = (conn: Net.Socket, server: Server, proxy?: ProxyProtocol.Options): Socket.Socket =>
  new TlsServerSocket(conn, server, proxy)

/**
 * The client's side: TLS over `conn`, a connected socket to `host`,
 * checked against `client`'s trust and its server name (by default
 * `host`). Completes with the TLS socket, paused, once the handshake is
 * done; fails with `HandshakeFailed` (or `PeerReset`). The TLS socket is
 * destroyed with the scope unless the caller's reader took it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  conn: Net.Socket,
  host: string,
  client: Client
): Effect.Effect<Tls.TLSSocket, ConnectionError.ConnectionError> =>
  Effect.callback((resume) => {
    const servername = client.servername ?? (Net.isIP(host) === 0 ? host : undefined)
    const tls = Tls.connect({
      socket: conn,
      secureContext: client.secureContext,
      // Checked against the name asked for, or the address dialed.
      host: client.servername ?? host,
      ...(servername === undefined ? {} : { servername })
    })
    const failed = (cause: Error) => {
      tls.destroy()
      resume(Effect.fail(
        ConnectionError.make(NodeErrors.isReset(cause) ? new ConnectionError.PeerReset({ cause }) : handshakeFailed(cause))
      ))
    }
    tls.once("error", failed)
    tls.once("secureConnect", () => {
      tls.pause()
      tls.off("error", failed)
      tls.on("error", ignoreError)
      resume(Effect.succeed(tls))
    })
    return Effect.sync(() => tls.destroy())
  })
