/**
 * Certificates for TLS tests, made when first asked for with `openssl`
 * (P-256 keys, valid for a day) in a temporary folder removed when the
 * process exits: a test CA, a server certificate it signs for `localhost`
 * and `127.0.0.1`, a client certificate it signs, and a self-signed client
 * certificate no one trusts. Made once per process (a few tens of
 * milliseconds), whatever the number of tests.
 *
 * Tests over TLS need `openssl` (`available`); without it, they skip
 * themselves with the reason.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/**
 * A certificate and its key, as PEM files.
 *
 * @since 0.1.0
 * @category models
 */
export interface Identity {
  readonly cert: string
  readonly key: string
}

/**
 * The files made, by purpose.
 *
 * @since 0.1.0
 * @category models
 */
export interface Certificates {
  /** The folder holding them. */
  readonly dir: string
  /** The test CA's certificate: what clients trust, and what client certificates are checked against. */
  readonly ca: string
  /** The server's certificate (for `localhost` and `127.0.0.1`), signed by the CA. */
  readonly server: Identity
  /** A client certificate signed by the CA. */
  readonly client: Identity
  /** A self-signed client certificate, not signed by the CA. */
  readonly stranger: Identity
}

/**
 * Whether `openssl` runs here.
 *
 * @since 0.1.0
 * @category predicates
 */
export const available: boolean = ChildProcess.spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0

const openssl = (dir: string, ...args: ReadonlyArray<string>): void => {
  const result = ChildProcess.spawnSync("openssl", args, { cwd: dir, encoding: "utf8", timeout: 20_000 })
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr || result.error}`)
}

const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

const make = (): Certificates => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "socket-to-me-tls-"))
  process.once("exit", () => Fs.rmSync(dir, { recursive: true, force: true }))
  openssl(dir, "req", "-x509", ...newKey, "-subj", "/CN=socket-to-me test CA", "-days", "1", "-keyout", "ca.key", "-out", "ca.pem")
  const signed = (name: string, subject: string, extensions: string) => {
    Fs.writeFileSync(Path.join(dir, `${name}.ext`), extensions)
    openssl(dir, "req", ...newKey, "-subj", subject, "-keyout", `${name}.key`, "-out", `${name}.csr`)
    openssl(
      dir,
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`
    )
  }
  signed("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
  signed("client", "/CN=test client", "extendedKeyUsage=clientAuth\n")
  openssl(dir, "req", "-x509", ...newKey, "-subj", "/CN=stranger", "-days", "1", "-keyout", "stranger.key", "-out", "stranger.pem")
  const at = (file: string) => Path.join(dir, file)
  return {
    dir,
    ca: at("ca.pem"),
    server: { cert: at("server.pem"), key: at("server.key") },
    client: { cert: at("client.pem"), key: at("client.key") },
    stranger: { cert: at("stranger.pem"), key: at("stranger.key") }
  }
}

// Made once per process: every TLS test shares the files.
let made: Certificates | undefined

/**
 * The certificates, made on first use; fails when `openssl` is missing or fails.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get: Effect.Effect<Certificates, Error> = Effect.try({
  try: () => (made ??= make()),
  catch: (cause) => cause instanceof Error ? cause : new Error(String(cause))
})
