/**
 * Flags shared by every app's commands, with their defaults and environment
 * variable fallbacks (`SOCKET_TO_ME_HOST`, `SOCKET_TO_ME_PORT`).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
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

/**
 * TCP port, 0 to 65535 (0 picks a free port when listening).
 *
 * @since 0.1.0
 * @category flags
 */
export const port = (defaultPort: number) =>
  Flag.Int("port").pipe(
    Flag.withDescription(`TCP port, 0-65535; 0 picks a free one when listening (default ${defaultPort}, env SOCKET_TO_ME_PORT)`),
    Flag.filter((port) => port >= 0 && port <= 65535, (port) => `port must be between 0 and 65535, got ${port}`),
    Flag.withFallbackConfig(Config.Int("SOCKET_TO_ME_PORT")),
    Flag.withDefault(defaultPort)
  )
