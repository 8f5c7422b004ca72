/**
 * Socket To Me on Node: TCP listener and dialer, metrics endpoint, the runner.
 *
 * Every module is exported as a namespace, as Effect does:
 * `import { ... } from "@socket-to-me/node"`; each is also reachable as
 * `@socket-to-me/node/<Module>`.
 *
 * @since 0.1.0
 */

/**
 * An effect `Socket` over an accepted Node `net.Socket`, read in flowing mode.
 *
 * @since 0.1.0
 */
export * as FlowingSocket from "./FlowingSocket.ts"

/**
 * `--metrics-port`: the process's effect `Metric`s served in the Prometheus text format at `GET /metrics`, with effect's own Prometheus exporter.
 *
 * @since 0.1.0
 */
export * as MetricsHttp from "./MetricsHttp.ts"

/**
 * Node's errors as core's typed reasons: the one place that reads the `code` of a Node error (`ECONNRESET`, `EADDRINUSE`, ...) and knows what each code means.
 *
 * @since 0.1.0
 */
export * as NodeErrors from "./NodeErrors.ts"

/**
 * TLS for the Node transport: a listener's certificate and key (and the CA its clients' certificates are checked against), a client's trust, and the two sides of the handshake, over the same flowing socket plain TCP uses.
 *
 * @since 0.1.0
 */
export * as NodeTls from "./NodeTls.ts"

/**
 * Real TCP for the apps: a `SocketServer` bound with Node's `net`, which also reports each connection's addresses, and a dialer for clients.
 *
 * @since 0.1.0
 */
export * as NodeTransport from "./NodeTransport.ts"

/**
 * Running a server on Node: bind a TCP listener, serve a handler on it with the default supervision, limits and drain, print `<name> listening on HOST:PORT` on stdout, and stop on a signal (the first SIGINT or SIGTERM drains, a second forces). The `socket-to-me` CLI runs every app's server through exactly this module.
 *
 * @since 0.1.0
 */
export * as Runner from "./Runner.ts"

/**
 * Signal-driven shutdown for the CLI: the first SIGINT or SIGTERM interrupts the main fiber, which closes a server's scope and so drains it; a second one forces the stop (the drain stops waiting and interrupts what remains); a third exits at once. A server stopped this way exits 0 (stopping is its normal end); a client command stopped this way exits 130, since it did not finish its job.
 *
 * @since 0.1.0
 */
export * as Shutdown from "./Shutdown.ts"
