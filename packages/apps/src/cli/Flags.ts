/**
 * Flags shared by every app's commands, with their defaults and environment
 * variable fallbacks (`SOCKET_TO_ME_HOST`, `SOCKET_TO_ME_PORT`, ...).
 * Defaults come from core's `Config` module, where each is explained.
 *
 * @since 0.1.0
 */
import * as CoreConfig from "@socket-to-me/core/Config"
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as NodeTls from "@socket-to-me/node/NodeTls"
import * as NodeTransport from "@socket-to-me/node/NodeTransport"
import type * as Runner from "@socket-to-me/node/Runner"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as CliError from "effect/cli/CliError"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Flag from "effect/cli/Flag"

/**
 * What `fromText` needs to read one flag.
 *
 * @since 0.1.0
 * @category models
 */
export interface TextFlag<A> {
  /** The flag's name, without `--`. */
  readonly name: string
  /** The environment variable read when the flag is absent, e.g. `SOCKET_TO_ME_PORT`. */
  readonly env: string
  /** The placeholder in the help, e.g. `PORT`. */
  readonly metavar: string
  /** The help text; say the default and the variable in it. */
  readonly description: string
  /** Parses the text, from the command line or from the variable alike. */
  readonly parse: (text: string) => Option.Option<A>
  /** The form expected, after "Expected", e.g. `a port, 0-65535`. */
  readonly expected: string
}

/**
 * A flag read from the command line or, when absent there, from an
 * environment variable (set and not empty), its text parsed the same way
 * from both. A bad value says where it came from and the form expected:
 * `Invalid value for flag --port: "x". Expected a port, 0-65535`, or
 * `Invalid value for environment variable SOCKET_TO_ME_PORT: "x". Expected
 * a port, 0-65535`. `None` when neither gives a value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromText = <A>(flag: TextFlag<A>): Flag.Flag<Option.Option<A>> =>
  Flag.String(flag.name).pipe(
    Flag.withMetavar(flag.metavar),
    Flag.withDescription(flag.description),
    Flag.optional,
    Flag.mapEffect(Effect.fnUntraced(function*(given) {
      if (Option.isSome(given)) {
        const parsed = flag.parse(given.value)
        if (Option.isSome(parsed)) return parsed
        return yield* new CliError.InvalidValue({
          option: flag.name,
          value: given.value,
          expected: `Expected ${flag.expected}`,
          kind: "flag"
        })
      }
      const text = Option.filter(yield* Effect.orDie(Config.option(Config.String(flag.env))), (text) => text !== "")
      if (Option.isNone(text)) return Option.none()
      const parsed = flag.parse(text.value)
      if (Option.isSome(parsed)) return parsed
      return yield* new CliError.ValidationError({
        message: `Invalid value for environment variable ${flag.env}: "${text.value}". Expected ${flag.expected}`
      })
    }))
  )

const withDefault = <A>(fallback: A) => Flag.map((value: Option.Option<A>) => Option.getOrElse(value, () => fallback))

/**
 * Parses a whole number written in decimal digits (`0`, `7001`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseWhole = (text: string): Option.Option<number> => {
  const trimmed = text.trim()
  return /^\d+$/.test(trimmed) ? Option.some(Number(trimmed)).pipe(Option.filter(Number.isSafeInteger)) : Option.none()
}

const parsePort = (min: number) => (text: string) =>
  Option.filter(parseWhole(text), (port) => port >= min && port <= 65535)

/**
 * Host to listen on or connect to; loopback by default so nothing is exposed
 * beyond this machine unless asked.
 *
 * @since 0.1.0
 * @category flags
 */
export const host = fromText({
  name: "host",
  env: "SOCKET_TO_ME_HOST",
  metavar: "HOST",
  description: "Host name or IP address (default 127.0.0.1, env SOCKET_TO_ME_HOST)",
  parse: (text) => Option.some(text.trim()).pipe(Option.filter((host) => host !== "")),
  expected: "a host name or IP address"
}).pipe(withDefault("127.0.0.1"))

/**
 * The TCP port a server listens on, 0 to 65535 (0 picks a free one);
 * `None` when not given (the server's default applies, unless it listens
 * on a Unix socket: see `listenOn`).
 *
 * @since 0.1.0
 * @category flags
 */
export const listenPort = (defaultPort: number) =>
  fromText({
    name: "port",
    env: "SOCKET_TO_ME_PORT",
    metavar: "PORT",
    description: `TCP port to listen on; 0 picks a free one (default ${defaultPort}, env SOCKET_TO_ME_PORT)`,
    parse: parsePort(0),
    expected: "a port, 0-65535"
  })

/**
 * The TCP port of the server a client connects to, 1 to 65535; `None`
 * when not given (see `dialTo`).
 *
 * @since 0.1.0
 * @category flags
 */
export const connectPort = (defaultPort: number) =>
  fromText({
    name: "port",
    env: "SOCKET_TO_ME_PORT",
    metavar: "PORT",
    description: `TCP port of the server (default ${defaultPort}, env SOCKET_TO_ME_PORT)`,
    parse: parsePort(1),
    expected: "a port, 1-65535"
  })

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Parses `500ms`, `1s`, `1.5s`, `5m`, `1h` (and `0`) into a duration.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null) return Option.none()
  const value = Number(match[1])
  const unit = match[2]
  if (unit === undefined && value !== 0) return Option.none()
  return Option.some(Duration.millis(value * (unit === undefined ? 0 : units[unit]!)))
}

/**
 * A duration flag (`500ms`, `30s`, `5m`, `1h`, `0`) with its variable and default.
 *
 * @since 0.1.0
 * @category flags
 */
export const duration = (name: string, env: string, fallback: Duration.Input, description: string) =>
  fromText({
    name,
    env,
    metavar: "DURATION",
    description: `${description} (e.g. 500ms, 30s, 5m; default ${
      Duration.format(Duration.fromInputUnsafe(fallback))
    }, env ${env})`,
    parse: parseDuration,
    expected: "a duration such as 500ms, 30s or 5m"
  }).pipe(withDefault(Duration.fromInputUnsafe(fallback)))

/**
 * The robustness flags every server command takes; `server` adds the frame
 * deadline for the servers whose protocol has frames.
 *
 * @since 0.1.0
 * @category flags
 */
export const connections = {
  maxConnections: fromText({
    name: "max-connections",
    env: "SOCKET_TO_ME_MAX_CONNECTIONS",
    metavar: "N",
    description:
      `Connections served at once; more are refused (default ${CoreConfig.maxConnections}, env SOCKET_TO_ME_MAX_CONNECTIONS)`,
    parse: (text) => Option.filter(parseWhole(text), (n) => n >= 1),
    expected: "a whole number, at least 1"
  }).pipe(withDefault(CoreConfig.maxConnections)),
  idleTimeout: duration(
    "idle-timeout",
    "SOCKET_TO_ME_IDLE_TIMEOUT",
    CoreConfig.idleTimeout,
    "Close connections silent in both directions this long; 0 disables"
  ),
  shutdownGrace: duration(
    "shutdown-grace",
    "SOCKET_TO_ME_SHUTDOWN_GRACE",
    CoreConfig.shutdownGrace,
    "On SIGINT/SIGTERM, wait this long for connections before interrupting them"
  ),
  metricsPort: fromText({
    name: "metrics-port",
    env: "SOCKET_TO_ME_METRICS_PORT",
    metavar: "PORT",
    description: "Serve Prometheus metrics over HTTP on this port; 0 picks a free one (default off, env SOCKET_TO_ME_METRICS_PORT)",
    parse: parsePort(0),
    expected: "a port, 0-65535"
  })
}

/**
 * The flags of a server whose protocol has frames (chat's lines, files'
 * length-prefixed frames): `connections` and `--frame-deadline`. Echo has
 * no frames, so it does not take that flag rather than ignore it.
 *
 * @since 0.1.0
 * @category flags
 */
export const server = {
  ...connections,
  frameDeadline: duration(
    "frame-deadline",
    "SOCKET_TO_ME_FRAME_DEADLINE",
    CoreConfig.frameDeadline,
    "A started frame must complete within this time; 0 disables"
  )
}

/**
 * Values of the `connections` flags.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionSettings {
  readonly maxConnections: number
  /** From `maxConnectionsPerAddress`: `None` for no limit; absent for the app's default. */
  readonly maxConnectionsPerAddress?: Option.Option<number> | undefined
  readonly idleTimeout: Duration.Duration
  readonly shutdownGrace: Duration.Duration
  readonly metricsPort: Option.Option<number>
}

/**
 * Values of the `server` flags.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerSettings extends ConnectionSettings {
  readonly frameDeadline: Duration.Duration
}

/**
 * The runner's options for the server `name` listening as `listen` says
 * (a TCP endpoint, or what `listenOn` made of the listener flags) with
 * these settings: every server command serves through `Runner.start` with
 * them. The frame deadline is not among them: it belongs to the handler's
 * framing (see `Framing.Options`).
 *
 * @since 0.1.0
 * @category models
 */
export const serveOptions = (
  name: string,
  listen: Listen,
  settings: ConnectionSettings
): Runner.ServeOptions => ({
  name,
  ...listen,
  maxConnections: settings.maxConnections,
  maxConnectionsPerAddress: Option.getOrUndefined(settings.maxConnectionsPerAddress ?? Option.none()),
  idleTimeout: zeroIsOff(settings.idleTimeout),
  shutdownGrace: settings.shutdownGrace,
  metricsPort: Option.getOrUndefined(settings.metricsPort)
})

/**
 * Zero means "off" for the timeouts: turned into `Duration.infinity`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const zeroIsOff = (duration: Duration.Duration): Duration.Duration =>
  Duration.isZero(duration) ? Duration.infinity : duration

/**
 * `--max-connections-per-address N`: connections served at once from one
 * IP address; 0 for no limit. `fallback` is the app's default (`None`: no
 * limit).
 *
 * @since 0.1.0
 * @category flags
 */
export const maxConnectionsPerAddress = (fallback: Option.Option<number>) =>
  fromText({
    name: "max-connections-per-address",
    env: "SOCKET_TO_ME_MAX_CONNECTIONS_PER_ADDRESS",
    metavar: "N",
    description: `Connections served at once from one IP address; more from it are refused; 0 for no limit (default ${
      Option.match(fallback, { onNone: () => "none", onSome: String })
    }, env SOCKET_TO_ME_MAX_CONNECTIONS_PER_ADDRESS)`,
    parse: parseWhole,
    expected: "a whole number (0 for no limit)"
  }).pipe(
    Flag.map((given) =>
      Option.match(given, { onNone: () => fallback, onSome: (n) => n === 0 ? Option.none<number>() : Option.some(n) })
    )
  )

const file = (name: string, env: string, description: string) =>
  fromText({
    name,
    env,
    metavar: "FILE",
    description: `${description} (env ${env})`,
    parse: (text) => Option.some(text).pipe(Option.filter((path) => path.trim() !== "")),
    expected: "a file"
  })

/**
 * A combination of flags that does not make sense (`--tls-key` without
 * `--tls-cert`, `--port` with `--unix`), said on one line.
 *
 * @since 0.1.0
 * @category errors
 */
export class FlagConflict extends Data.TaggedError("FlagConflict")<{ readonly message: string }> {}

/**
 * How and where a server listens, beyond `--host` and `--port`: a Unix
 * socket (`--unix`, `--unix-mode`), TLS (`--tls-cert`, `--tls-key`,
 * `--tls-ca`, `--tls-require-client-cert`, `--tls-handshake-deadline`),
 * and the PROXY protocol (`--proxy-protocol`). Every server command takes
 * them (`listenOn` reads them).
 *
 * @since 0.1.0
 * @category flags
 */
export const listener = {
  unix: fromText({
    name: "unix",
    env: "SOCKET_TO_ME_UNIX",
    metavar: "PATH",
    description:
      "Listen on this Unix domain socket instead of TCP; a socket file left by a crashed server is replaced, never a live server's; removed on exit (env SOCKET_TO_ME_UNIX)",
    parse: (text) => Option.some(text).pipe(Option.filter((path) => path.trim() !== "")),
    expected: "a path"
  }),
  unixMode: fromText({
    name: "unix-mode",
    env: "SOCKET_TO_ME_UNIX_MODE",
    metavar: "MODE",
    description:
      "Permissions of the --unix socket file, in octal, e.g. 660 (owner and group may connect) (default: from the umask, env SOCKET_TO_ME_UNIX_MODE)",
    parse: (text) => /^0?[0-7]{3}$/.test(text.trim()) ? Option.some(parseInt(text.trim(), 8)) : Option.none(),
    expected: "an octal mode such as 660 or 0600"
  }),
  tlsCert: file("tls-cert", "SOCKET_TO_ME_TLS_CERT", "Serve TLS with this PEM certificate (and its chain); needs --tls-key"),
  tlsKey: file("tls-key", "SOCKET_TO_ME_TLS_KEY", "The PEM private key of --tls-cert (not encrypted)"),
  tlsCa: file(
    "tls-ca",
    "SOCKET_TO_ME_TLS_CA",
    "Ask TLS clients for a certificate, which must be signed by a CA in this PEM file"
  ),
  tlsRequireClientCert: Flag.Boolean("tls-require-client-cert").pipe(
    Flag.withDescription("Refuse TLS clients without a certificate signed by --tls-ca"),
    Flag.withDefault(false)
  ),
  tlsHandshakeDeadline: fromText({
    name: "tls-handshake-deadline",
    env: "SOCKET_TO_ME_TLS_HANDSHAKE_DEADLINE",
    metavar: "DURATION",
    description: `A TLS handshake must be done within this time, or the connection is closed (e.g. 5s; default ${
      Duration.format(Duration.fromInputUnsafe(CoreConfig.handshakeDeadline))
    }, env SOCKET_TO_ME_TLS_HANDSHAKE_DEADLINE)`,
    parse: (text) => Option.filter(parseDuration(text), (duration) => !Duration.isZero(duration)),
    expected: "a duration such as 5s"
  }),
  proxyProtocol: Flag.Boolean("proxy-protocol").pipe(
    Flag.withDescription(
      "Expect a PROXY protocol header (v1 or v2, as HAProxy's send-proxy sends) first on every connection, and take the client's address from it; only behind a proxy that alone can reach this server"
    ),
    Flag.withDefault(false)
  )
}

/**
 * Values of the `listener` flags.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerSettings {
  readonly unix: Option.Option<string>
  readonly unixMode: Option.Option<number>
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
  readonly tlsCa: Option.Option<string>
  readonly tlsRequireClientCert: boolean
  readonly tlsHandshakeDeadline: Option.Option<Duration.Duration>
  readonly proxyProtocol: boolean
}

/**
 * Where and how a server listens: the part of `Runner.ServeOptions` the
 * listener flags decide.
 *
 * @since 0.1.0
 * @category models
 */
export type Listen = Pick<Runner.ServeOptions, "host" | "port" | "unix" | "unixMode" | "tls" | "proxyProtocol">

const conflict = (message: string) => Effect.fail(new FlagConflict({ message }))

/**
 * What `--host`, `--port` and the `listener` flags say together, with the
 * server's default port; fails on a combination that does not make sense,
 * rather than ignore a flag: `--port` or `--unix-mode` with or without
 * `--unix`, TLS files without `--tls-cert` and `--tls-key`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const listenOn = (
  host: string,
  port: Option.Option<number>,
  defaultPort: number,
  settings: ListenerSettings
): Effect.Effect<Listen, FlagConflict> =>
  Effect.gen(function*() {
    const unix = Option.getOrUndefined(settings.unix)
    if (unix !== undefined && Option.isSome(port)) return yield* conflict("--port and --unix cannot be used together")
    if (unix === undefined && Option.isSome(settings.unixMode)) return yield* conflict("--unix-mode needs --unix")
    const cert = Option.getOrUndefined(settings.tlsCert)
    const key = Option.getOrUndefined(settings.tlsKey)
    if ((cert === undefined) !== (key === undefined)) return yield* conflict("--tls-cert and --tls-key go together")
    if (cert === undefined || key === undefined) {
      if (Option.isSome(settings.tlsCa)) return yield* conflict("--tls-ca needs --tls-cert and --tls-key")
      if (settings.tlsRequireClientCert) return yield* conflict("--tls-require-client-cert needs --tls-cert and --tls-key")
      if (Option.isSome(settings.tlsHandshakeDeadline)) return yield* conflict("--tls-handshake-deadline needs --tls-cert and --tls-key")
    }
    if (settings.tlsRequireClientCert && Option.isNone(settings.tlsCa)) {
      return yield* conflict("--tls-require-client-cert needs --tls-ca, the CA that signs the client certificates")
    }
    const tls: NodeTls.ServerOptions | undefined = cert === undefined || key === undefined ? undefined : {
      cert,
      key,
      ca: Option.getOrUndefined(settings.tlsCa),
      requireClientCert: settings.tlsRequireClientCert,
      handshakeDeadline: Option.getOrUndefined(settings.tlsHandshakeDeadline)
    }
    return {
      host,
      port: Option.getOrElse(port, () => defaultPort),
      unix,
      unixMode: Option.getOrUndefined(settings.unixMode),
      tls,
      proxyProtocol: settings.proxyProtocol
    }
  })

/**
 * How a client reaches its server, beyond `--host` and `--port`: a Unix
 * socket (`--unix`), TLS (`--tls`, trusting the system's CAs or
 * `--tls-ca`'s, checking the name `--tls-servername` or the host; with a
 * certificate of its own, `--tls-cert` and `--tls-key`). Every client
 * command takes them (`dialTo` reads them).
 *
 * @since 0.1.0
 * @category flags
 */
export const dialer = {
  unix: fromText({
    name: "unix",
    env: "SOCKET_TO_ME_UNIX",
    metavar: "PATH",
    description: "Connect to this Unix domain socket instead of TCP (env SOCKET_TO_ME_UNIX)",
    parse: (text) => Option.some(text).pipe(Option.filter((path) => path.trim() !== "")),
    expected: "a path"
  }),
  tls: Flag.Boolean("tls").pipe(
    Flag.withDescription("Connect with TLS, checking the server's certificate"),
    Flag.withDefault(false)
  ),
  tlsCa: file("tls-ca", "SOCKET_TO_ME_TLS_CA", "With --tls, trust the CAs in this PEM file instead of the system's"),
  tlsServername: fromText({
    name: "tls-servername",
    env: "SOCKET_TO_ME_TLS_SERVERNAME",
    metavar: "NAME",
    description:
      "With --tls, the name the server's certificate must hold, also sent as SNI (default: the host; env SOCKET_TO_ME_TLS_SERVERNAME)",
    parse: (text) => Option.some(text.trim()).pipe(Option.filter((name) => name !== "")),
    expected: "a host name"
  }),
  tlsCert: file("tls-cert", "SOCKET_TO_ME_TLS_CERT", "With --tls, a client certificate (PEM) for a server that asks for one"),
  tlsKey: file("tls-key", "SOCKET_TO_ME_TLS_KEY", "The PEM private key of --tls-cert")
}

/**
 * Values of the `dialer` flags.
 *
 * @since 0.1.0
 * @category models
 */
export interface DialerSettings {
  readonly unix: Option.Option<string>
  readonly tls: boolean
  readonly tlsCa: Option.Option<string>
  readonly tlsServername: Option.Option<string>
  readonly tlsCert: Option.Option<string>
  readonly tlsKey: Option.Option<string>
}

/**
 * A way to reach a server: the socket to dial, and the address errors name.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dial {
  readonly dial: Effect.Effect<Socket.Socket, ConnectionError.ConnectionError, Scope.Scope>
  readonly address: string
}

/**
 * What `--host`, `--port` and the `dialer` flags say together, with the
 * server's default port; the TLS files are loaded and checked once, here.
 * Fails on a combination that does not make sense (`--port` with
 * `--unix`, a TLS flag without `--tls`) and on TLS files that cannot be
 * used, each on one line.
 *
 * @since 0.1.0
 * @category parsing
 */
export const dialTo = (
  host: string,
  port: Option.Option<number>,
  defaultPort: number,
  settings: DialerSettings
): Effect.Effect<Dial, FlagConflict | NodeTls.TlsConfigError> =>
  Effect.gen(function*() {
    const unix = Option.getOrUndefined(settings.unix)
    if (unix !== undefined && Option.isSome(port)) return yield* conflict("--port and --unix cannot be used together")
    if (!settings.tls) {
      for (const [name, value] of [["--tls-ca", settings.tlsCa], ["--tls-servername", settings.tlsServername], ["--tls-cert", settings.tlsCert], ["--tls-key", settings.tlsKey]] as const) {
        if (Option.isSome(value)) return yield* conflict(`${name} needs --tls`)
      }
    }
    const tls = settings.tls
      ? yield* NodeTls.client({
        ca: Option.getOrUndefined(settings.tlsCa),
        servername: Option.getOrUndefined(settings.tlsServername),
        cert: Option.getOrUndefined(settings.tlsCert),
        key: Option.getOrUndefined(settings.tlsKey)
      })
      : undefined
    const endpoint: NodeTransport.Address = unix === undefined
      ? { host, port: Option.getOrElse(port, () => defaultPort) }
      : { path: unix }
    return {
      dial: NodeTransport.dial(endpoint, { tls }),
      address: NodeTransport.isUnix(endpoint) ? endpoint.path : SocketAddresses.format(endpoint.host, endpoint.port)
    }
  })
