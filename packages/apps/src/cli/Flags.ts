/**
 * Flags shared by every app's commands, with their defaults and environment
 * variable fallbacks (`SOCKET_TO_ME_HOST`, `SOCKET_TO_ME_PORT`, ...).
 * Defaults come from core's `Config` module, where each is explained.
 *
 * @since 0.1.0
 */
import * as CoreConfig from "@socket-to-me/core/Config"
import type * as NodeTransport from "@socket-to-me/node/NodeTransport"
import type * as Runner from "@socket-to-me/node/Runner"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as CliError from "effect/cli/CliError"
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
 * The TCP port a server listens on, 0 to 65535 (0 picks a free one).
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
  }).pipe(withDefault(defaultPort))

/**
 * The TCP port of the server a client connects to, 1 to 65535.
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
  }).pipe(withDefault(defaultPort))

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
 * The runner's options for the server `name` on `endpoint` with these
 * settings: every server command serves through `Runner.start` with them.
 * The frame deadline is not among them: it belongs to the handler's
 * framing (see `Framing.Options`).
 *
 * @since 0.1.0
 * @category models
 */
export const serveOptions = (
  name: string,
  endpoint: NodeTransport.Endpoint,
  settings: ConnectionSettings
): Runner.ServeOptions => ({
  name,
  host: endpoint.host,
  port: endpoint.port,
  maxConnections: settings.maxConnections,
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
