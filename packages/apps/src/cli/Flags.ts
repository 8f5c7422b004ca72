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
import * as Option from "effect/Option"
import * as Flag from "effect/cli/Flag"

/**
 * Host to listen on or connect to; loopback by default so nothing is exposed
 * beyond this machine unless asked.
 *
 * @since 0.1.0
 * @category flags
 */
export const host = Flag.String("host").pipe(
  Flag.withDescription("Host or IP address (env SOCKET_TO_ME_HOST)"),
  Flag.withFallbackConfig(Config.String("SOCKET_TO_ME_HOST")),
  Flag.withDefault("127.0.0.1")
)

const portIn = (port: number) => port >= 0 && port <= 65535
const portError = (port: number) => `port must be between 0 and 65535, got ${port}`

/**
 * TCP port, 0 to 65535 (0 picks a free port when listening).
 *
 * @since 0.1.0
 * @category flags
 */
export const port = (defaultPort: number) =>
  Flag.Int("port").pipe(
    Flag.withDescription(
      `TCP port, 0-65535; 0 picks a free one when listening (default ${defaultPort}, env SOCKET_TO_ME_PORT)`
    ),
    Flag.filter(portIn, portError),
    Flag.withFallbackConfig(Config.Int("SOCKET_TO_ME_PORT")),
    Flag.withDefault(defaultPort)
  )

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

const duration = (name: string, env: string, fallback: Duration.Input, description: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(`${description} (e.g. 500ms, 30s, 5m; default ${Duration.format(Duration.fromInputUnsafe(fallback))}, env ${env})`),
    Flag.withFallbackConfig(Config.String(env)),
    Flag.withDefault(""),
    Flag.filterMap(
      (text) => text === "" ? Option.some(Duration.fromInputUnsafe(fallback)) : parseDuration(text),
      (text) => `expected a duration such as 500ms, 30s or 5m, got "${text}"`
    )
  )

/**
 * The robustness flags every server command takes; `server` adds the frame
 * deadline for the servers whose protocol has frames.
 *
 * @since 0.1.0
 * @category flags
 */
export const connections = {
  maxConnections: Flag.Int("max-connections").pipe(
    Flag.withDescription(
      `Connections served at once; more are refused (default ${CoreConfig.maxConnections}, env SOCKET_TO_ME_MAX_CONNECTIONS)`
    ),
    Flag.filter((n) => n >= 1, (n) => `--max-connections must be at least 1, got ${n}`),
    Flag.withFallbackConfig(Config.Int("SOCKET_TO_ME_MAX_CONNECTIONS")),
    Flag.withDefault(CoreConfig.maxConnections)
  ),
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
  metricsPort: Flag.Int("metrics-port").pipe(
    Flag.withDescription("Serve Prometheus metrics over HTTP on this port (env SOCKET_TO_ME_METRICS_PORT)"),
    Flag.filter(portIn, portError),
    Flag.withFallbackConfig(Config.Int("SOCKET_TO_ME_METRICS_PORT")),
    Flag.optional
  )
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
