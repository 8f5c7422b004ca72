/**
 * `--otlp-endpoint URL` (env `SOCKET_TO_ME_OTLP_ENDPOINT`), taken by every
 * server command: the spans of its connections and their requests (see
 * `Connection.runner`) are exported to an OpenTelemetry collector over
 * OTLP/HTTP (JSON), with effect's OTLP tracer, as the service
 * `socket-to-me-<app>`. Without the flag, spans stay with effect's own
 * tracer and are not exported.
 *
 * The URL is the collector's base, as `OTEL_EXPORTER_OTLP_ENDPOINT` is:
 * spans are posted to `URL/v1/traces` (`http://127.0.0.1:4318` posts to
 * `http://127.0.0.1:4318/v1/traces`), in batches every few seconds and once
 * more when the server stops, after its drain.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as OtlpExporter from "effect/observability/OtlpExporter"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as Flags from "./Flags.ts"

const parseEndpoint = (text: string): Option.Option<string> => {
  const trimmed = text.trim()
  if (!URL.canParse(trimmed)) return Option.none()
  const url = new URL(trimmed)
  return url.protocol === "http:" || url.protocol === "https:" ? Option.some(trimmed) : Option.none()
}

/**
 * `--otlp-endpoint URL`: export spans to the OTLP/HTTP collector at `URL`.
 *
 * @since 0.1.0
 * @category flags
 */
export const otlpEndpoint = Flags.fromText({
  name: "otlp-endpoint",
  env: "SOCKET_TO_ME_OTLP_ENDPOINT",
  metavar: "URL",
  description:
    "Export traces (a span per connection and per request) to this OTLP/HTTP collector, e.g. http://127.0.0.1:4318; spans go to URL/v1/traces (default off, env SOCKET_TO_ME_OTLP_ENDPOINT)",
  parse: parseEndpoint,
  expected: "an http:// or https:// URL"
})

/**
 * Where the spans of `endpoint` (a collector's base URL) are posted.
 *
 * @since 0.1.0
 * @category parsing
 */
export const tracesUrl = (endpoint: string): string => `${endpoint.replace(/\/+$/, "")}/v1/traces`

/**
 * The tracer that exports to `endpoint` as the service `socket-to-me-<app>`,
 * with its HTTP client (fetch) and JSON encoding.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (app: string, endpoint: string): Layer.Layer<OtlpExporter.Flusher> =>
  OtlpTracer.layer({
    url: tracesUrl(endpoint),
    resource: { serviceName: `socket-to-me-${app}`, serviceVersion: "0.1.0" }
  }).pipe(
    Layer.provide([OtlpSerialization.layerJson, FetchHttpClient.layer])
  )

/**
 * Runs `effect` (a server command) with its spans exported to `endpoint`,
 * if given. The exporter outlives the server: spans ended by its drain are
 * sent when it stops.
 *
 * @since 0.1.0
 * @category running
 */
export const exportTo = (app: string, endpoint: Option.Option<string>) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Option.isNone(endpoint) ? effect : Effect.provide(effect, layer(app, endpoint.value))
