/**
 * The framework's metrics, as effect `Metric`s. Every update carries the
 * `server` attribute of the server it belongs to (see `Server.Options.name`),
 * so several servers in one process (the demo) are told apart.
 *
 * Stage: all of them; read by the Prometheus exporter of the CLI
 * (`--metrics-port`). Names follow Prometheus conventions: `_total` for
 * counters; bytes in bytes.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"

/**
 * Connections admitted and running now.
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsActive = Metric.gauge("socket_to_me_connections_active", {
  description: "Connections admitted and running now"
})

/**
 * The connection limit.
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsLimit = Metric.gauge("socket_to_me_connections_limit", {
  description: "Connections served at once; more are refused"
})

/**
 * Connections accepted from the listener (admitted or refused).
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsAccepted = Metric.counter("socket_to_me_connections_accepted_total", {
  description: "Connections accepted from the listener, admitted or refused",
  incremental: true
})

/**
 * Accept failures, with attribute `reason` (the `AcceptError` reason's tag,
 * e.g. `DescriptorsExhausted`): each is a connection the listener could not
 * take (out of file descriptors: closed unserved) or an accept that failed.
 *
 * @since 0.1.0
 * @category metrics
 */
export const acceptErrors = Metric.counter("socket_to_me_accept_errors_total", {
  description: "Accept failures, by reason: connections the listener could not take",
  incremental: true
})

/**
 * Connections ended, with attribute `reason` (the exit reason's tag).
 *
 * @since 0.1.0
 * @category metrics
 */
export const connectionsClosed = Metric.counter("socket_to_me_connections_closed_total", {
  description: "Connections ended, by exit reason",
  incremental: true
})

/**
 * Bytes read from peers.
 *
 * @since 0.1.0
 * @category metrics
 */
export const bytesIn = Metric.counter("socket_to_me_bytes_in_total", {
  description: "Bytes read from peers",
  incremental: true
})

/**
 * Bytes written to peers.
 *
 * @since 0.1.0
 * @category metrics
 */
export const bytesOut = Metric.counter("socket_to_me_bytes_out_total", {
  description: "Bytes written to peers",
  incremental: true
})

/**
 * Frames decoded from peers (framed apps).
 *
 * @since 0.1.0
 * @category metrics
 */
export const framesIn = Metric.counter("socket_to_me_frames_in_total", {
  description: "Frames decoded from peers",
  incremental: true
})

/**
 * Frames encoded for peers (framed apps).
 *
 * @since 0.1.0
 * @category metrics
 */
export const framesOut = Metric.counter("socket_to_me_frames_out_total", {
  description: "Frames encoded for peers",
  incremental: true
})

/**
 * Connections whose handler failed (typed failure or defect).
 *
 * @since 0.1.0
 * @category metrics
 */
export const handlerFailures = Metric.counter("socket_to_me_handler_failures_total", {
  description: "Connections whose handler failed with an error or a defect",
  incremental: true
})

/**
 * Adds `amount` to a counter from synchronous code on a hot path, with the
 * context (registry and attributes) captured when the connection started.
 *
 * @since 0.1.0
 * @category updating
 */
export const addUnsafe = (
  counter: Metric.Counter<number>,
  amount: number,
  context: Context.Context<never>
): void => counter.updateUnsafe(amount, context)
