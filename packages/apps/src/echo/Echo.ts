/**
 * The echo app (RFC 862): every byte a client sends comes back, in order,
 * whatever its size, streamed (never held whole in memory).
 *
 * Stage: app. The handler is the identity on the byte stream; backpressure
 * comes for free: when the client stops reading, the server's writes wait,
 * so it stops pulling input, so it stops reading the socket.
 *
 * @since 0.1.0
 */
import * as Client from "@socket-to-me/core/Client"
import type * as Connection from "@socket-to-me/core/Connection"
import type * as ConnectionError from "@socket-to-me/core/ConnectionError"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"

/**
 * Default TCP port of the echo server (RFC 862 uses 7; 7001 needs no privileges).
 *
 * @since 0.1.0
 * @category defaults
 */
export const defaultPort = 7001

/**
 * The echo handler: output is the input.
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler: Connection.Handler = (input) => input

/**
 * Connects with `makeSocket`, sends `payload`, half-closes, and streams back
 * everything the server echoes until it closes.
 *
 * @since 0.1.0
 * @category client
 */
export const send = <E, R, RS>(
  makeSocket: Effect.Effect<Socket.Socket, ConnectionError.ConnectionError, RS>,
  address: string,
  payload: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E | ConnectionError.ConnectionError | Client.ConnectError, R | Exclude<RS, Scope.Scope>> =>
  // The connection's scope is the stream's: it closes when the stream ends.
  Stream.unwrap(Effect.map(Client.connect(makeSocket, { address }), (duplex) => Client.exchange(duplex, payload)))
