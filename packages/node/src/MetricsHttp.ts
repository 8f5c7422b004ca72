/**
 * `--metrics-port`: the process's effect `Metric`s served in the Prometheus
 * text format at `GET /metrics`, with effect's own Prometheus exporter.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as SocketAddresses from "@socket-to-me/core/SocketAddresses"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { createServer } from "node:http"
import * as NodeErrors from "./NodeErrors.ts"
import type * as NodeTransport from "./NodeTransport.ts"

/**
 * Serves `/metrics` on `endpoint` for the life of the scope and prints
 * `metrics listening on HOST:PORT`.
 *
 * @since 0.1.0
 * @category running
 */
export const serve = (endpoint: NodeTransport.Endpoint) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      HttpRouter.serve(PrometheusMetrics.layerHttp(), { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, { host: endpoint.host, port: endpoint.port }))
      )
    ).pipe(
      Effect.mapError((error) =>
        NodeErrors.serverError(error.cause, SocketAddresses.format(endpoint.host, endpoint.port))
      )
    )
    const server = Context.get(context, HttpServer.HttpServer)
    yield* Console.log(`metrics listening on ${SocketAddresses.formatSocketAddress(server.address)}`)
  })
