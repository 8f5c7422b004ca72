/**
 * Supervised TCP connections on Effect: the framework core. Imports `effect` only.
 *
 * Every module is exported as a namespace, as Effect does:
 * `import { ... } from "@socket-to-me/core"`; each is also reachable as
 * `@socket-to-me/core/<Module>`.
 *
 * @since 0.1.0
 */

/**
 * The error family of the accept stage: why a listener could not take connections it was offered, and how often that happened since it last said so.
 *
 * @since 0.1.0
 */
export * as AcceptError from "./AcceptError.ts"

/**
 * Actors: one fiber that owns a state and handles the messages of a bounded mailbox one at a time, so the state needs no lock and every change to it is ordered.
 *
 * @since 0.1.0
 */
export * as Actor from "./Actor.ts"

/**
 * Broadcast: one message to many subscribers, each with its own bounded queue and its own slow-consumer policy.
 *
 * @since 0.1.0
 */
export * as Broadcast from "./Broadcast.ts"

/**
 * The client side: connect (scoped, retried on a Schedule) and talk to a server with the same byte streams and codecs the server uses.
 *
 * @since 0.1.0
 */
export * as Client from "./Client.ts"

/**
 * Every limit the framework enforces, with its default and the reason for it.
 *
 * @since 0.1.0
 */
export * as Config from "./Config.ts"

/**
 * The life of one accepted connection: open the socket in a scope of its own, run the app's handler between its input and output, and end with exactly one typed exit reason, logged with the connection id and reported.
 *
 * @since 0.1.0
 */
export * as Connection from "./Connection.ts"

/**
 * The error family of one connection: every way a connection can fail, as one tagged `ConnectionError` whose `reason` says which.
 *
 * @since 0.1.0
 */
export * as ConnectionError from "./ConnectionError.ts"

/**
 * A socket seen as two byte streams: an input `Stream` and a write side that can be half-closed. Both the server's connections and the client use it.
 *
 * @since 0.1.0
 */
export * as Duplex from "./Duplex.ts"

/**
 * The frame stage's contract: a codec owns both directions of one wire framing, bytes to frames (decode) and frames to bytes (encode).
 *
 * @since 0.1.0
 */
export * as FrameCodec from "./FrameCodec.ts"

/**
 * Framed handlers: an app written over frames instead of bytes, with the frame deadline that stops slowloris peers.
 *
 * @since 0.1.0
 */
export * as Framing from "./Framing.ts"

/**
 * A single-waiter hand-off: one fiber waits for a result that someone else (another fiber, a socket's event listener, a timer) hands over, and is resumed at once, in the giver's turn.
 *
 * @since 0.1.0
 */
export * as Handoff from "./Handoff.ts"

/**
 * The idle timeout of many connections, kept by one fiber: a server watches each of its connections here instead of giving each one a watchdog fiber of its own (a sleeping fiber, its timer and its continuations are most of what an idle connection would otherwise cost).
 *
 * @since 0.1.0
 */
export * as IdleSweeper from "./IdleSweeper.ts"

/**
 * The length-prefixed codec: each frame is a u32 big-endian payload length followed by that many payload bytes, for binary protocols.
 *
 * @since 0.1.0
 */
export * as LengthPrefixedCodec from "./LengthPrefixedCodec.ts"

/**
 * The line codec: frames are UTF-8 text lines ended by LF, with CRLF accepted, each at most `maxLineBytes` long.
 *
 * @since 0.1.0
 */
export * as LineCodec from "./LineCodec.ts"

/**
 * The framework's metrics, as effect `Metric`s. Every update carries the `server` attribute of the server it belongs to (see `Server.Options.name`), so several servers in one process (the demo) are told apart.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.ts"

/**
 * The write stage of one connection: the bounded outbound queue between the app's fiber, which offers the app's output, and the writer, which runs `run` and writes it to the socket, followed by how the output ended (done, or the app's failure). This module is the only one that writes a connection's output: `Connection` offers and runs the writer, `Duplex` moves the bytes.
 *
 * @since 0.1.0
 */
export * as Outbound from "./Outbound.ts"

/**
 * A server: accepts connections from any `SocketServer` (Node TCP in production, the testkit's memory network in tests) and runs each one as a supervised fiber.
 *
 * @since 0.1.0
 */
export * as Server from "./Server.ts"

/**
 * The error family of a server as a whole: what can stop it from listening.
 *
 * @since 0.1.0
 */
export * as ServerError from "./ServerError.ts"

/**
 * The local and remote address of an accepted socket, as the transport reports them.
 *
 * @since 0.1.0
 */
export * as SocketAddresses from "./SocketAddresses.ts"

/**
 * The transport contract: what core needs from a socket beyond effect's `Socket`, declared by the transport that made the socket. Core never looks at a socket's shape or its platform's error codes; it reads this.
 *
 * @since 0.1.0
 */
export * as Transport from "./Transport.ts"
